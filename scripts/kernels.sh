#!/bin/sh
# Downloads (does not install) Debian's cloud kernel packages into DIR
# (default .tools/kernels) for ecc test and its VM tests: one per
# architecture of KERNEL_ARCHS (default "amd64 arm64"), only when no
# linux-image-*-cloud-ARCH package is there yet. The meta package
# linux-image-cloud-ARCH names the real one as its dependency; another
# architecture than the host's is added to dpkg's foreign ones first (and
# the package lists updated) when it is not there.
set -eu
cd "$(dirname "$0")/.."
dir=${1:-.tools/kernels}
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
host=$(dpkg --print-architecture)
updated=""
update() {
	[ -n "$updated" ] || $SUDO apt-get update -qq
	updated=1
}
for arch in ${KERNEL_ARCHS:-amd64 arm64}; do
	have=""
	for f in "$dir"/linux-image-*-cloud-"$arch"_*.deb; do
		[ -f "$f" ] && have=1
	done
	[ -z "$have" ] || continue
	meta=linux-image-cloud-$arch
	if [ "$arch" != "$host" ]; then
		meta=$meta:$arch
		if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
			$SUDO dpkg --add-architecture "$arch"
			updated=""
			update
		fi
	fi
	apt-cache show "$meta" >/dev/null 2>&1 || update
	pkg=$(apt-cache depends "$meta" | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)
	[ -n "$pkg" ] || { echo "kernels: $meta names no linux-image package; download one into $dir" >&2; exit 1; }
	mkdir -p "$dir"
	echo "kernels: downloading $pkg into $dir" >&2
	# apt-get download writes into the current folder; as root it warns that
	# it cannot drop privileges to _apt, which is harmless here.
	(cd "$dir" && apt-get download -qq "$pkg" 2>&1 | grep -v 'unsandboxed as root' >&2 || true)
	ls "$dir"/"${pkg%:*}"_*.deb >/dev/null
done
