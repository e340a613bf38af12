# shellcheck shell=bash
# The node's OCI images (no registry: debootstrap -> umoci -> OCI tar -> ctr import): pause,
# sandbox-base, envd, operator and busybox, cached under $IMAGES by the hash of their inputs,
# and imported into the node's containerd.

# shellcheck source=e2e/cluster/lib/interpreter-image.sh
source "${BASH_SOURCE[0]%/*}/interpreter-image.sh"

# The images the node imports: name -> reference. envd and operator carry the executor kit;
# busybox is a root with one static binary (no libc, no shell) that proves the kit runs anywhere.
ENVD_IMAGE=localhost/soulbox/envd:latest
OPERATOR_IMAGE=localhost/soulbox/operator:latest
BUSYBOX_IMAGE=localhost/soulbox/busybox:latest
IMAGE_NAMES=(pause sandbox-base envd operator busybox code-interpreter)
image_ref() {
  case $1 in
    pause) echo "$PAUSE_IMAGE" ;; sandbox-base) echo "$BASE_IMAGE" ;; envd) echo "$ENVD_IMAGE" ;;
    operator) echo "$OPERATOR_IMAGE" ;; busybox) echo "$BUSYBOX_IMAGE" ;; code-interpreter) echo "$INTERP_IMAGE" ;;
    *) die "unknown image '$1'" ;;
  esac
}

# oci_tar <tag> <output.tar> <fill-function> <umoci config args...>: an OCI layout with one
# image whose single layer is the root filesystem that <fill-function> writes into "$1".
oci_tar() {
  local tag=$1 out=$2 fill=$3; shift 3
  local work; work=$(mktemp -d "$IMAGES/.build.XXXXXX")
  (
    set -e
    trap 'umount -R "$work/bundle/rootfs/proc" "$work/bundle/rootfs/sys" 2>/dev/null || true' EXIT
    umoci init --layout "$work/oci"
    umoci new --image "$work/oci:$tag"
    umoci unpack --image "$work/oci:$tag" "$work/bundle" >/dev/null
    "$fill" "$work/bundle/rootfs"
    umoci repack --image "$work/oci:$tag" "$work/bundle"
    umoci config --image "$work/oci:$tag" "$@"
    umoci gc --layout "$work/oci"
    tar -C "$work/oci" -cf "$out.tmp" .
    mv "$out.tmp" "$out"
  ) || { rm -rf "$work" "$out.tmp"; die "building the image $tag failed"; }
  rm -rf "$work"
}

fill_pause() { install -m 0755 "$BIN/pause" "$1/pause"; }

fill_base() {
  local root=$1
  debootstrap --variant=minbase --include="$BASE_PACKAGES" "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR" >"$IMAGES/.debootstrap.log" 2>&1 ||
    { tail -20 "$IMAGES/.debootstrap.log" >&2; return 1; }
  chroot "$root" useradd --create-home --home-dir /home/user --shell /bin/bash --uid 1000 --user-group user
  printf 'user ALL=(ALL:ALL) NOPASSWD: ALL\n' > "$root/etc/sudoers.d/user"
  chmod 0440 "$root/etc/sudoers.d/user"
  sed -i 's/^UMASK.*/UMASK\t\t022/' "$root/etc/login.defs"
  printf 'umask 022\n' > "$root/etc/profile.d/umask.sh"
  grep -q '^umask 022' "$root/etc/bash.bashrc" || printf 'umask 022\n' >> "$root/etc/bash.bashrc"
  # Node 24 for JavaScript code (the binary only: agents' code runs `node`; npm is not needed).
  install -m 0755 "$(kit_node)" "$root/usr/local/bin/node"
  chroot "$root" /usr/local/bin/node --version >/dev/null
  chroot "$root" apt-get clean
  # shellcheck disable=SC2115 # root is oci_tar's rootfs, never empty (and this body is part of the image's hash: declare -f)
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/*.log "$root"/dev/* "$root"/tmp/* "$root"/run/*
}

# A root holding the kit at /opt/soulbox/kit, and the little else a process expects of one.
fill_kit_root() {
  local root=$1
  mkdir -p "$root/opt/soulbox" "$root/etc" "$root/soulbox" "$root/tmp"
  cp -a "$KIT_DIR" "$root/opt/soulbox/kit"
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\n' > "$root/etc/passwd"
  printf 'root:x:0:\n' > "$root/etc/group"
}
fill_envd() { fill_kit_root "$1" && install -m 0644 "$REPO/envd/image/entrypoint.mjs" "$1/opt/soulbox/entrypoint.mjs"; }
# The operator image serves the gateway too (the chart runs /opt/soulbox/gateway.mjs with the kit's
# node as the gateway Deployment's command), once dist/gateway.mjs exists, and the GPU device
# plugin (gpu-plugin.mjs beside the .proto it loads; the chart's gpu.devicePlugin DaemonSet), and
# the node agent (node-agent.mjs; the chart's nodeAgent DaemonSet).
fill_operator() {
  fill_kit_root "$1" && install -m 0644 "$REPO/dist/operator.mjs" "$1/opt/soulbox/operator.mjs" &&
    if [ -f "$REPO/dist/gateway.mjs" ]; then install -m 0644 "$REPO/dist/gateway.mjs" "$1/opt/soulbox/gateway.mjs"; fi &&
    if [ -f "$REPO/dist/gpu-plugin.mjs" ]; then
      install -m 0644 "$REPO/dist/gpu-plugin.mjs" "$REPO/dist/gpu-plugin.proto" "$1/opt/soulbox/"
    fi &&
    # The node agent (the chart's nodeAgent DaemonSet) needs the kit's native fs-xattr beside it.
    if [ -f "$REPO/dist/node-agent.mjs" ]; then
      install -m 0644 "$REPO/dist/node-agent.mjs" "$1/opt/soulbox/node-agent.mjs" &&
        ln -sfn kit/node_modules "$1/opt/soulbox/node_modules"
    fi
}

# A root with nothing but Debian's static busybox and /etc/passwd (no libc, no shell at /bin/sh): a template
# image as bare as they come, for the test that the executor kit runs anywhere.
fill_busybox() {
  local root=$1 work; work=$(mktemp -d)
  (cd "$work" && { apt-get download busybox-static >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1; apt-get download busybox-static >/dev/null; }; }) ||
    { rm -rf "$work"; echo "could not download Debian's busybox-static package" >&2; return 1; }
  dpkg-deb -x "$work"/busybox-static_*.deb "$work/x"
  install -D -m 0755 "$work/x/bin/busybox" "$root/bin/busybox"
  rm -rf "$work"
  mkdir -p "$root/tmp" "$root/etc" "$root/root" && chmod 1777 "$root/tmp"
  # The executor looks its user up (os.userInfo) and starts commands in its home: even this
  # root names root in /etc/passwd and has /root.
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
  printf 'root:x:0:\n' > "$root/etc/group"
}

# image_tar <name>: prints the cached OCI tar of the image, building it when its inputs changed
# (kit images: KIT_DIR from kit_dir). Prints nothing for the operator image until dist/operator.mjs exists.
image_tar() {
  local name=$1 hash tar kit_entry
  kit_entry=(--config.entrypoint=/opt/soulbox/kit/ld.so --config.entrypoint=--library-path
    --config.entrypoint=/opt/soulbox/kit/lib --config.entrypoint=/opt/soulbox/kit/node --config.user=0:0)
  # envd's Node.js flags: ENVD_NODE_FLAGS in api/envd.ts (api/envd.test.ts checks they agree).
  local envd_node_flags=(--max-semi-space-size=1)
  case $name in
    pause) hash=$({ sha256sum "$BIN/pause"; declare -f oci_tar fill_pause; } | sha256sum | cut -c1-16) ;;
    sandbox-base) hash=$({ echo "$DEBIAN_SUITE $DEBIAN_MIRROR $BASE_PACKAGES"; sha256sum "$(kit_node)"; declare -f oci_tar fill_base; } | sha256sum | cut -c1-16) ;;
    envd)
      KIT_DIR=${KIT_DIR:-$(kit_dir)}
      hash=$({ cat "$KIT_DIR/VERSION"; sha256sum "$REPO/envd/image/entrypoint.mjs"; echo "${envd_node_flags[*]}"
        declare -f oci_tar fill_kit_root fill_envd; } | sha256sum | cut -c1-16) ;;
    operator)
      if [ ! -f "$REPO/dist/operator.mjs" ]; then
        say "skipping the operator image: dist/operator.mjs does not exist (scripts/build.mjs has no operator entry yet)"
        return 0
      fi
      KIT_DIR=${KIT_DIR:-$(kit_dir)}
      [ -f "$REPO/dist/gateway.mjs" ] || say "the operator image has no gateway: dist/gateway.mjs does not exist (scripts/build.mjs has no gateway entry yet)"
      hash=$({ cat "$KIT_DIR/VERSION"; sha256sum "$REPO/dist/operator.mjs"; [ ! -f "$REPO/dist/gateway.mjs" ] || sha256sum "$REPO/dist/gateway.mjs"
        [ ! -f "$REPO/dist/gpu-plugin.mjs" ] || sha256sum "$REPO/dist/gpu-plugin.mjs" "$REPO/dist/gpu-plugin.proto"
        [ ! -f "$REPO/dist/node-agent.mjs" ] || sha256sum "$REPO/dist/node-agent.mjs"
        declare -f oci_tar fill_kit_root fill_operator; } | sha256sum | cut -c1-16) ;;
    busybox) hash=$({ echo "$DEBIAN_SUITE busybox-static"; declare -f oci_tar fill_busybox; } | sha256sum | cut -c1-16) ;;
    code-interpreter) hash=$(set -o pipefail; interp_inputs | sha256sum | cut -c1-16) || die "the code-interpreter image's inputs are missing" ;;
    *) die "unknown image '$name'" ;;
  esac
  tar="$IMAGES/$name-$hash.tar"
  if [ ! -f "$tar" ]; then
    mkdir -p "$IMAGES"
    local started=$SECONDS
    say "building image $name ($hash)"
    case $name in
      pause) oci_tar latest "$tar" fill_pause --config.entrypoint /pause --config.user 65535:65535 ;;
      sandbox-base) oci_tar latest "$tar" fill_base --config.cmd /bin/bash --config.workingdir /home/user \
        --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --config.env LANG=C.UTF-8 ;;
      envd) oci_tar latest "$tar" fill_envd "${kit_entry[@]}" "${envd_node_flags[@]/#/--config.entrypoint=}" \
        --config.entrypoint=/opt/soulbox/entrypoint.mjs \
        --config.cmd=--port --config.cmd=49983 --config.cmd=--executor-socket --config.cmd=/soulbox/run/executor.sock ;;
      operator) oci_tar latest "$tar" fill_operator "${kit_entry[@]}" --config.entrypoint=/opt/soulbox/operator.mjs ;;
      busybox) oci_tar latest "$tar" fill_busybox --config.cmd=/bin/busybox --config.cmd=sh ;;
      code-interpreter) interp_image_build "$tar" ;;
    esac
    find "$IMAGES" -maxdepth 1 -name "$name-*.tar" ! -name "$name-$hash.tar" -delete
    say "built image $name in $((SECONDS - started)) s"
  fi
  echo "$tar"
}

cmd_images() {
  node_prerequisites
  cmd_build_node
  KIT_DIR=$(kit_dir)
  local name
  for name in "${IMAGE_NAMES[@]}"; do image_tar "$name" >/dev/null; done
}

# Imports every image into containerd; one whose tag points at another manifest than the cached
# tar's (an older build) is imported again.
import_images() {
  local name ref tar want have out
  KIT_DIR=$(kit_dir)
  for name in "${IMAGE_NAMES[@]}"; do
    tar=$(image_tar "$name")
    [ -n "$tar" ] || continue
    ref=$(image_ref "$name")
    want=$(tar -xOf "$tar" ./index.json | grep -o -m1 '"digest":"sha256:[0-9a-f]*"' | cut -d'"' -f4)
    have=$(ctr_ images ls 2>/dev/null | awk -v r="$ref" '$1 == r {print $3}')
    [ -n "$want" ] && [ "$have" = "$want" ] && continue
    out=$(ctr_ images import --snapshotter overlayfs --base-name "${ref%:*}" "$tar" 2>&1) || die "importing $tar failed: $out"
    # (The list is read whole first: grep -q would close the pipe early, and pipefail make that a failure.)
    have=$(ctr_ images ls -q 2>/dev/null)
    grep -qx "$ref" <<<"$have" || die "importing $tar did not make the image $ref: $out"
  done
}
