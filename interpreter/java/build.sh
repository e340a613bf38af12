#!/usr/bin/env bash
# Builds the code interpreter's Java kernel from this folder's sources into <out> (default
# dist/java-kernel): soulbox-java-kernel.jar plus the jars it needs (org.dflib.jjava:jjava-jupyter
# 1.0-a6 and its dependencies, from the Maven registry). Needs Debian's maven and
# openjdk-17-jdk-headless (scripts/test-host-setup.sh installs them). Skips the build when the
# sources have not changed since the last one (a stamp of their hash).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/../../dist/java-kernel}
stamp=$( (cd "$here" && cat pom.xml build.sh && find src -type f | sort | xargs cat) | sha256sum | cut -c1-16)
if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ]; then exit 0; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$here/pom.xml" "$here/src" "$work/"
(cd "$work" && mvn -q -B -Dmaven.repo.local="${SOULBOX_M2:-$HOME/.m2/repository}" package dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory=target/lib) >"$work/mvn.log" 2>&1 ||
  { tail -30 "$work/mvn.log" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
cp "$work/target/soulbox-java-kernel.jar" "$work"/target/lib/*.jar "$out/"
echo "$stamp" >"$out/.stamp"
