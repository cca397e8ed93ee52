package compiler

import (
	"fmt"
	"runtime"
	"strings"
)

// Arch is a target architecture for BPF builds.
type Arch struct {
	// Name is the kernel's name (uname -m), used in file names and metadata.
	Name string
	// Target is the __TARGET_ARCH_ suffix libbpf's bpf_tracing.h expects.
	Target string
	// OCI is the OCI platform architecture.
	OCI string
}

var arches = []Arch{
	{"x86_64", "x86", "amd64"},
	{"arm64", "arm64", "arm64"},
	{"riscv64", "riscv", "riscv64"},
	{"s390x", "s390", "s390x"},
	{"ppc64le", "powerpc", "ppc64le"},
	{"loongarch64", "loongarch", "loong64"},
	{"arm", "arm", "arm"},
}

var archAliases = map[string]string{
	"amd64": "x86_64", "x86": "x86_64", "x86-64": "x86_64",
	"aarch64": "arm64",
	"riscv":   "riscv64",
	"s390":    "s390x",
	"powerpc": "ppc64le", "ppc64el": "ppc64le",
	"loong64": "loongarch64", "loongarch": "loongarch64",
	"armhf": "arm", "armv7": "arm",
}

// ParseArch returns the architecture called name (kernel, Go/OCI or Debian spelling).
func ParseArch(name string) (Arch, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if a, ok := archAliases[n]; ok {
		n = a
	}
	for _, a := range arches {
		if a.Name == n {
			return a, nil
		}
	}
	var names []string
	for _, a := range arches {
		names = append(names, a.Name)
	}
	return Arch{}, fmt.Errorf("unknown --arch %q; use one of %s (or amd64/aarch64 spellings)", name, strings.Join(names, ", "))
}

// HostArch is the architecture ecc runs on.
func HostArch() Arch {
	a, err := ParseArch(runtime.GOARCH)
	if err != nil {
		return Arch{Name: runtime.GOARCH, Target: runtime.GOARCH, OCI: runtime.GOARCH}
	}
	return a
}

// ParseArches parses a comma-separated list ("x86_64,arm64"), without duplicates.
// An empty list means the host's architecture.
func ParseArches(list []string) ([]Arch, error) {
	var out []Arch
	seen := map[string]bool{}
	for _, item := range list {
		for _, s := range strings.Split(item, ",") {
			if strings.TrimSpace(s) == "" {
				continue
			}
			a, err := ParseArch(s)
			if err != nil {
				return nil, err
			}
			if !seen[a.Name] {
				seen[a.Name] = true
				out = append(out, a)
			}
		}
	}
	if len(out) == 0 {
		out = []Arch{HostArch()}
	}
	return out, nil
}
