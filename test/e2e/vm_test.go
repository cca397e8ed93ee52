package e2e

import (
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/internal/vmproto"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry/registrytest"
	"github.com/ecc-bpf/ecc/vm"
	"github.com/ecc-bpf/ecc/vm/kernel"
	"github.com/ecc-bpf/ecc/vm/kernel/kerneltest"
)

// ecc test boots Debian's 6.1 cloud kernel in qemu (make vm-deps
// downloads it) and runs packages built here in it: the program kinds
// this machine's kernel refuses (kprobes, fentry, lsm) are tested there.
// Each test boots once (8-10 s under TCG).

// buildVM builds testdata/vm/NAME.bpf.c (with NAME.h when there is one),
// or examples/NAME when example is set, with ecc build's flags, and
// returns the build folder.
func buildVM(t *testing.T, name string, example bool, flags ...string) string {
	t.Helper()
	testenv.BPFBuild(t)
	dir := repo("test", "e2e", "testdata", "vm")
	if example {
		dir = repo("examples", name)
	}
	out := t.TempDir()
	args := append(append([]string{"build"}, flags...), "-o", out, filepath.Join(dir, name+".bpf.c"))
	if hdr := filepath.Join(dir, name+".h"); fileExists(hdr) {
		args = append(args, hdr)
	}
	if _, stderr, status := ecc(t, args...); status != 0 {
		t.Fatalf("ecc %s: status %d\n%s", strings.Join(args, " "), status, stderr)
	}
	return out
}

// eccTest runs ecc test --format json on the test's kernel and returns
// its one report (of the array printed) and the exit status.
func eccTest(t *testing.T, kernel string, args ...string) (vm.Report, int) {
	t.Helper()
	reps, status := eccTestAll(t, nil, []string{kernel}, args...)
	return reps[0], status
}

// eccTestAll runs ecc test --format json on the kernels, with extra
// environment, and returns a report per kernel and the exit status. It
// checks that the run leaves no files behind in its TMPDIR and that every
// kernel is a 6.1. Kernels are extracted once per test run
// (XDG_CACHE_HOME in the binaries' folder).
func eccTestAll(t *testing.T, env, kernels []string, args ...string) ([]vm.Report, int) {
	t.Helper()
	tmp := t.TempDir()
	full := []string{"test"}
	for _, k := range kernels {
		full = append(full, "--kernel", k)
	}
	full = append(append(full, "--format", "json"), args...)
	env = append([]string{"TMPDIR=" + tmp, "XDG_CACHE_HOME=" + filepath.Join(filepath.Dir(eccBin), "cache")}, env...)
	r := run(t, "", env, "", eccBin, full...)
	t.Logf("ecc %s: %.1fs, status %d\n%s", strings.Join(full, " "), r.took.Seconds(), r.status, r.stderr)
	var reps []vm.Report
	if err := json.Unmarshal([]byte(r.stdout), &reps); err != nil || len(reps) != len(kernels) {
		t.Fatalf("want a JSON array of %d reports (%v):\n%s\n%s", len(kernels), err, r.stdout, r.stderr)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("ecc test left %d files in TMPDIR, e.g. %s", len(left), left[0].Name())
	}
	for _, rep := range reps {
		if !regexp.MustCompile(`^6\.1\.\d+-`).MatchString(rep.Release) {
			t.Errorf("%s: release %q, want 6.1.*", rep.Kernel, rep.Release)
		}
	}
	return reps, r.status
}

// states maps each program to its state.
func states(rep vm.Report) map[string]vmproto.Program {
	m := map[string]vmproto.Program{}
	for _, p := range rep.Programs {
		m[p.Name] = p
	}
	return m
}

// events decodes the report's samples.
func events(t *testing.T, rep vm.Report) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, s := range rep.Samples {
		var m map[string]any
		if err := json.Unmarshal(s, &m); err != nil {
			t.Fatalf("sample %s: %v", s, err)
		}
		out = append(out, m)
	}
	return out
}

// A tracepoint package (examples/execsnoop) passes on 6.1, and its
// events are the default activity's: /init executing itself.
func TestVMTracepoint(t *testing.T) {
	kernel := testenv.VMKernel(t)
	rep, status := eccTest(t, kernel, "--samples", "20", buildVM(t, "execsnoop", true))
	if status != 0 {
		t.Errorf("status %d", status)
	}
	if rep.InitramfsBytes < 1<<20 || !rep.KernelBTF || rep.BootMS <= 0 || rep.MS < rep.BootMS || rep.Accel == "" || rep.Arch != "x86_64" {
		t.Errorf("initramfs %d bytes, kernel_btf %v, boot %d ms of %d, accel %q, arch %q", rep.InitramfsBytes, rep.KernelBTF, rep.BootMS, rep.MS, rep.Accel, rep.Arch)
	}
	checkExecEvents(t, rep)
	if len(rep.Samples) > 20 {
		t.Errorf("%d samples, asked for 20", len(rep.Samples))
	}
}

// kprobe, kretprobe, ksyscall, kretsyscall, fentry, fexit, fmod_ret and
// lsm programs (refused by this machine's kernel) all attach and fire on
// 6.1; of the twins fentry/do_sys_openat2 and kprobe/do_sys_openat2 only
// the fentry one runs (issue 7's rule).
func TestVMProbeKinds(t *testing.T) {
	kernel := testenv.VMKernel(t)
	rep, status := eccTest(t, kernel, "--samples", "5000", "-d", "3s", buildVM(t, "kinds", false))
	if status != 0 || !rep.Passed {
		t.Fatalf("status %d, passed %v, error %q, programs %+v", status, rep.Passed, rep.Error, rep.Programs)
	}
	want := map[string]string{
		"on_unlink_kprobe":       "KPROBE",
		"on_mkdir_kretprobe":     "KRETPROBE",
		"on_unlinkat_ksyscall":   "KSYSCALL",
		"on_connect_kretsyscall": "KRETSYSCALL",
		"on_connect_fentry":      "FENTRY",
		"on_unlink_fexit":        "FEXIT",
		"on_open_fmod_ret":       "FMOD_RET",
		"on_open_lsm":            "LSM",
		"on_open_fentry":         "TWIN_FENTRY",
	}
	st := states(rep)
	for prog := range want {
		if st[prog].State != vmproto.Attached {
			t.Errorf("%s: %+v", prog, st[prog])
		}
	}
	if p := st["on_open_kprobe"]; p.State != vmproto.Twin || !strings.Contains(p.Reason, "fentry/do_sys_openat2 runs instead") {
		t.Errorf("on_open_kprobe: %+v, want the fentry twin to run instead", p)
	}
	if len(rep.Samples) != rep.Events {
		t.Fatalf("%d samples of %d events: raise --samples", len(rep.Samples), rep.Events)
	}
	seen := map[string]int{}
	for _, ev := range events(t, rep) {
		seen[ev["kind"].(string)]++
		if num(ev["pid"]) < 1 || ev["comm"] == "" {
			t.Errorf("event %v: no pid or comm", ev)
		}
	}
	for prog, kind := range want {
		if seen[kind] == 0 {
			t.Errorf("no event from %s (%s)", prog, kind)
		}
	}
	if seen["TWIN_KPROBE"] > 0 {
		t.Errorf("%d events from the kprobe twin, which must not run", seen["TWIN_KPROBE"])
	}
	t.Logf("events by kind: %v", seen)
}

// A package the kernel only partly runs fails there, exit status 1: the
// report names the program the verifier refused (with the end of its
// log) and the one 6.1 cannot attach (kprobe.multi without fprobe). The
// COMMAND (a static program of this machine) replaces the activity.
func TestVMRefused(t *testing.T) {
	kernel := testenv.VMKernel(t)
	rep, status := eccTest(t, kernel, buildVM(t, "refused", false), "--", ecliBin, "version")
	if status != 1 || rep.Passed {
		t.Fatalf("status %d, passed %v: want a failure", status, rep.Passed)
	}
	st := states(rep)
	if p := st["on_exec"]; p.State != vmproto.Attached {
		t.Errorf("on_exec: %+v", p)
	}
	bad := st["bad_lookup"]
	if bad.State != vmproto.Failed || !strings.Contains(bad.Error, "rejected by the verifier") ||
		len(bad.VerifierLog) == 0 || !strings.Contains(strings.Join(bad.VerifierLog, "\n"), "invalid mem access 'map_value_or_null'") {
		t.Errorf("bad_lookup: %+v", bad)
	}
	if p := st["on_unlink_multi"]; p.State != vmproto.Failed || !strings.Contains(p.Error, "not supported by this kernel") || !strings.Contains(p.Error, "CONFIG_FPROBE") {
		t.Errorf("on_unlink_multi: %+v", p)
	}
	if !strings.Contains(rep.Error, "bad_lookup failed") || !strings.Contains(rep.Error, "on_unlink_multi failed") {
		t.Errorf("error %q", rep.Error)
	}
	if rep.Command == nil || rep.Command.Exit != 0 || !strings.Contains(rep.Command.Output, "ecli") {
		t.Errorf("command: %+v", rep.Command)
	}
	evs := events(t, rep)
	if len(evs) == 0 || evs[0]["comm"] != "ecli" {
		t.Errorf("events %v: want the COMMAND's exec", evs)
	}
}

// With /sys/kernel/btf hidden, a CO-RE package built without BTF of its
// own cannot load, and the report says why; built with --btfgen of that
// kernel's image, the same package carries the BTF it needs and passes,
// with events.
func TestVMNoKernelBTF(t *testing.T) {
	kernel := testenv.VMKernel(t)
	rep, status := eccTest(t, kernel, "--no-kernel-btf", buildVM(t, "execsnoop", true))
	if status != 1 || rep.Passed || rep.KernelBTF {
		t.Fatalf("status %d, passed %v, kernel_btf %v: want a failure without kernel BTF", status, rep.Passed, rep.KernelBTF)
	}
	if !strings.Contains(rep.Error, "has no BTF") || !strings.Contains(rep.Error, "the package carries none") {
		t.Errorf("error %q does not say the kernel and the package lack BTF", rep.Error)
	}

	rep, status = eccTest(t, kernel, "--no-kernel-btf", buildVM(t, "execsnoop", true, "--btfgen", testenv.DebianVmlinuz(t)))
	if status != 0 || !rep.Passed || rep.KernelBTF || rep.Error != "" {
		t.Fatalf("--btfgen: status %d, passed %v, kernel_btf %v, error %q: want a pass on the package's BTF", status, rep.Passed, rep.KernelBTF, rep.Error)
	}
	if p := states(rep)["handle_exec"]; p.State != vmproto.Attached {
		t.Errorf("handle_exec: %+v", p)
	}
	evs := events(t, rep)
	if rep.Events == 0 || len(evs) == 0 {
		t.Fatalf("--btfgen: %d events", rep.Events)
	}
	// CO-RE through the package's BTF read the right fields: init's
	// children have ppid 1 and the name of what they ran.
	for _, ev := range evs {
		if ev["filename"] != "/init" || num(ev["ppid"]) != 1 || ev["comm"] != "init" {
			t.Errorf("--btfgen: event %v: want /init run by init (ppid 1)", ev)
		}
	}
}

// A tp_btf program (examples/exitsnoop) cannot run without the kernel's
// BTF, even built with --btfgen of that kernel (its .deb here): the report
// says so in words of BTF, not as a missing raw_tp.
func TestVMNoKernelBTFTracing(t *testing.T) {
	kernel := testenv.VMKernel(t)
	rep, status := eccTest(t, kernel, "--no-kernel-btf", buildVM(t, "exitsnoop", true, "--btfgen", kernel))
	p := states(rep)["handle_exit"]
	if status != 1 || rep.Passed || p.State != vmproto.Failed ||
		!strings.HasPrefix(p.Error, "tp_btf programs attach through the kernel's own BTF") || strings.Contains(rep.Error, "raw_tp") {
		t.Errorf("status %d, passed %v, handle_exit %+v, error %q", status, rep.Passed, p, rep.Error)
	}
}

// A COMMAND without a slash runs as a busybox applet (a shell here), and
// examples/opensnoop sees its opens.
func TestVMBusyboxCommand(t *testing.T) {
	kernel := testenv.VMKernel(t)
	if _, err := vmBusybox(); err != nil {
		testenv.Missing(t, "%v (make vm-deps installs busybox-static)", err)
	}
	rep, status := eccTest(t, kernel, "--samples", "100", buildVM(t, "opensnoop", true), "--",
		"sh", "-c", "cat /proc/version > version.txt && cat version.txt")
	if status != 0 || !rep.Passed {
		t.Fatalf("status %d, passed %v, error %q", status, rep.Passed, rep.Error)
	}
	if rep.Command == nil || rep.Command.Exit != 0 || !strings.HasPrefix(rep.Command.Output, "Linux version 6.1.") {
		t.Errorf("command: %+v", rep.Command)
	}
	found := false
	for _, ev := range events(t, rep) {
		if ev["comm"] == "cat" && ev["fname"] == "/proc/version" && num(ev["ret"]) >= 0 {
			found = true
		}
	}
	if !found {
		t.Errorf("no open of /proc/version by cat among %d events", rep.Events)
	}
}

// vmBusybox finds the static busybox ecc test would use.
func vmBusybox() (string, error) {
	return exec.LookPath("busybox")
}

// A tc program attaches on 6.1 (no tcx there: a clsact qdisc, whose
// modules ecc test loads from the kernel's package) to the VM's lo and
// counts the activity's TCP connects.
func TestVMTcModules(t *testing.T) {
	kernel := testenv.VMKernel(t)
	rep, status := eccTest(t, kernel, buildVM(t, "tccount", true))
	if status != 0 || !rep.Passed {
		t.Fatalf("status %d, passed %v, error %q, programs %+v", status, rep.Passed, rep.Error, rep.Programs)
	}
	if p := states(rep)["tc_count"]; p.State != vmproto.Attached {
		t.Errorf("tc_count: %+v", p)
	}
	if rep.MapRows == 0 {
		t.Error("no flow counted on lo")
	}
}

// --kernel REF: a kernel image in cilium/ci-kernels' layout on a registry
// (here Debian's 6.1 vmlinuz pushed to an in-process one) boots as well.
func TestVMKernelImage(t *testing.T) {
	deb := testenv.VMKernel(t)
	im, err := kernel.Open(context.Background(), deb, &kernel.OpenOptions{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	vmlinuz, err := os.ReadFile(im.Path)
	if err != nil {
		t.Fatal(err)
	}
	reg := registrytest.NewServer(t, registrytest.ServerOptions{})
	ref := reg.Host + "/cilium/ci-kernels:6.1"
	kerneltest.Push(t, ref, kerneltest.Layer(map[string][]byte{"boot/vmlinuz": vmlinuz}))
	rep, status := eccTest(t, ref, buildVM(t, "execsnoop", true))
	if status != 0 || !rep.Passed || rep.Kernel != ref || rep.Events == 0 {
		t.Fatalf("status %d, passed %v, kernel %q, %d events, error %q", status, rep.Passed, rep.Kernel, rep.Events, rep.Error)
	}
}

// ecliArm64 cross-builds a static arm64 ecli once per test run, as make
// ecli-arm64 does, next to the ecc under test: where ecc test looks for
// ecli-arm64.
func ecliArm64(t *testing.T) string {
	t.Helper()
	out := filepath.Join(filepath.Dir(eccBin), "ecli-arm64")
	arm64Ecli.Do(func() {
		cmd := exec.Command("go", "build", "-o", out, "./cmd/ecli")
		cmd.Dir = repo()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOARCH=arm64")
		if b, err := cmd.CombinedOutput(); err != nil {
			arm64Ecli.err = fmt.Errorf("GOARCH=arm64 go build ./cmd/ecli: %v\n%s", err, b)
		}
	})
	if arm64Ecli.err != nil {
		t.Fatal(arm64Ecli.err)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP }) {
		t.Fatalf("%s: %s, want a static aarch64 executable", out, f.Machine)
	}
	return out
}

var arm64Ecli struct {
	sync.Once
	err error
}

// checkExecEvents checks a report of examples/execsnoop under the default
// activity: it passed with events, and they are /init executing itself,
// run by init (pid 1), decoded with the kernel's own layout.
func checkExecEvents(t *testing.T, rep vm.Report) {
	t.Helper()
	if !rep.Passed || rep.Error != "" {
		t.Fatalf("%s: passed %v, error %q, log %v", rep.Kernel, rep.Passed, rep.Error, rep.Log)
	}
	if p := states(rep)["handle_exec"]; p.State != vmproto.Attached || p.Section != "tp/sched/sched_process_exec" {
		t.Errorf("%s: handle_exec: %+v", rep.Kernel, p)
	}
	evs := events(t, rep)
	if rep.Events == 0 || len(evs) == 0 || len(evs) > rep.Events {
		t.Fatalf("%s: %d events, %d samples", rep.Kernel, rep.Events, len(evs))
	}
	for _, ev := range evs {
		if ev["filename"] != "/init" || ev["args"] != "/init version" || ev["comm"] != "init" || num(ev["ppid"]) != 1 || num(ev["pid"]) <= 1 {
			t.Errorf("%s: event %v: want /init version, run by init (pid 1)", rep.Kernel, ev)
		}
	}
}

// A multi-arch build folder (ecc build --arch x86_64,arm64) runs its
// x86_64 object on Debian's x86_64 6.1 kernel and its arm64 object on the
// arm64 one, booted by qemu-system-aarch64 (virt, -cpu max) with the
// cross-built arm64 ecli, in one ecc test; both decode events.
func TestVMArm64(t *testing.T) {
	arm := testenv.VMArm64Kernel(t)
	x86 := testenv.VMKernel(t)
	ecliArm64(t)
	pkg := buildVM(t, "execsnoop", true, "--arch", "x86_64,arm64")
	reps, status := eccTestAll(t, nil, []string{x86, arm}, "--samples", "5", pkg)
	if status != 0 {
		t.Errorf("status %d", status)
	}
	for i, arch := range []string{"x86_64", "arm64"} {
		rep := reps[i]
		if rep.Arch != arch || !strings.HasSuffix(rep.Release, "-cloud-"+packager.OCIArch(arch)) || rep.BootMS <= 0 || rep.InitramfsBytes < 1<<20 {
			t.Errorf("%s: arch %q, release %q, boot %d ms, initramfs %d bytes", rep.Kernel, rep.Arch, rep.Release, rep.BootMS, rep.InitramfsBytes)
		}
		checkExecEvents(t, rep)
		t.Logf("%s: boot %.1fs, total %.1fs, initramfs %d bytes, %d events", arch, float64(rep.BootMS)/1000, float64(rep.MS)/1000, rep.InitramfsBytes, rep.Events)
	}
}

// An image index REF: the arm64 kernel gets the index's arm64 manifest;
// an index without one fails that kernel, unbooted, with one line saying
// how to build it, and the exit status is 1.
func TestVMArm64Reference(t *testing.T) {
	arm := testenv.VMArm64Kernel(t)
	ecliArm64(t)
	reg := registrytest.NewServer(t, registrytest.ServerOptions{})
	env := []string{"ECC_STORE_DIR=" + t.TempDir(), "DOCKER_CONFIG=" + t.TempDir()}
	repo := reg.Host + "/ecc/execsnoop"
	for tag, flags := range map[string][]string{"multi": {"--arch", "x86_64,arm64"}, "x86": {"--arch", "x86_64"}} {
		if r := run(t, "", env, "", eccBin, "push", buildVM(t, "execsnoop", true, flags...), repo+":"+tag); r.status != 0 {
			t.Fatalf("push %s: %s", tag, r.stderr)
		}
	}
	reps, status := eccTestAll(t, env, []string{arm}, repo+":x86")
	if rep := reps[0]; status != 1 || rep.Passed || rep.Arch != "arm64" || rep.BootMS != 0 ||
		rep.Error != "package execsnoop has no arm64 object; build with --arch x86_64,arm64" {
		t.Errorf("x86_64 only: status %d, %+v", status, rep)
	}
	reps, status = eccTestAll(t, env, []string{arm}, "--samples", "3", repo+":multi")
	if status != 0 || reps[0].Arch != "arm64" {
		t.Errorf("multi: status %d, arch %q", status, reps[0].Arch)
	}
	checkExecEvents(t, reps[0])
}
