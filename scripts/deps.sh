#!/bin/sh
# Installs what ecc's build, tests and demo need, only when it is missing:
# Go (>= the version in go.mod), the newest clang Debian offers (clang-19, else
# clang), its llvm (llvm-strip), libbpf-dev, bpftool. Runs apt-get as root.
set -eu
cd "$(dirname "$0")/.."

need_pkgs=""
want() { need_pkgs="$need_pkgs $1"; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
apt_has() { apt-cache show "$1" >/dev/null 2>&1; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
updated=""
apt_update() {
	if [ -z "$updated" ]; then
		$SUDO apt-get update -qq
		updated=1
	fi
}

# clang: the newest Debian has, clang-19 first.
clang_pkg=""
for v in 21 20 19 18 17 16 15; do
	if have_pkg "clang-$v"; then clang_pkg="clang-$v"; break; fi
done
if [ -z "$clang_pkg" ]; then
	if ! apt_has clang-19; then apt_update; fi
	for v in 21 20 19 18 17 16 15; do
		if apt_has "clang-$v"; then clang_pkg="clang-$v"; break; fi
	done
	[ -n "$clang_pkg" ] || clang_pkg=clang
	want "$clang_pkg"
fi
llvm_pkg="llvm"
lld_pkg="lld"
rt_pkg="libclang-rt-dev-wasm32"
case "$clang_pkg" in clang-*)
	v=${clang_pkg#clang-}
	llvm_pkg="llvm-$v"; lld_pkg="lld-$v"; rt_pkg="libclang-rt-$v-dev-wasm32" ;;
esac
have_pkg "$llvm_pkg" || want "$llvm_pkg"
# Wasm guests (ecc build --wasm): lld, wasi-libc and the wasm32 builtins.
for p in "$lld_pkg" "$rt_pkg" wasi-libc; do
	have_pkg "$p" || { apt_has "$p" || apt_update; apt_has "$p" && want "$p"; } || true
done
for p in libbpf-dev bpftool make curl ca-certificates unzip git ${EXTRA_PKGS:-}; do
	have_pkg "$p" || want "$p"
done

if [ -n "$need_pkgs" ]; then
	echo "deps: installing$need_pkgs" >&2
	apt_update
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need_pkgs >/dev/null
fi

# Go: go.mod's version or newer. Debian's golang is too old; fetch the
# official toolchain from the Go module proxy when none is found.
gover=$(sed -n 's/^go \([0-9.]*\)$/\1/p' go.mod)
go_ok() {
	"$1" version >/dev/null 2>&1 || return 1
	have=$("$1" env GOVERSION | sed 's/^go//')
	[ "$(printf '%s\n%s\n' "$gover" "$have" | sort -V | head -n1)" = "$gover" ]
}
GO=""
for g in "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go; do
	if [ -n "$g" ] && go_ok "$g"; then GO="$g"; break; fi
done
if [ -z "$GO" ]; then
	arch=$(dpkg --print-architecture)
	minor=$(echo "$gover" | cut -d. -f1,2)
	ver=$(curl -fsSL "${GOPROXY_URL:-https://proxy.golang.org}/golang.org/toolchain/@v/list" | sed -n "s/^v0.0.1-go\(${minor}\(\.[0-9]*\)\?\)\.linux-${arch}$/\1/p" | sort -V | tail -n1)
	[ -n "$ver" ] || { echo "deps: no Go $gover toolchain for linux-$arch on the module proxy; install Go $gover into /usr/local/go" >&2; exit 1; }
	echo "deps: installing Go $ver into /usr/local/go" >&2
	tmp=$(mktemp -d)
	curl -fsSL -o "$tmp/go.zip" "${GOPROXY_URL:-https://proxy.golang.org}/golang.org/toolchain/@v/v0.0.1-go$ver.linux-$arch.zip"
	unzip -q "$tmp/go.zip" -d "$tmp"
	$SUDO rm -rf /usr/local/go
	$SUDO mv "$tmp/golang.org/toolchain@v0.0.1-go$ver.linux-$arch" /usr/local/go
	$SUDO chmod -R a+rX /usr/local/go
	chmod +x /usr/local/go/bin/* /usr/local/go/pkg/tool/*/* 2>/dev/null || true
	rm -rf "$tmp"
	GO=/usr/local/go/bin/go
fi
echo "deps: ok ($clang_pkg, $("$GO" env GOVERSION))" >&2
