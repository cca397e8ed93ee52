package compiler

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/ecc-bpf/ecc/compiler/btfgen"
	"github.com/ecc-bpf/ecc/internal/kimage"
	"github.com/ecc-bpf/ecc/packager"
)

// KernelError is a kernel given to --btfgen (Options.BTFGen) that cannot
// serve: unreadable, without BTF, of no release or architecture ecc can
// tell, or of an architecture the build is not for.
type KernelError struct {
	// Kernel is the kernel as given (Options.KernelNames, else the path).
	Kernel string
	Err    error
}

func (e *KernelError) Error() string { return "--btfgen " + e.Kernel + ": " + e.Err.Error() }
func (e *KernelError) Unwrap() error { return e.Err }

// KernelBTFOutput says what one kernel's minimised BTF came to.
type KernelBTFOutput struct {
	// Kernel is the kernel as given (Options.KernelNames, else the
	// path); Release and Arch the kernel's.
	Kernel, Release, Arch string
	// Size is the minimised BTF's size, FullSize the kernel's whole BTF's.
	Size, FullSize int
	// Types counts the types kept.
	Types int
	// Took is the time minimising (and checking) took, reading the
	// kernel image left out.
	Took time.Duration
}

// kernel is a --btfgen kernel, read once per build.
type kernel struct {
	// path is the file read, name the kernel as the user gave it.
	path, name string
	k          *kimage.Kernel
	used       bool
}

// btfgenKey names the --btfgen kernels for the build cache, by file
// identity where there is one (so cached builds read no image).
func (b *builder) btfgenKey() []byte {
	var key strings.Builder
	for _, p := range b.o.BTFGen {
		id := btfIdentity(p)
		if id == "" {
			id = "unknown|" + p + "|" + time.Now().String()
		}
		key.WriteString(id + "\x00")
	}
	return []byte(key.String())
}

// kernels reads the --btfgen kernels, once.
func (b *builder) kernels() ([]*kernel, error) {
	if b.kernelList != nil || len(b.o.BTFGen) == 0 {
		return b.kernelList, nil
	}
	var out []*kernel
	for _, p := range b.o.BTFGen {
		name := p
		if n := b.o.KernelNames[p]; n != "" {
			name = n
		}
		k, err := kimage.Read(p)
		if err != nil {
			return nil, &KernelError{Kernel: name, Err: err}
		}
		if k.Release == "" {
			// Raw BTF says nothing of its kernel: btfhub's archive names
			// such files RELEASE.btf, and so may the user.
			r, ok := strings.CutSuffix(filepath.Base(p), ".btf")
			if !ok || !packager.ValidRelease(r) || r[0] < '0' || r[0] > '9' {
				return nil, &KernelError{Kernel: name, Err: fmt.Errorf("raw BTF does not say which kernel release it is; name the file RELEASE.btf (e.g. 6.1.0-57-cloud-amd64.btf), or pass the kernel's vmlinux or vmlinuz")}
			}
			k.Release = r
		}
		if !packager.ValidRelease(k.Release) {
			return nil, &KernelError{Kernel: name, Err: fmt.Errorf("kernel release %q has characters a package cannot name", k.Release)}
		}
		out = append(out, &kernel{path: p, name: name, k: k})
	}
	b.kernelList = out
	return out, nil
}

// kernelBTF minimises the BTF of each --btfgen kernel of architecture a
// for object.
func (b *builder) kernelBTF(a Arch, object []byte, single bool) ([]packager.KernelBTF, []KernelBTFOutput, error) {
	ks, err := b.kernels()
	if err != nil {
		return nil, nil, err
	}
	var out []packager.KernelBTF
	var stats []KernelBTFOutput
	seen := map[string]string{}
	for _, k := range ks {
		arch := k.k.Arch
		if arch == "" && single {
			// Raw BTF whose architecture its types do not tell.
			arch = a.Name
		}
		if arch != a.Name {
			continue
		}
		k.used = true
		if other, dup := seen[k.k.Release]; dup {
			return nil, nil, &KernelError{Kernel: k.name, Err: fmt.Errorf("release %s was given already (%s)", k.k.Release, other)}
		}
		seen[k.k.Release] = k.name
		start := time.Now()
		res, err := btfgen.Minimize(object, k.k.BTF)
		if err != nil {
			return nil, nil, &KernelError{Kernel: k.name, Err: err}
		}
		out = append(out, packager.KernelBTF{Release: k.k.Release, Arch: a.Name, Data: res.BTF})
		stats = append(stats, KernelBTFOutput{Kernel: k.name, Release: k.k.Release, Arch: a.Name,
			Size: len(res.BTF), FullSize: res.FullSize, Types: res.Types, Took: time.Since(start)})
	}
	return out, stats, nil
}

// unusedKernels fails for a --btfgen kernel that no architecture of the
// build took.
func (b *builder) unusedKernels(arches []Arch) error {
	for _, k := range b.kernelList {
		if k.used {
			continue
		}
		var names []string
		for _, a := range arches {
			names = append(names, a.Name)
		}
		if k.k.Arch == "" {
			return &KernelError{Kernel: k.name, Err: fmt.Errorf("cannot tell the architecture of this BTF, and the build is for %s; build one architecture at a time", strings.Join(names, ", "))}
		}
		return &KernelError{Kernel: k.name, Err: fmt.Errorf("an %s kernel, and the build is for %s; add --arch %s", k.k.Arch, strings.Join(names, ", "), k.k.Arch)}
	}
	return nil
}
