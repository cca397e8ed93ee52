#!/bin/sh
# Rebuilds the test objects (NAME.bpf.o) from NAME.bpf.c, with NAME.h as the
# export header when there is one, using this repository's ecc build; that
# needs clang, libbpf's headers and the kernel's BTF. The tests read the
# committed objects and need none of them. Run by go generate
# ./packager/extract (or make testdata), which then rewrites the golden files.
set -e
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/ecc" ../../../cmd/ecc
for src in *.bpf.c; do
	name=${src%%.*}
	hdr=
	[ -f "$name.h" ] && hdr=$name.h
	# No build cache; no path of this machine in the object's BTF.
	"$tmp/ecc" build --no-cache --cache-dir "$tmp/cache" --cflags "-ffile-prefix-map=$PWD/=" -o "$tmp/$name" "$src" $hdr
	cp "$tmp/$name/$name.bpf.o" .
done
