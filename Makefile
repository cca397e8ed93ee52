# ecc: make demo runs the main job end to end; make test passes the tests.
# Both install what is missing first (scripts/deps.sh, apt-get as root).

export PATH := $(CURDIR)/.tools/bin:/usr/local/go/bin:$(PATH)
GO      ?= go
BIN     := bin
EXAMPLES := $(sort $(notdir $(wildcard examples/*)))
# Where example packages are built (kept out of the source tree).
OUT     ?= build/examples
GOFLAGS_BUILD := -trimpath -buildvcs=true

.PHONY: all deps test-deps vm-deps build ecli-arm64 image examples test testdata demo bench fuzz clean install uninstall

all: build

deps:
	@scripts/deps.sh

# ecli is linked statically: ecc test boots it as the init of its VMs
# (it finds the ecli next to ecc), and an arm64 one is cross-compiled for
# arm64 kernels (bin/ecli-arm64: pure Go, no cross toolchain).
build: deps
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/ecc ./cmd/ecc
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/ecli ./cmd/ecli
	CGO_ENABLED=0 GOARCH=arm64 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/ecli-arm64 ./cmd/ecli

# make install [PREFIX=/usr/local] [DESTDIR=]: both binaries into
# PREFIX/bin (on sudo's secure_path, so 'sudo ecli' finds it), their man
# pages (made by the binaries from their command lines) and bash, zsh and
# fish completions. It builds only what is out of date, without apt-get or
# network, so 'make build && sudo make install' builds as the user.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
INSTALL ?= install
TOOLS   := ecc ecli
GO_SOURCES := go.mod go.sum $(shell find cmd compiler registry runtime source packager decode internal templates \
	-type f ! -name '*_test.go' ! -path '*/testdata/*' 2>/dev/null)

# ecli is static (see build).
$(BIN)/%: $(GO_SOURCES)
	$(if $(filter ecli,$*),CGO_ENABLED=0 )$(GO) build $(GOFLAGS_BUILD) -o $@ ./cmd/$*

# A static arm64 ecli, cross-compiled (make build makes it too): ecc test
# boots it as the init of arm64 kernels (it looks for ecli-arm64 next to
# ecc, then on PATH). make install installs it when it is built.
ecli-arm64: $(BIN)/ecli-arm64
$(BIN)/ecli-arm64: $(GO_SOURCES)
	CGO_ENABLED=0 GOARCH=arm64 $(GO) build $(GOFLAGS_BUILD) -o $@ ./cmd/ecli

# make image REGISTRY=host/repo: the ecli container image (docs/image.md),
# built without Docker and pushed as REGISTRY:VERSION, VERSION being ecc's
# (git describe's when Go stamped none; credentials as for ecc push).
# REGISTRY=oci:DIR writes a layout instead. Its ecli are static (as make
# build's) and stripped (-s -w: half the layer; Go's stack traces and
# version stamps stay), for linux/amd64 and linux/arm64, in $(IMAGE_BIN).
# Dated by the last commit (SOURCE_DATE_EPOCH), so it is reproducible.
REGISTRY ?=
IMAGE_BIN ?= build/image
image:
	@if [ -z "$(REGISTRY)" ]; then \
		echo "usage: make image REGISTRY=host/repo (e.g. ghcr.io/org/ecli, 127.0.0.1:5000/ecli or oci:DIR)" >&2; exit 2; fi
	@$(MAKE) --no-print-directory deps $(BIN)/ecc
	CGO_ENABLED=0 GOARCH=amd64 $(GO) build $(GOFLAGS_BUILD) -ldflags='-s -w' -o $(IMAGE_BIN)/ecli ./cmd/ecli
	CGO_ENABLED=0 GOARCH=arm64 $(GO) build $(GOFLAGS_BUILD) -ldflags='-s -w' -o $(IMAGE_BIN)/ecli-arm64 ./cmd/ecli
	@set -e; v=$$($(BIN)/ecc --version | sed -n '1s/^ecc //p' | tr + -); \
	if [ "$$v" = devel ]; then v=$$(git describe --tags --always --dirty 2>/dev/null || echo devel); fi; \
	SOURCE_DATE_EPOCH=$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || echo 0)}; export SOURCE_DATE_EPOCH; \
	echo "$(BIN)/ecc ecli-image $(REGISTRY):$$v"; \
	$(BIN)/ecc ecli-image --ecli $(IMAGE_BIN)/ecli --ecli-arm64 $(IMAGE_BIN)/ecli-arm64 $(REGISTRY):$$v

install: $(addprefix $(BIN)/,$(TOOLS))
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	@set -e; for t in $(TOOLS); do \
		echo "install $$t → $(DESTDIR)$(BINDIR)/$$t, man page, completions"; \
		$(INSTALL) -m 0755 $(BIN)/$$t $(DESTDIR)$(BINDIR)/$$t; \
		$(BIN)/$$t man > $(DESTDIR)$(MANDIR)/man1/$$t.1; \
		$(BIN)/$$t completion bash > $(DESTDIR)$(BASHCOMPDIR)/$$t; \
		$(BIN)/$$t completion zsh > $(DESTDIR)$(ZSHCOMPDIR)/_$$t; \
		$(BIN)/$$t completion fish > $(DESTDIR)$(FISHCOMPDIR)/$$t.fish; \
		chmod 0644 $(DESTDIR)$(MANDIR)/man1/$$t.1 $(DESTDIR)$(BASHCOMPDIR)/$$t \
			$(DESTDIR)$(ZSHCOMPDIR)/_$$t $(DESTDIR)$(FISHCOMPDIR)/$$t.fish; \
	done
	@if [ -f $(BIN)/ecli-arm64 ]; then \
		echo "install ecli-arm64 → $(DESTDIR)$(BINDIR)/ecli-arm64"; \
		$(INSTALL) -m 0755 $(BIN)/ecli-arm64 $(DESTDIR)$(BINDIR)/ecli-arm64; \
	fi

uninstall:
	@rm -f $(DESTDIR)$(BINDIR)/ecli-arm64
	@for t in $(TOOLS); do \
		rm -f $(DESTDIR)$(BINDIR)/$$t $(DESTDIR)$(MANDIR)/man1/$$t.1 $(DESTDIR)$(BASHCOMPDIR)/$$t \
			$(DESTDIR)$(ZSHCOMPDIR)/_$$t $(DESTDIR)$(FISHCOMPDIR)/$$t.fish; \
	done

# Compile every example; each folder holds NAME.bpf.c and maybe NAME.h.
examples: build
	@set -e; for ex in $(EXAMPLES); do \
		if [ -f examples/$$ex/main.c ] || [ -f examples/$$ex/main.go ]; then \
			$(BIN)/ecc build -o $(OUT)/$$ex --wasm examples/$$ex; continue; fi; \
		hdr=$$(ls examples/$$ex/$$ex.h 2>/dev/null || true); \
		$(BIN)/ecc build -o $(OUT)/$$ex examples/$$ex/$$ex.bpf.c $$hdr; \
	done

# Tests also use Debian's docker-registry and skopeo, the oras CLI, the
# cosign CLI (signature interop; its first build takes minutes of CPU, so it
# is started first, in the background, and its test waits for it; later
# builds come from Go's build cache), jq (the publish workflow's Sign step),
# and gcc with <sys/sdt.h> (systemtap-sdt-dev) to build USDT targets.
ORAS_VERSION := v1.3.6
COSIGN_VERSION := v2.6.1
test-deps: deps
	@scripts/cosign.sh $(CURDIR)/.tools $(COSIGN_VERSION) "$$(command -v $(GO))"
	@$(MAKE) --no-print-directory vm-deps
	@EXTRA_PKGS="docker-registry skopeo jq gcc systemtap-sdt-dev" scripts/deps.sh
	@[ -x .tools/bin/oras ] || GOBIN=$(CURDIR)/.tools/bin $(GO) install oras.land/oras/cmd/oras@$(ORAS_VERSION)

# ecc test's VM tests boot Debian's amd64 and arm64 cloud kernels
# (downloaded into .tools/kernels, not installed) in qemu-system-x86_64 and
# qemu-system-aarch64; busybox-static serves COMMANDs.
vm-deps:
	@EXTRA_PKGS="qemu-system-x86 qemu-system-arm busybox-static" scripts/deps.sh
	@scripts/kernels.sh .tools/kernels

test: test-deps
	ECC_TEST_KERNEL_DIR=$(CURDIR)/.tools/kernels $(GO) test -count=1 -timeout 18m ./...

# Rebuild the BPF objects committed under packager/extract/testdata from
# their sources (with clang; the tests that read them need none) and the
# golden metadata extracted from them.
testdata: deps
	$(GO) generate ./packager/extract

# The main job: build every example, inspect the packages, push them to a
# registry on loopback, pull them back into the local store, and run them
# in the kernel from the store while generating activity.
demo: examples
	@EXTRA_PKGS="docker-registry" scripts/deps.sh
	@BIN=$(BIN) OUT=$(OUT) scripts/demo.sh

# The peers: bpftrace, BCC (which needs kernel headers: on kernels without
# a headers package, Debian's are linked in as /lib/modules/$(uname -r)/build),
# bpftool (gen min_core_btf, for -only btfgen; -btfgen-kernels names the
# kernels, e.g. BENCHFLAGS="-only btfgen -btfgen-kernels
# /sys/kernel/btf/vmlinux,/boot/vmlinuz-X"), and a C compiler for the load
# generator.
bench: build
	@EXTRA_PKGS="bpftrace bpfcc-tools python3-bpfcc linux-headers-amd64 gcc bpftool" scripts/deps.sh
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
	$(GO) test ./packager -run '^$$' -fuzz '^FuzzDecodeManifest$$' -fuzztime $(FUZZTIME)
	$(GO) test ./packager -run '^$$' -fuzz '^FuzzDecodeIndex$$' -fuzztime $(FUZZTIME)
	$(GO) test ./packager -run '^$$' -fuzz '^FuzzReadBTFArchive$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/kimage -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./registry -run '^$$' -fuzz '^FuzzExtractTar$$' -fuzztime $(FUZZTIME)
	$(GO) test ./registry/sign -run '^$$' -fuzz '^FuzzParsePolicy$$' -fuzztime $(FUZZTIME)
	$(GO) test ./registry/sign -run '^$$' -fuzz '^FuzzParseKeys$$' -fuzztime $(FUZZTIME)
	$(GO) test ./packager/attest -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./packager/doccomment -run '^$$' -fuzz '^FuzzScan$$' -fuzztime $(FUZZTIME)
	$(GO) test ./runtime/tracepipe -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/bpfobj -run '^$$' -fuzz '^FuzzPromoteWeakMaps$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./runtime/attach/usdt -run '^$$' -fuzz '^FuzzParseArgs$$' -fuzztime $(FUZZTIME)
	$(GO) test ./runtime/attach/usdt -run '^$$' -fuzz '^FuzzParseNotes$$' -fuzztime $(FUZZTIME)
	$(GO) test ./runtime/attach/usdt -run '^$$' -fuzz '^FuzzNewFile$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s

clean:
	rm -rf $(BIN) build
