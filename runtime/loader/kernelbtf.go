package loader

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/runtime/attach"
)

// SysfsBTF is where a kernel built with BTF exposes it.
const SysfsBTF = "/sys/kernel/btf/vmlinux"

// NoKernelBTFError is a kernel without BTF of its own, running an object
// that needs BTF for CO-RE, from a package that carries none for this
// kernel's release.
type NoKernelBTFError struct {
	// Release is this kernel's `uname -r`.
	Release string
	// Have are the releases the package has BTF for.
	Have []string
}

func (e *NoKernelBTFError) Error() string {
	msg := fmt.Sprintf("this kernel (%s) has no BTF (%s) for CO-RE relocations, and the package carries ", e.Release, SysfsBTF)
	if len(e.Have) == 0 {
		return msg + "none"
	}
	return msg + "BTF for " + strings.Join(e.Have, ", ") + " only"
}

// KernelBTFError is a program that attaches through the kernel's own BTF
// on a kernel without it: tp_btf, fentry, fexit, fmod_ret, lsm, iter and
// struct_ops programs name their target by a type ID of the kernel's BTF,
// which the kernel checks against its own. A package's BTF (ecc build
// --btfgen) cannot stand in for it: it serves CO-RE relocations only. It
// matches attach.ErrNotSupported.
type KernelBTFError struct {
	// Kind is the program's kind, as its section starts: "tp_btf",
	// "fentry", "lsm.s", ...
	Kind string
	// Target is what it attaches to (sched_process_exit).
	Target string
}

func (e *KernelBTFError) Error() string {
	return fmt.Sprintf("%s programs attach through the kernel's own BTF (%s), which this kernel lacks; "+
		"a package's BTF (ecc build --btfgen) serves CO-RE relocations only and cannot stand in for it", e.Kind, SysfsBTF)
}

func (e *KernelBTFError) Unwrap() error { return attach.ErrNotSupported }

// needsKernelBTF reports whether a program attaches through a type ID of
// the kernel's own BTF (cilium/ebpf looks its target up there at load).
func needsKernelBTF(ps *ebpf.ProgramSpec) bool {
	if ps.AttachTarget != nil { // a BPF program's BTF (freplace)
		return false
	}
	switch ps.Type {
	case ebpf.Tracing:
		switch ps.AttachType {
		case ebpf.AttachTraceFEntry, ebpf.AttachTraceFExit, ebpf.AttachModifyReturn, ebpf.AttachTraceRawTp, ebpf.AttachTraceIter:
			return true
		}
	case ebpf.LSM, ebpf.StructOps:
		return true
	}
	return false
}

// kernelBTFError is the *KernelBTFError of a program that needs the
// kernel's BTF.
func kernelBTFError(ps *ebpf.ProgramSpec) *KernelBTFError {
	kind, _, _ := strings.Cut(strings.TrimPrefix(ps.SectionName, "."), "/")
	return &KernelBTFError{Kind: kind, Target: ps.AttachTo}
}

// hasKernelBTF reports whether the kernel has BTF of its own (and o does
// not say to act as if it had none).
func hasKernelBTF(o *Options) bool {
	if o.NoKernelBTF {
		return false
	}
	_, err := os.Stat(SysfsBTF)
	return err == nil
}

// CO-RE sources: what Collection.CORE says the programs were relocated
// against.
const (
	// COREKernel: the kernel's own BTF (or nothing needed relocating).
	COREKernel = ""
	// COREFile: the --btf file (Options.KernelBTF).
	COREFile = "file"
	// COREPackage: the package's BTF for this kernel's release.
	COREPackage = "package"
)

// kernelTypes chooses the BTF the programs are relocated against: the
// --btf file when given; none (the kernel's own) when the kernel has BTF
// or nothing needs relocating; else the package's BTF whose release is
// exactly this kernel's. noKernelBTF makes a kernel with BTF count as one
// without.
func kernelTypes(spec *ebpf.CollectionSpec, o *Options) (*btf.Spec, string, error) {
	if o.KernelBTF != "" {
		kt, err := btf.LoadSpec(o.KernelBTF)
		if err != nil {
			return nil, "", fmt.Errorf("--btf %s: %w; pass the running kernel's BTF (raw or an ELF with .BTF)", o.KernelBTF, err)
		}
		return kt, COREFile, nil
	}
	if hasKernelBTF(o) {
		return nil, COREKernel, nil
	}
	if PendingRelocations(spec) == 0 {
		return nil, COREKernel, nil
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return nil, "", fmt.Errorf("uname: %w", err)
	}
	release := unix.ByteSliceToString(u.Release[:])
	for _, b := range o.PackageBTF {
		if b.Release != release {
			continue
		}
		kt, err := btf.LoadSpecFromReader(bytes.NewReader(b.Data))
		if err != nil {
			return nil, "", fmt.Errorf("the package's BTF for %s: %w", release, err)
		}
		return kt, COREPackage + " " + release, nil
	}
	return nil, "", &NoKernelBTFError{Release: release, Have: packager.BTFReleases(o.PackageBTF)}
}
