#!/bin/sh
# make demo's main job, after the tools and examples are built: inspect the
# packages, push them to a registry on loopback (Debian's docker-registry),
# pull them back into the local store, and run them in the kernel from the
# store while generating activity.
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
OUT=${OUT:-build/examples}
PORT=${DEMO_PORT:-5123}
REG=127.0.0.1:$PORT
WORK=build/demo
rm -rf "$WORK"
mkdir -p "$WORK/registry"
export ECC_STORE_DIR="$PWD/$WORK/store"   # keep the demo's store apart

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ] && [ "${TERM:-}" != dumb ]; then
	step() { printf '\n\033[1m=== %s\033[0m\n' "$*"; }
else
	step() { printf '\n=== %s\n' "$*"; }
fi

for ex in $(ls "$OUT" | grep -v '^wasm-'); do
	step "ecc inspect $OUT/$ex"
	"$BIN/ecc" inspect "$OUT/$ex/package.json"
done

step "start a registry on $REG (docker-registry)"
cat > "$WORK/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $PWD/$WORK/registry
http:
  addr: $REG
YML
docker-registry serve "$WORK/registry.yml" > "$WORK/registry.log" 2>&1 &
REGPID=$!
trap 'kill $REGPID 2>/dev/null || true' EXIT INT TERM
for i in $(seq 50); do
	if curl -fsS "http://$REG/v2/" >/dev/null 2>&1; then break; fi
	sleep 0.1
done

for ex in execsnoop opensnoop runqlat; do
	step "ecc push $OUT/$ex $REG/demo/$ex:latest"
	"$BIN/ecc" push "$OUT/$ex" "$REG/demo/$ex:latest"
done

step "ecli pull $REG/demo/execsnoop:latest (into the local store, digests verified)"
"$BIN/ecli" pull -o "$WORK/pulled" "$REG/demo/execsnoop:latest"
"$BIN/ecc" images

step "ecli run $REG/demo/execsnoop:latest (3 s, from the store, while running a few commands)"
( sleep 1; for i in 1 2 3; do /bin/echo "demo-$i" >/dev/null; ls / >/dev/null; done ) &
"$BIN/ecli" run -d 3s "$REG/demo/execsnoop:latest"

step "ecli run -j $REG/demo/opensnoop:latest --failed (2 s, pulled on first use)"
( sleep 1; cat /nonexistent/demo-file 2>/dev/null || true ) &
"$BIN/ecli" run -j -d 2s "$REG/demo/opensnoop:latest" --failed

step "ecli run $REG/demo/runqlat:latest (2 s)"
( for i in $(seq 20); do sleep 0.01; done ) &
"$BIN/ecli" run -d 2s "$REG/demo/runqlat:latest"

step "ecli run $OUT/wasm-counter/counter.wasm (2.5 s: a Wasm program reading and resetting a BPF map)"
"$BIN/ecli" run -d 2500ms "$OUT/wasm-counter/counter.wasm"

step "the local store after the demo"
"$BIN/ecc" images
