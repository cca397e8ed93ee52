package btfgen_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/compiler"
	"github.com/ecc-bpf/ecc/compiler/btfgen"
	"github.com/ecc-bpf/ecc/internal/bpfobj"
	"github.com/ecc-bpf/ecc/internal/kimage"
	"github.com/ecc-bpf/ecc/internal/testenv"
)

// examples built once for every test: name → object.
var (
	buildOnce sync.Once
	built     map[string][]byte
	buildErr  error
)

var exampleNames = []string{"execsnoop", "runqlat", "exitsnoop", "opensnoop"}

func examples(t testing.TB) map[string][]byte {
	t.Helper()
	testenv.BPFBuild(t)
	buildOnce.Do(func() {
		built = map[string][]byte{}
		out := filepath.Join(os.TempDir(), "ecc-btfgen-test")
		for _, name := range exampleNames {
			dir := filepath.Join("..", "..", "examples", name)
			hdr := filepath.Join(dir, name+".h")
			if _, err := os.Stat(hdr); err != nil {
				hdr = ""
			}
			res, err := compiler.Build(context.Background(), &compiler.Options{
				Source: filepath.Join(dir, name+".bpf.c"), ExportHeader: hdr,
				OutDir: filepath.Join(out, name), Stderr: os.Stderr,
			})
			if err != nil {
				buildErr = err
				return
			}
			if built[name], err = os.ReadFile(res.Outputs[0].Object); err != nil {
				buildErr = err
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func hostKernel(t testing.TB) *kimage.Kernel {
	t.Helper()
	k, err := kimage.Read(kimage.SysfsBTF)
	if err != nil {
		testenv.Missing(t, "no kernel BTF: %v", err)
	}
	return k
}

func spec(t testing.TB, raw []byte) *btf.Spec {
	t.Helper()
	s, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// On this host's kernel: the minimised BTF is a small part of the whole,
// and cilium/ebpf's loader relocates every program to the same
// instructions with it as with the whole BTF: the kernel's program tags
// (a hash of the instructions, map references left out) are equal.
func TestMinimizeLoadsTheSameOnThisKernel(t *testing.T) {
	objs := examples(t)
	k := hostKernel(t)
	full := spec(t, k.BTF)
	testenv.Kernel(t)
	for _, name := range exampleNames {
		t.Run(name, func(t *testing.T) {
			res, err := btfgen.Minimize(objs[name], k.BTF)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s on %s: %d relocations, %d types, %d of %d bytes (1/%d)", name, k.Release, res.Relocations, res.Types, len(res.BTF), res.FullSize, res.FullSize/len(res.BTF))
			if res.Relocations == 0 || res.Types == 0 {
				t.Fatalf("%d relocations, %d types: the example should have CO-RE relocations", res.Relocations, res.Types)
			}
			if len(res.BTF)*50 > res.FullSize {
				t.Errorf("minimised BTF is %d bytes, more than 1/50 of %d", len(res.BTF), res.FullSize)
			}
			wantTags := loadTags(t, objs[name], full)
			gotTags := loadTags(t, objs[name], spec(t, res.BTF))
			if len(wantTags) == 0 {
				t.Fatal("no program loaded")
			}
			for prog, tag := range wantTags {
				if gotTags[prog] != tag {
					t.Errorf("program %s: tag %s with the whole BTF, %s with the minimised one", prog, tag, gotTags[prog])
				}
			}
		})
	}
}

// loadTags loads the object's programs with kernelTypes for CO-RE and
// returns each one's tag.
func loadTags(t *testing.T, obj []byte, kernelTypes *btf.Spec) map[string]string {
	t.Helper()
	cs, err := bpfobj.LoadSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range cs.Maps {
		if m.MaxEntries == 0 {
			m.MaxEntries = 1024
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(cs, ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{KernelTypes: kernelTypes}})
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	tags := map[string]string{}
	for name, p := range coll.Programs {
		info, err := p.Info()
		if err != nil {
			t.Fatal(err)
		}
		tags[name] = info.Tag
	}
	return tags
}

// On Debian's 6.1 kernel, read from its vmlinuz: small, and every
// relocation the same as against the whole BTF (Minimize checks it; the
// test checks again).
func TestMinimizeOtherKernel(t *testing.T) {
	objs := examples(t)
	k, err := kimage.Read(testenv.DebianVmlinuz(t))
	if err != nil {
		t.Fatal(err)
	}
	full := spec(t, k.BTF)
	for _, name := range exampleNames {
		res, err := btfgen.Minimize(objs[name], k.BTF)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s on %s: %d relocations, %d types, %d of %d bytes (1/%d)", name, k.Release, res.Relocations, res.Types, len(res.BTF), res.FullSize, res.FullSize/len(res.BTF))
		if len(res.BTF)*50 > res.FullSize {
			t.Errorf("%s: minimised BTF is %d bytes, more than 1/50 of %d", name, len(res.BTF), res.FullSize)
		}
		if err := btfgen.Compare(objs[name], full, spec(t, res.BTF)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Compare is what makes Minimize trustworthy: it must fail when the BTF
// given does not serve the object as the kernel's does. The BTF minimised
// for another kernel, or for another program, does not.
func TestCompareFindsDifferences(t *testing.T) {
	objs := examples(t)
	host := hostKernel(t)
	other, err := kimage.Read(testenv.DebianVmlinuz(t))
	if err != nil {
		t.Fatal(err)
	}
	forHost, err := btfgen.Minimize(objs["execsnoop"], host.BTF)
	if err != nil {
		t.Fatal(err)
	}
	var me *btfgen.MismatchError
	if err := btfgen.Compare(objs["runqlat"], spec(t, host.BTF), spec(t, forHost.BTF)); !errors.As(err, &me) {
		t.Fatalf("runqlat against execsnoop's BTF: %v, want a *MismatchError", err)
	} else {
		t.Log(me)
	}
	// The kernels differ in some offset execsnoop reads (task_struct
	// moves between 6.1 and 6.18).
	err = btfgen.Compare(objs["execsnoop"], spec(t, other.BTF), spec(t, forHost.BTF))
	if !errors.As(err, &me) {
		t.Fatalf("execsnoop on %s against %s's minimised BTF: %v, want a *MismatchError", other.Release, host.Release, err)
	}
}

// An object without CO-RE relocations gets an empty BTF, still valid.
func TestNoRelocations(t *testing.T) {
	obj, err := os.ReadFile("../../packager/extract/testdata/events.bpf.o")
	if err != nil {
		t.Fatal(err)
	}
	k := hostKernel(t)
	res, err := btfgen.Minimize(obj, k.BTF)
	if err != nil {
		t.Fatal(err)
	}
	if res.Relocations != 0 || res.Types != 0 {
		t.Errorf("%d relocations, %d types", res.Relocations, res.Types)
	}
	spec(t, res.BTF)
}

func BenchmarkMinimize(b *testing.B) {
	objs := examples(b)
	k := hostKernel(b)
	for b.Loop() {
		if _, err := btfgen.Minimize(objs["execsnoop"], k.BTF); err != nil {
			b.Fatal(err)
		}
	}
}
