package vm

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/internal/vmproto"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/vm/kernel"
	"github.com/ecc-bpf/ecc/vm/qemu"
)

func TestVerdict(t *testing.T) {
	att := func(n string) vmproto.Program { return vmproto.Program{Name: n, State: vmproto.Attached} }
	for _, c := range []struct {
		name string
		res  vmproto.Result
		want string // "" passes
	}{
		{"attached with events", vmproto.Result{Programs: []vmproto.Program{att("a")}, EventOutputs: 1, Events: 3}, ""},
		{"no event outputs, no events", vmproto.Result{Programs: []vmproto.Program{att("a")}}, ""},
		{"twin and manual are fine", vmproto.Result{Programs: []vmproto.Program{att("a"), {Name: "b", State: vmproto.Twin}, {Name: "c", State: vmproto.Manual}}}, ""},
		{"run error", vmproto.Result{Programs: []vmproto.Program{att("a")}, Error: "boom"}, "boom"},
		{"failed program", vmproto.Result{Programs: []vmproto.Program{att("a"), {Name: "b", State: vmproto.Failed}}}, "not every program runs: b failed"},
		{"skipped program", vmproto.Result{Programs: []vmproto.Program{att("a"), {Name: "u", State: vmproto.Skipped}}}, "u skipped"},
		{"nothing attached", vmproto.Result{Programs: []vmproto.Program{{Name: "m", State: vmproto.Manual}}}, "no program attached"},
		{"no events", vmproto.Result{Programs: []vmproto.Program{att("a")}, EventOutputs: 1}, "no event was decoded"},
		{"command failed", vmproto.Result{Programs: []vmproto.Program{att("a")}, Command: &vmproto.Command{Exit: 2}}, "COMMAND exited with status 2"},
	} {
		got := verdict(&c.res)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: verdict %q, want %q", c.name, got, c.want)
		}
	}
}

func TestCmdline(t *testing.T) {
	pkg := &packager.Package{}
	pkg.Meta.BpfSkel.Progs = []packager.Prog{{Name: "a", Attach: "kprobe/x"}}
	got := cmdline("x86_64", pkg, "")
	if got != "console=ttyS0 panic=-1 quiet rdinit=/init" {
		t.Errorf("cmdline %q", got)
	}
	if got := cmdline("arm64", pkg, ""); got != "console=ttyAMA0 panic=-1 quiet rdinit=/init" {
		t.Errorf("arm64 cmdline %q", got)
	}
	pkg.Meta.BpfSkel.Progs = append(pkg.Meta.BpfSkel.Progs, packager.Prog{Name: "b", Attach: "lsm/file_open"})
	if got := cmdline("x86_64", pkg, "nokaslr"); !strings.Contains(got, ",bpf ") || !strings.HasSuffix(got, " nokaslr") {
		t.Errorf("cmdline with an lsm program and --append: %q", got)
	}
}

func TestCheckStatic(t *testing.T) {
	if err := checkStatic("/bin/sh", "COMMAND", "x86_64"); err == nil {
		t.Error("/bin/sh (dynamically linked on Debian) passes as static")
	} else if ns := (*NotStaticError)(nil); !errors.As(err, &ns) || ns.Role != "COMMAND" || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("error %v", err)
	}
	notELF := filepath.Join(t.TempDir(), "script")
	os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755)
	if err := checkStatic(notELF, "--ecli", "x86_64"); err == nil || !strings.Contains(err.Error(), "--ecli "+notELF+": not an ELF executable") {
		t.Errorf("a script: %v", err)
	}
	if bb, err := exec.LookPath("busybox"); err == nil {
		if err := checkStatic(bb, "busybox", packager.HostArch()); err != nil {
			t.Errorf("busybox-static: %v", err)
		}
		if err := checkStatic(bb, "COMMAND", "riscv64"); err == nil || !strings.Contains(err.Error(), "built for "+packager.HostArch()+"; the kernel is riscv64") {
			t.Errorf("busybox for riscv64: %v", err)
		}
		if _, err := eclis([]string{bb, bb}); err == nil || !strings.Contains(err.Error(), "are both for "+packager.HostArch()) {
			t.Errorf("two --ecli of one architecture: %v", err)
		}
	}
}

// Test refuses bad input before it boots anything and leaves the
// caller's Options as they were.
func TestTestErrors(t *testing.T) {
	pkg := &packager.Package{Object: []byte("\x7fELF")}
	dir := t.TempDir()
	notKernel := filepath.Join(dir, "notes.txt")
	os.WriteFile(notKernel, []byte("hello"), 0o644)
	for _, c := range []struct {
		name string
		o    Options
		is   error
	}{
		{"no kernels", Options{}, ErrNoKernels},
		{"not a kernel", Options{Kernels: []string{notKernel}}, kernel.ErrNotKernel},
		{"negative samples", Options{Kernels: []string{notKernel}, Samples: -1}, nil},
	} {
		before := c.o
		before.Kernels = append([]string(nil), c.o.Kernels...)
		reps, err := Test(context.Background(), One(pkg), &c.o)
		if err == nil || reps != nil || (c.is != nil && !errors.Is(err, c.is)) {
			t.Errorf("%s: %v, %v", c.name, reps, err)
		}
		if !reflect.DeepEqual(before, c.o) {
			t.Errorf("%s: Options changed: %+v", c.name, c.o)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(os.TempDir(), "ecc-test-*")); len(left) > 0 {
		t.Logf("note: %v in the temp folder (maybe another run's)", left)
	}
}

func TestWriteText(t *testing.T) {
	reps := []Report{
		{Kernel: "/k/linux-image-6.1.0-57-cloud-amd64_6.1.192-3_amd64.deb", Release: "6.1.0-57-cloud-amd64", Arch: "x86_64", Passed: true, Accel: "tcg", KernelBTF: true,
			Programs: []vmproto.Program{{Name: "handle_exec", Section: "tp/sched/sched_process_exec", State: vmproto.Attached},
				{Name: "raw", Section: "raw_tp/x", State: vmproto.Twin, Reason: "twin tp_btf/x runs instead"}},
			Events: 4, Samples: []json.RawMessage{json.RawMessage(`{"comm":"init"}`)}, BootMS: 4250, MS: 8500},
		{Kernel: "vmlinuz-5.4", Release: "5.4.0", Arch: "arm64", Accel: "tcg",
			Programs: []vmproto.Program{{Name: "bad", Section: "tp/a/b", State: vmproto.Failed, Error: "rejected by the verifier:\nmore",
				VerifierLog: []string{"R0 invalid mem access 'map_value_or_null'"}}},
			Command: &vmproto.Command{Exit: 3, Output: "oops\n"},
			Error:   "not every program runs: bad failed", Log: []string{"ecli: never shown here"}},
	}
	var b bytes.Buffer
	if err := WriteText(&b, reps); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"KERNEL                                                RELEASE               RESULT  PROGRAMS                EVENTS  MAP ROWS  BOOT  TOTAL\n",
		"linux-image-6.1.0-57-cloud-amd64_6.1.192-3_amd64.deb  6.1.0-57-cloud-amd64  pass    1/2 attached, 1 twin    4       0         4.2s  8.5s\n",
		"vmlinuz-5.4                                           5.4.0                 FAIL    0/1 attached, 1 failed  0       0         0.0s  0.0s\n",
		"  handle_exec  tp/sched/sched_process_exec  attached\n",
		"  raw          raw_tp/x                     twin  twin tp_btf/x runs instead\n",
		"  first event: {\"comm\":\"init\"}\n",
		"linux-image-6.1.0-57-cloud-amd64_6.1.192-3_amd64.deb (6.1.0-57-cloud-amd64, x86_64, tcg):\n",
		"vmlinuz-5.4 (5.4.0, arm64, tcg, no kernel BTF):\n  bad  tp/a/b  failed  rejected by the verifier:\n",
		"  verifier log of bad (end):\n    R0 invalid mem access 'map_value_or_null'\n",
		"  COMMAND exited 3\n    > oops\n",
		"  error: not every program runs: bad failed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "never shown") {
		t.Errorf("ecli's log is shown although the failed program says why:\n%s", out)
	}
	b.Reset()
	enc := json.NewEncoder(&b)
	enc.Encode(reps)
	var m []map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil || len(m) != 2 {
		t.Fatalf("JSON: %v, %d reports", err, len(m))
	}
	for _, k := range []string{"kernel", "release", "arch", "passed", "programs", "events", "error", "boot_ms", "ms", "map_rows", "initramfs_bytes"} {
		if _, ok := m[0][k]; !ok {
			t.Errorf("JSON lacks %q: %v", k, m[0])
		}
	}
}

// fakeELF writes a static ELF executable header for machine (enough for
// the checks; it is only copied into the initramfs).
func fakeELF(t *testing.T, machine elf.Machine) string {
	t.Helper()
	var b bytes.Buffer
	hdr := elf.Header64{Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: 1, Ehsize: 64}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS], hdr.Ident[elf.EI_DATA], hdr.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1
	binary.Write(&b, binary.LittleEndian, &hdr)
	p := filepath.Join(t.TempDir(), "ecli-"+machine.String())
	os.WriteFile(p, b.Bytes(), 0o755)
	return p
}

// arm64Image writes the start of an arm64 Image with a banner.
func arm64Image(t *testing.T) string {
	img := make([]byte, 0x1000)
	copy(img[0x38:], "ARM\x64")
	copy(img[0x800:], "Linux version 6.1.0-99-test-arm64 (someone@example.org) #1 SMP\n\x00")
	p := filepath.Join(t.TempDir(), "vmlinuz-6.1.0-99-test-arm64")
	os.WriteFile(p, img, 0o644)
	return p
}

// An arm64 Image boots in qemu-system-aarch64's virt machine (-cpu max,
// the console on ttyAMA0, the result on a PCI serial port) with the arm64
// package of a multi-arch set and the arm64 ecli; a package without an
// arm64 object fails that kernel, unbooted, saying how to build one.
func TestArm64Kernel(t *testing.T) {
	image := arm64Image(t)
	argsFile := filepath.Join(t.TempDir(), "args")
	fakeQemu := filepath.Join(t.TempDir(), "qemu")
	os.WriteFile(fakeQemu, []byte("#!/bin/sh\necho \"$@\" > "+argsFile+"\n"), 0o755)
	pkg := func(arch string) *packager.Package {
		p := &packager.Package{Object: []byte("\x7fELF " + arch)}
		p.Meta.BpfSkel.ObjName, p.Meta.Arch = "probe_bpf", arch
		return p
	}
	var asked []string
	multi := func(_ context.Context, arch string) (*packager.Package, error) {
		asked = append(asked, arch)
		return pkg(arch), nil
	}
	var booted []string
	o := &Options{Kernels: []string{image}, Qemu: fakeQemu, Ecli: []string{fakeELF(t, elf.EM_AARCH64)}, CacheDir: t.TempDir(),
		Progress: func(k, arch, accel string) { booted = append(booted, k+" "+arch+" "+accel) }}
	reps, err := Test(context.Background(), multi, o)
	if len(reps) != 1 || !errors.Is(err, ErrFailed) {
		t.Fatalf("%+v, %v", reps, err)
	}
	r := reps[0]
	if r.Arch != "arm64" || r.Release != "6.1.0-99-test-arm64" || r.Accel != qemu.Accel("arm64") || !strings.Contains(r.Error, "printed no result") {
		t.Errorf("report %+v", r)
	}
	if !slices.Equal(asked, []string{"arm64"}) || !slices.Equal(booted, []string{image + " arm64 " + qemu.Accel("arm64")}) {
		t.Errorf("packages asked for %v, booted %v", asked, booted)
	}
	args, _ := os.ReadFile(argsFile)
	for _, want := range []string{"-machine virt,accel=tcg -cpu max", "-kernel " + image, "-append console=ttyAMA0 panic=-1 quiet rdinit=/init",
		"-serial stdio -chardev file,id=result,path=", "-device pci-serial,chardev=result"} {
		if runtime.GOARCH == "arm64" {
			break // KVM may change the machine
		}
		if !strings.Contains(string(args), want) {
			t.Errorf("qemu args lack %q: %s", want, args)
		}
	}

	// Only an x86_64 package: the arm64 kernel fails without a boot.
	os.Remove(argsFile)
	booted = nil
	reps, err = Test(context.Background(), One(pkg("x86_64")), o)
	if len(reps) != 1 || !errors.Is(err, ErrFailed) || reps[0].Passed || reps[0].Arch != "arm64" ||
		reps[0].Error != "package probe has no arm64 object; build with --arch x86_64,arm64" {
		t.Fatalf("%+v, %v", reps, err)
	}
	if _, err := os.Stat(argsFile); err == nil || len(booted) > 0 {
		t.Error("qemu ran for a package without an arm64 object")
	}
	var b bytes.Buffer
	WriteText(&b, reps)
	if !strings.Contains(b.String(), "FAIL    not booted  0       0         -     -\n") ||
		!strings.Contains(b.String(), "(6.1.0-99-test-arm64, arm64):\n  error: package probe has no arm64 object; build with --arch x86_64,arm64\n") {
		t.Errorf("text:\n%s", b.String())
	}

	// No arm64 ecli given or found: the error names the architecture.
	t.Setenv("PATH", t.TempDir())
	o.Ecli = nil
	var ne *NoEcliError
	if _, err := Test(context.Background(), multi, o); !errors.As(err, &ne) || ne.Arch != "arm64" || !errors.Is(err, ErrNoEcli) {
		t.Errorf("without an arm64 ecli: %v", err)
	}
}
