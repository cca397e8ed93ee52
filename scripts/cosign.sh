#!/bin/sh
# scripts/cosign.sh TOOLS VERSION GO: start building the cosign CLI (for the
# signature interop test) into TOOLS/bin/cosign in the background, unless it
# is there or being built. Its cold build is minutes of CPU (cosign links
# Kubernetes and cloud SDKs), so make test starts it first and the rest of
# test-deps, the compilation of the tests and the tests before it overlap
# with it; test/e2e's cosign test waits for TOOLS/cosign.building to go.
# Without optimisation (-N -l) it compiles in about 70% of the time; the
# tests need no speed from it. The log is TOOLS/cosign.log.
set -eu
tools=$1 version=$2 go=$3
bin=$tools/bin/cosign marker=$tools/cosign.building log=$tools/cosign.log
[ -x "$bin" ] && exit 0
if [ -f "$marker" ] && kill -0 "$(cat "$marker")" 2>/dev/null; then
	exit 0
fi
mkdir -p "$tools/bin" "$tools/cosign-build"
(
	if GOBIN="$tools/cosign-build" "$go" install -trimpath -gcflags=all='-N -l' -ldflags='-s -w' \
		"github.com/sigstore/cosign/v2/cmd/cosign@$version"; then
		mv "$tools/cosign-build/cosign" "$bin"
	fi
	rm -f "$marker"
) </dev/null >"$log" 2>&1 &
echo $! >"$marker"
echo "cosign: building $version in the background (log: $log)"
