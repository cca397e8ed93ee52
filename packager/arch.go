package packager

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
)

// arches pairs the architecture names of package metadata (meta.arch: the
// kernel's, as ecc build --arch writes them) with Go's and OCI's.
var arches = []struct{ kernel, oci string }{
	{"x86_64", "amd64"},
	{"arm64", "arm64"},
	{"riscv64", "riscv64"},
	{"s390x", "s390x"},
	{"ppc64le", "ppc64le"},
	{"loongarch64", "loong64"},
	{"arm", "arm"},
}

// ociArch maps a metadata architecture name (or "amd64", "aarch64") to
// the OCI and Go one.
func ociArch(name string) (string, bool) {
	switch name {
	case "amd64":
		return "amd64", true
	case "aarch64":
		return "arm64", true
	}
	for _, a := range arches {
		if a.kernel == name {
			return a.oci, true
		}
	}
	return "", false
}

// OCIArch maps a kernel architecture name to the OCI platform one (the
// host's for names it does not know).
func OCIArch(kernel string) string {
	if a, ok := ociArch(kernel); ok {
		return a
	}
	return runtime.GOARCH
}

// KernelArch maps an architecture name of any spelling (OCI's and Go's
// amd64, uname's aarch64, the metadata's x86_64) to the metadata's; a name
// it does not know is returned as it is.
func KernelArch(name string) string {
	if oci, ok := ociArch(name); ok {
		for _, a := range arches {
			if a.oci == oci {
				return a.kernel
			}
		}
	}
	return name
}

// HostArch is this machine's architecture as package metadata names it
// (x86_64, arm64, ...).
func HostArch() string {
	for _, a := range arches {
		if a.oci == runtime.GOARCH {
			return a.kernel
		}
	}
	return runtime.GOARCH
}

// ErrArch is matched by *ArchError.
var ErrArch = errors.New("package built for another architecture")

// ArchError is a package built for an architecture other than the
// machine's: its object reads kernel structures (pt_regs, syscall
// wrappers) with that architecture's layout.
type ArchError struct {
	// Package names the package (its obj_name without libbpf's "_bpf").
	Package string
	// Arch is the package's architecture (meta.arch); Host the machine's
	// (HostArch).
	Arch, Host string
}

func (e *ArchError) Error() string {
	return fmt.Sprintf("package %s was built for %s; this machine is %s", e.Package, e.Arch, e.Host)
}

func (e *ArchError) Is(target error) bool { return target == ErrArch }

// CheckArch returns an *ArchError when m was built for another
// architecture than this machine's. Metadata without arch (eunomia's
// packages) runs anywhere.
func CheckArch(m *Meta) error {
	if m.Arch == "" {
		return nil
	}
	if a, ok := ociArch(m.Arch); ok && a == runtime.GOARCH {
		return nil
	}
	return &ArchError{Package: strings.TrimSuffix(m.BpfSkel.ObjName, "_bpf"), Arch: m.Arch, Host: HostArch()}
}
