#!/bin/sh
# Downloads (does not install) Debian's cloud kernel package into DIR
# (default .tools/kernels) for ecc test and its VM tests, only when no
# linux-image-*-cloud-amd64 package is there yet. The meta package
# linux-image-cloud-amd64 names the real one as its dependency.
set -eu
cd "$(dirname "$0")/.."
dir=${1:-.tools/kernels}
meta=${KERNEL_META:-linux-image-cloud-amd64}
for f in "$dir"/linux-image-*-cloud-amd64_*.deb; do
	[ -f "$f" ] && exit 0
done
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
apt-cache show "$meta" >/dev/null 2>&1 || $SUDO apt-get update -qq
pkg=$(apt-cache depends "$meta" | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1)
[ -n "$pkg" ] || { echo "kernels: $meta names no linux-image package; download one into $dir" >&2; exit 1; }
mkdir -p "$dir"
echo "kernels: downloading $pkg into $dir" >&2
# apt-get download writes into the current folder; as root it warns that
# it cannot drop privileges to _apt, which is harmless here.
(cd "$dir" && apt-get download -qq "$pkg" 2>&1 | grep -v 'unsandboxed as root' >&2 || true)
ls "$dir"/"$pkg"_*.deb >/dev/null
