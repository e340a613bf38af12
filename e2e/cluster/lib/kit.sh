# shellcheck shell=bash
# The executor kit, assembled from the repository for the images (images.sh):
# /opt/soulbox/kit in the envd and operator images: Node 24 with its own glibc loader and
# libraries, the envd and executor bundles and the native modules they load, so that node runs
# in any Linux image as `<kit>/ld.so --library-path <kit>/lib <kit>/node <script>`.

# The repository's Node.js (npm installs Node 24 as a devDependency): the kit's and sandbox-base's.
kit_node() {
  local n; n=$(readlink -f "$REPO/node_modules/.bin/node" 2>/dev/null) || true
  { [ -n "$n" ] && [ -x "$n" ]; } || die "no Node.js at $REPO/node_modules/.bin/node: run npm ci first"
  "$n" --version | grep -q '^v24\.' || die "$n is Node.js $("$n" --version); the images need Node.js 24"
  echo "$n"
}

# dist/ (scripts/build.mjs, esbuild: about a second) is rebuilt when missing or older than a source.
ensure_dist() {
  local node=$1 d=$REPO/dist src=() s
  for s in envd/src operator/src gateway/src interpreter/src interpreter/python scripts/build.mjs; do [ -e "$REPO/$s" ] && src+=("$REPO/$s"); done
  # dist/gateway.mjs is expected once scripts/build.mjs has the gateway's entry.
  local gateway_ok=1
  grep -q 'gateway/src/main.ts' "$REPO/scripts/build.mjs" && [ ! -f "$d/gateway.mjs" ] && gateway_ok=0
  if [ -f "$d/envd.mjs" ] && [ -f "$d/executor.mjs" ] && [ "$gateway_ok" = 1 ] &&
    [ -z "$(find "${src[@]}" -newer "$d/envd.mjs" -print -quit)" ]; then return 0; fi
  say "dist/ is missing or older than its sources: running scripts/build.mjs (npm run build)"
  (cd "$REPO" && "$node" scripts/build.mjs) >&2 || die "scripts/build.mjs failed: fix the build (npm run build) and run again"
}

# The bundles' external (native) modules, as scripts/build.mjs lists them.
kit_externals() {
  sed -n 's/.*external: *\[\([^]]*\)\].*/\1/p' "$REPO/scripts/build.mjs" | tr -d "\"' " | tr ',' '\n' | sed '/^$/d' | sort -u
}

# kit_dir: prints the kit's directory ($IMAGES/kit-<VERSION>, VERSION = hash of its content),
# assembling it from the repository's node, dist/ and node_modules.
kit_dir() {
  local node; node=$(kit_node)
  ensure_dist "$node"
  mkdir -p "$IMAGES"
  local externals; externals=$(kit_externals)
  [ -n "$externals" ] || die "found no external modules in scripts/build.mjs (expected external: [...] on one line)"
  local tmp; tmp=$(mktemp -d "$IMAGES/.kit.XXXXXX")
  (
    set -e
    chmod 0755 "$tmp"
    mkdir -p "$tmp/lib" "$tmp/node_modules"
    install -m 0755 "$node" "$tmp/node"
    install -m 0644 "$REPO/dist/envd.mjs" "$REPO/dist/executor.mjs" "$tmp/"
    for m in $externals; do
      mod=$REPO/node_modules/$m
      [ -f "$mod/package.json" ] || { echo "the external module $m (scripts/build.mjs) is not in node_modules" >&2; exit 1; }
      mkdir -p "$tmp/node_modules/$m"
      # What loads at run time: package.json files, JavaScript (no tests) and build/Release/*.node.
      (cd "$mod" && find . \( -path ./node_modules -o -path ./src -o -path ./deps -o -path ./third_party -o -path ./scripts \
          -o -path ./prebuilds -o -path ./build/Release/obj.target -o -path ./build/Release/.deps \) -prune -o -type f \
          \( -name package.json -o \( -name '*.js' -o -name '*.cjs' -o -name '*.mjs' \) ! -name '*.test.js' -o -path './build/Release/*.node' \) \
          -print0 | xargs -0 cp --parents -t "$tmp/node_modules/$m")
    done
    # Every shared library node and the addons link (ldd), under their sonames, and the loader.
    ldd "$tmp/node" "$tmp"/node_modules/*/build/Release/*.node | awk '/not found/ {print "missing: " $1; bad=1} END {exit bad}' >&2
    ldd "$tmp/node" "$tmp"/node_modules/*/build/Release/*.node | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u |
      while read -r soname path; do cp -L "$path" "$tmp/lib/$soname"; done
    loader=$(ldd "$tmp/node" | awk '$1 ~ /^\/.*ld-linux/ {print $1}')
    [ -n "$loader" ] || { echo "ldd names no loader for $node" >&2; exit 1; }
    cp -L "$loader" "$tmp/ld.so" && chmod 0755 "$tmp/ld.so"
    # The kit loads its native modules with its own loader and libraries only.
    # shellcheck disable=SC2086 # one argument per module: the list splits on purpose (names have no blanks or globs)
    imports=$(printf 'await import("%s");' $externals)
    (cd "$tmp" && env -i ./ld.so --library-path ./lib ./node --input-type=module -e "$imports") ||
      { echo "the kit's node could not load $externals" >&2; exit 1; }
    (cd "$tmp" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16 > "$tmp/VERSION"
  ) || { rm -rf "$tmp"; die "assembling the executor kit failed"; }
  local version; version=$(cat "$tmp/VERSION")
  if [ -d "$IMAGES/kit-$version" ]; then rm -rf "$tmp"; else mv -T "$tmp" "$IMAGES/kit-$version" 2>/dev/null || rm -rf "$tmp"; fi
  find "$IMAGES" -maxdepth 1 -name 'kit-*' ! -name "kit-$version" -exec rm -rf {} +
  echo "$IMAGES/kit-$version"
}
