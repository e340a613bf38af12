# shellcheck shell=bash
# The code-interpreter template's image (template code-interpreter-v1, E2B's default for
# `@e2b/code-interpreter`): sandbox-base plus Debian's Jupyter/Python data stack, R with IRkernel, a JDK with
# SoulBox's JShell kernel (interpreter/java), Deno, Bun and
# workerd (the binaries their npm packages ship, from node_modules like the kit's node), and SoulBox's
# interpreter server (dist/code-interpreter.mjs, its Python helper beside it) as the start command.
# Sourced by images.sh; the image is built from the cached sandbox-base tar, so Debian is
# bootstrapped once for both.

# shellcheck disable=SC2034 # images.sh's image_ref names it
INTERP_IMAGE=localhost/soulbox/code-interpreter:latest
# Debian bookworm's versions (the README's "Code interpreter" section lists them).
INTERP_PACKAGES=(python3-ipykernel python3-numpy python3-pandas python3-matplotlib r-base-core r-cran-irkernel
  openjdk-17-jdk-headless)
INTERP_DENO=node_modules/@deno/linux-x64-glibc/deno
INTERP_BUN=node_modules/@oven/bun-linux-x64/bin/bun
INTERP_WORKERD=node_modules/@cloudflare/workerd-linux-64/bin/workerd
INTERP_DIST=(dist/code-interpreter.mjs dist/soulbox_kernel.py)
# The Java kernel's jars (interpreter/java/build.sh builds them from the project's sources).
INTERP_JAVA_KERNEL=dist/java-kernel
# The edge runtime's serve mode on PATH (it runs the bundle's `edge serve`).
INTERP_EDGE_CLI=interpreter/bin/soulbox-edge

# interp_inputs: what the image is made of (its cache key hashes this).
interp_inputs() {
  local f
  "$REPO/interpreter/java/build.sh" "$REPO/$INTERP_JAVA_KERNEL" || { echo "the Java kernel did not build" >&2; return 1; }
  for f in "$INTERP_DENO" "$INTERP_BUN" "$INTERP_WORKERD" "${INTERP_DIST[@]}"; do
    [ -f "$REPO/$f" ] || { echo "the code-interpreter image needs $f (npm ci; npm run build)" >&2; return 1; }
  done
  echo "${INTERP_PACKAGES[*]} $DEBIAN_SUITE"
  sha256sum "$(image_tar sandbox-base)"
  (cd "$REPO" && sha256sum "$INTERP_DENO" "$INTERP_BUN" "$INTERP_WORKERD" "${INTERP_DIST[@]}" "$INTERP_JAVA_KERNEL/.stamp" "$INTERP_EDGE_CLI")
  (cd "$REPO" && ls "$INTERP_JAVA_KERNEL")
  declare -f oci_tar fill_interpreter
}

fill_interpreter() {
  # (exit, not return: oci_tar runs this in a subshell whose set -e an `||` switches off.)
  local root=$1 base work
  base=$(image_tar sandbox-base) || exit 1
  work=$(mktemp -d "$IMAGES/.interp-base.XXXXXX")
  if ! { tar -C "$work" -xf "$base" && umoci raw unpack --image "$work:latest" "$work/rootfs" >/dev/null &&
    cp -a "$work/rootfs/." "$root/"; }; then
    rm -rf "$work"
    exit 1
  fi
  rm -rf "$work"
  # apt inside the root: this machine's DNS, /proc and the usual character devices for apt and the
  # maintainer scripts (sandbox-base ships an empty /dev; oci_tar unmounts /proc).
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mount -t proc proc "$root/proc"
  mknod -m 0666 "$root/dev/null" c 1 3 && mknod -m 0666 "$root/dev/zero" c 1 5 &&
    mknod -m 0666 "$root/dev/random" c 1 8 && mknod -m 0666 "$root/dev/urandom" c 1 9
  { chroot "$root" apt-get update -qq && DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq \
    --no-install-recommends "${INTERP_PACKAGES[@]}"; } >"$IMAGES/.interpreter-apt.log" 2>&1 ||
    { umount "$root/proc"; tail -20 "$IMAGES/.interpreter-apt.log" >&2; exit 1; }
  { chroot "$root" python3 -c 'import ipykernel, matplotlib_inline, numpy, pandas, matplotlib' &&
    chroot "$root" R --slave -e 'library(IRkernel)' && chroot "$root" jshell --version >/dev/null; } || { umount "$root/proc"; exit 1; }
  umount "$root/proc"
  : >"$root/etc/resolv.conf"
  install -m 0755 "$REPO/$INTERP_DENO" "$root/usr/local/bin/deno"
  install -m 0755 "$REPO/$INTERP_BUN" "$root/usr/local/bin/bun"
  install -m 0755 "$REPO/$INTERP_WORKERD" "$root/usr/local/bin/workerd"
  install -m 0755 "$REPO/$INTERP_EDGE_CLI" "$root/usr/local/bin/soulbox-edge"
  install -d "$root/opt/soulbox/interpreter"
  install -m 0644 "${INTERP_DIST[@]/#/$REPO/}" "$root/opt/soulbox/interpreter/"
  install -d "$root/opt/soulbox/interpreter/java-kernel"
  install -m 0644 "$REPO/$INTERP_JAVA_KERNEL"/*.jar "$root/opt/soulbox/interpreter/java-kernel/"
  # matplotlib's font cache, built once here instead of in every sandbox's first plot.
  chroot "$root" su user -c 'python3 -c "import matplotlib.pyplot"' >/dev/null 2>&1 || true
  chroot "$root" apt-get clean
  rm -rf "$root/root/.java" # jshell's preferences from the check above
  # shellcheck disable=SC2115 # root is oci_tar's rootfs, never empty
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/*.log "$root"/tmp/* "$root"/dev/*
}

# interp_image_build <tar>: builds the image into <tar>; the start command is the server.
interp_image_build() {
  oci_tar latest "$1" fill_interpreter --config.workingdir /home/user \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --config.env LANG=C.UTF-8 \
    --config.cmd=/usr/local/bin/node --config.cmd=/opt/soulbox/interpreter/code-interpreter.mjs
}
