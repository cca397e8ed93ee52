# ecc: make demo runs the main job end to end; make test passes the tests.
# Both install what is missing first (scripts/deps.sh, apt-get as root).

export PATH := $(CURDIR)/.tools/bin:/usr/local/go/bin:$(PATH)
GO      ?= go
BIN     := bin
EXAMPLES := $(sort $(notdir $(wildcard examples/*)))
# Where example packages are built (kept out of the source tree).
OUT     ?= build/examples
GOFLAGS_BUILD := -trimpath

.PHONY: all deps test-deps build examples test demo bench fuzz clean

all: build

deps:
	@scripts/deps.sh

build: deps
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/ecc ./cmd/ecc
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/ecli ./cmd/ecli

# Compile every example; each folder holds NAME.bpf.c and maybe NAME.h.
examples: build
	@set -e; for ex in $(EXAMPLES); do \
		hdr=$$(ls examples/$$ex/$$ex.h 2>/dev/null || true); \
		$(BIN)/ecc build -o $(OUT)/$$ex examples/$$ex/$$ex.bpf.c $$hdr; \
	done

# Tests also use Debian's docker-registry and skopeo, and the oras CLI.
ORAS_VERSION := v1.3.6
test-deps:
	@EXTRA_PKGS="docker-registry skopeo" scripts/deps.sh
	@[ -x .tools/bin/oras ] || GOBIN=$(CURDIR)/.tools/bin $(GO) install oras.land/oras/cmd/oras@$(ORAS_VERSION)

test: test-deps
	$(GO) test -count=1 -timeout 14m ./...

# Build every example, show what each package holds, then run two in the
# kernel while generating activity: exec events, then a latency histogram.
demo: examples
	@for ex in $(EXAMPLES); do \
		echo "=== $$ex"; $(BIN)/ecc inspect $(OUT)/$$ex/package.json; echo; \
	done
	@echo "=== ecli run execsnoop (3 s, while running a few commands)"
	@( sleep 1; for i in 1 2 3; do /bin/echo demo-$$i >/dev/null; ls / >/dev/null; done ) & \
		$(BIN)/ecli run -d 3s $(OUT)/execsnoop/package.json
	@echo; echo "=== ecli run opensnoop --failed (2 s, JSON)"
	@( sleep 1; cat /nonexistent/demo-file 2>/dev/null; true ) & \
		$(BIN)/ecli run -j -d 2s $(OUT)/opensnoop/package.json --failed
	@echo; echo "=== ecli run runqlat (2 s)"
	@( for i in $$(seq 20); do sleep 0.01; done ) & $(BIN)/ecli run -d 2s $(OUT)/runqlat/package.json

# The peers: bpftrace, BCC (which needs kernel headers: on kernels without
# a headers package, Debian's are linked in as /lib/modules/$(uname -r)/build),
# and a C compiler for the load generator.
bench: build
	@EXTRA_PKGS="bpftrace bpfcc-tools python3-bpfcc linux-headers-amd64 gcc" scripts/deps.sh
	@k=/lib/modules/$$(uname -r); if [ ! -e $$k/build ]; then \
		h=$$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n1); \
		if [ -n "$$h" ]; then mkdir -p $$k && ln -sfn $$h $$k/build && ln -sfn $${h%-amd64}-common $$k/source && \
			echo "bench: linked $$h as $$k/build for BCC" >&2; fi; fi
	$(GO) run ./bench $(BENCHFLAGS)

# Short fuzzing of every parser (longer: make fuzz FUZZTIME=10m).
FUZZTIME ?= 30s
fuzz: deps
	$(GO) test ./packager -run '^$$' -fuzz '^FuzzUnmarshal$$' -fuzztime $(FUZZTIME)
	$(GO) test ./packager -run '^$$' -fuzz '^FuzzUnmarshalMeta$$' -fuzztime $(FUZZTIME)
	$(GO) test ./compiler/doccomment -run '^$$' -fuzz '^FuzzScan$$' -fuzztime $(FUZZTIME)

clean:
	rm -rf $(BIN) build
