package attach

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/ecc-bpf/ecc/compiler"
	"github.com/ecc-bpf/ecc/internal/testenv"
)

// Slots of the hits map, in the order of enum slot in testdata/attach.bpf.c.
const (
	sTP = iota
	sTPShort
	sRawTP
	sTPBTF
	sPerf
	sIter
	sXDP
	sTC
	sTCXEgress
	sClassifier
	sCgSKB
	sSockCreate
	sConnect4
	sSockops
	sSysctl
	sSocket
	sUprobe
	sUretprobePID
	sUprobePath
	sUprobeMulti
	sKprobe
	sKretprobe
	sKsyscall
	sKprobeMulti
	sFentry
	sFexit
	sLSM
)

// kenv is the compiled test object, its shared hits map and the uprobe
// target binary.
type kenv struct {
	spec   *ebpf.CollectionSpec
	hits   *ebpf.Map
	target string
	dir    string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if kenvVal != nil {
		kenvVal.hits.Close()
		os.RemoveAll(kenvVal.dir)
	}
	os.Exit(code)
}

var (
	kenvOnce sync.Once
	kenvVal  *kenv
	kenvErr  error
)

func bpfArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86"
	case "arm64":
		return "arm64"
	case "riscv64":
		return "riscv"
	case "s390x":
		return "s390"
	case "ppc64le":
		return "powerpc"
	}
	return runtime.GOARCH
}

// kernelEnv compiles testdata (once per test binary) and creates the hits
// map, or skips (fails with ECC_REQUIRE_KERNEL=1) without BPF or clang.
func kernelEnv(t *testing.T) *kenv {
	t.Helper()
	testenv.Kernel(t)
	clang := testenv.Clang(t)
	cc := "cc"
	if _, err := exec.LookPath(cc); err != nil {
		cc = clang
	}
	kenvOnce.Do(func() { kenvVal, kenvErr = buildKernelEnv(clang, cc) })
	if kenvErr != nil {
		t.Fatal(kenvErr)
	}
	return kenvVal
}

func buildKernelEnv(clang, cc string) (*kenv, error) {
	_ = rlimit.RemoveMemlock() // EPERM without CAP_SYS_RESOURCE; memory is charged to the cgroup anyway
	// The directory holds the uprobe target, which must outlive every
	// test; TestMain removes it.
	dir, err := os.MkdirTemp("", "ecc-attach-test-")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*kenv, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	target := filepath.Join(dir, "target")
	if out, err := exec.Command(cc, "-O1", "-g", "-o", target, "testdata/target.c").CombinedOutput(); err != nil {
		return fail(fmt.Errorf("compile the uprobe target with %s: %v\n%s", cc, err, out))
	}
	if err := compiler.GenerateVmlinuxFile(filepath.Join(dir, "vmlinux.h"), "/sys/kernel/btf/vmlinux"); err != nil {
		return fail(fmt.Errorf("generate vmlinux.h: %w", err))
	}
	obj := filepath.Join(dir, "attach.bpf.o")
	cmd := exec.Command(clang, "-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_"+bpfArch(),
		"-I", dir, "-I", "../../templates/include", fmt.Sprintf("-DTARGET=%q", target),
		"-c", "testdata/attach.bpf.c", "-o", obj)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out))
	}
	spec, err := ebpf.LoadCollectionSpec(obj)
	if err != nil {
		return fail(err)
	}
	if err := spec.Variables["target_tgid"].Set(uint32(os.Getpid())); err != nil {
		return fail(fmt.Errorf("set target_tgid: %w", err))
	}
	hits, err := ebpf.NewMap(spec.Maps["hits"])
	if err != nil {
		return fail(fmt.Errorf("create hits map: %w", err))
	}
	return &kenv{spec: spec, hits: hits, target: target, dir: dir}, nil
}

// load loads one program of the object on its own, sharing the hits map,
// so that programs this kernel refuses do not stop the others.
func (k *kenv) load(t *testing.T, name string) (*ebpf.Program, error) {
	t.Helper()
	spec := k.spec.Copy()
	if spec.Programs[name] == nil {
		t.Fatalf("no program %s in testdata/attach.bpf.c", name)
	}
	for n := range spec.Programs {
		if n != name {
			delete(spec.Programs, n)
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{
		MapReplacements: map[string]*ebpf.Map{"hits": k.hits},
	})
	if err != nil {
		return nil, err
	}
	prog := coll.DetachProgram(name)
	coll.Close()
	t.Cleanup(func() { prog.Close() })
	return prog, nil
}

func (k *kenv) mustLoad(t *testing.T, name string) *ebpf.Program {
	t.Helper()
	prog, err := k.load(t, name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return prog
}

func (k *kenv) plan(t *testing.T, name string, opts Options) *Plan {
	t.Helper()
	p, err := PlanFor(k.spec.Programs[name], &opts)
	if err != nil {
		t.Fatalf("PlanFor(%s): %v", name, err)
	}
	return p
}

// attach loads, plans and attaches one program; the link is closed at
// the end of the test if the test did not close it.
func (k *kenv) attach(t *testing.T, name string, opts Options) Link {
	t.Helper()
	prog := k.mustLoad(t, name)
	p := k.plan(t, name, opts)
	l, err := Attach(prog, p)
	if err != nil {
		t.Fatalf("Attach(%s): %v", name, err)
	}
	t.Logf("%s: %s", name, l)
	t.Cleanup(func() { l.Close() })
	return l
}

func (k *kenv) count(t *testing.T, slot uint32) uint64 {
	t.Helper()
	var v uint64
	if err := k.hits.Lookup(slot, &v); err != nil {
		t.Fatalf("lookup hits[%d]: %v", slot, err)
	}
	return v
}

// delta runs activity and returns how much each slot grew.
func (k *kenv) delta(t *testing.T, activity func(), slots ...uint32) []uint64 {
	t.Helper()
	before := make([]uint64, len(slots))
	for i, s := range slots {
		before[i] = k.count(t, s)
	}
	activity()
	out := make([]uint64, len(slots))
	for i, s := range slots {
		out[i] = k.count(t, s) - before[i]
	}
	return out
}

// closeAndCheckDetached closes l, then checks that its BPF links are gone
// and that the activity no longer moves the counter.
func (k *kenv) closeAndCheckDetached(t *testing.T, l Link, slot uint32, activity func()) {
	t.Helper()
	var ids []link.ID
	for _, x := range l.Links() {
		info, err := x.Info()
		if err != nil {
			t.Fatalf("link info of %s: %v", l, err)
		}
		ids = append(ids, info.ID)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("close %s: %v", l, err)
	}
	for _, id := range ids {
		if x, err := link.NewFromID(id); err == nil {
			x.Close()
			t.Errorf("%s: link %d still exists after Close", l, id)
		}
	}
	if d := k.delta(t, activity, slot)[0]; d != 0 {
		t.Errorf("%s: %d hits after Close, want 0", l, d)
	}
}

// Activities.

func syscalls(n int) func() {
	return func() {
		for range n {
			syscall.Getpid()
			syscall.Getppid()
		}
	}
}

// udp sends n datagrams to a local listener over lo and receives them.
func udp(t *testing.T, n int) func() {
	return func() {
		t.Helper()
		ln, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		c, err := net.DialUDP("udp4", nil, ln.LocalAddr().(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		buf := make([]byte, 64)
		for i := range n {
			if _, err := c.Write([]byte("ecc attach test " + strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
			ln.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, _, err := ln.ReadFromUDP(buf); err != nil {
				t.Fatalf("receive datagram %d: %v", i, err)
			}
		}
	}
}

// tcp opens one TCP connection over lo.
func tcp(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	c.Close()
}

func spin(d time.Duration) func() {
	return func() {
		x := 0
		for end := time.Now().Add(d); time.Now().Before(end); {
			for i := range 10000 {
				x += i
			}
		}
		_ = x
	}
}

// targetProc is a started uprobe target waiting for the go-ahead.
type targetProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func (k *kenv) startTarget(t *testing.T, n, m int) *targetProc {
	t.Helper()
	cmd := exec.Command(k.target, strconv.Itoa(n), strconv.Itoa(m))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return &targetProc{cmd, stdin}
}

func (p *targetProc) run(t *testing.T) {
	t.Helper()
	p.stdin.Write([]byte("g"))
	p.stdin.Close()
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("target: %v", err)
	}
}

func TestKernelTracepoints(t *testing.T) {
	k := kernelEnv(t)
	const n = 25
	progs := []struct {
		name string
		slot uint32
		kind Kind
		min  uint64
	}{
		{"tp_getpid", sTP, Tracepoint, n},
		{"tp_getppid", sTPShort, Tracepoint, n},
		{"rawtp_sys_enter", sRawTP, RawTracepoint, 2 * n},
		{"tpbtf_sys_enter", sTPBTF, TracingBTF, 2 * n},
	}
	var ls []Link
	for _, p := range progs {
		if got := k.plan(t, p.name, Options{}).Kind; got != p.kind {
			t.Fatalf("%s planned as %v, want %v", p.name, got, p.kind)
		}
		ls = append(ls, k.attach(t, p.name, Options{}))
	}
	slots := []uint32{sTP, sTPShort, sRawTP, sTPBTF}
	d := k.delta(t, syscalls(n), slots...)
	for i, p := range progs {
		t.Logf("%s: %d hits for %d getpid + %d getppid", p.name, d[i], n, n)
		if d[i] < p.min {
			t.Errorf("%s: %d hits, want at least %d", p.name, d[i], p.min)
		}
	}
	for i, l := range ls {
		k.closeAndCheckDetached(t, l, progs[i].slot, syscalls(n))
	}
}

func TestKernelPerfEvent(t *testing.T) {
	k := kernelEnv(t)
	l := k.attach(t, "perf_sample", Options{Freq: 199})
	data, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		t.Fatal(err)
	}
	cpus, err := parseCPUList(string(data))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(l.Links()); got != len(cpus) {
		t.Errorf("%d perf links, want one per online CPU (%d)", got, len(cpus))
	}
	d := k.delta(t, spin(300*time.Millisecond), sPerf)[0]
	t.Logf("perf_event: %d samples in 300 ms at 199 Hz on %d CPUs", d, len(cpus))
	if d == 0 {
		t.Error("perf_event: no samples")
	}
	k.closeAndCheckDetached(t, l, sPerf, spin(100*time.Millisecond))
}

func TestKernelIter(t *testing.T) {
	k := kernelEnv(t)
	l := k.attach(t, "iter_task", Options{})
	it, ok := l.(*IterLink)
	if !ok {
		t.Fatalf("iter link is a %T, want *IterLink", l)
	}
	before := k.count(t, sIter)
	r, err := it.Open()
	if err != nil {
		t.Fatal(err)
	}
	text, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := strconv.Itoa(os.Getpid()) + " "
	found := false
	lines := 0
	for sc := bufio.NewScanner(strings.NewReader(string(text))); sc.Scan(); lines++ {
		if strings.HasPrefix(sc.Text(), want) {
			found = true
			t.Logf("iter/task lists us: %q", sc.Text())
		}
	}
	if !found {
		t.Errorf("iter/task output (%d lines) does not list our pid %d:\n%.500s", lines, os.Getpid(), text)
	}
	if d := k.count(t, sIter) - before; d < uint64(lines) {
		t.Errorf("iter/task: %d runs for %d lines", d, lines)
	} else {
		t.Logf("iter/task: %d tasks visited, %d processes printed", d, lines)
	}
	k.closeAndCheckDetached(t, l, sIter, func() {})
	if _, err := it.Open(); err == nil {
		t.Error("Open after Close succeeded")
	}
}

func TestKernelXDP(t *testing.T) {
	k := kernelEnv(t)
	testenv.Exclusive(t, "xdp-lo")
	l := k.attach(t, "xdp_count", Options{IfName: "lo"})
	if !strings.Contains(l.String(), "mode") {
		t.Errorf("xdp link %q does not say which mode", l)
	}
	d := k.delta(t, udp(t, 10), sXDP)[0]
	t.Logf("xdp on lo: %d packets for 10 datagrams", d)
	if d < 10 {
		t.Errorf("xdp on lo: %d packets, want at least 10", d)
	}
	k.closeAndCheckDetached(t, l, sXDP, udp(t, 5))
}

func TestKernelTC(t *testing.T) {
	k := kernelEnv(t)
	for _, c := range []struct {
		name string
		slot uint32
		kind Kind
	}{
		{"tc_count", sTC, TC},
		{"tcx_egress_count", sTCXEgress, TCX},
	} {
		if got := k.plan(t, c.name, Options{IfName: "lo"}).Kind; got != c.kind {
			t.Fatalf("%s planned as %v, want %v", c.name, got, c.kind)
		}
		l := k.attach(t, c.name, Options{IfName: "lo"})
		if !strings.HasPrefix(l.String(), "tcx ") || len(l.Links()) != 1 {
			t.Errorf("%s: %q with %d links, want a TCX link", c.name, l, len(l.Links()))
		}
		d := k.delta(t, udp(t, 10), c.slot)[0]
		t.Logf("%s: %d packets for 10 datagrams", l, d)
		if d < 10 {
			t.Errorf("%s: %d packets, want at least 10", l, d)
		}
		k.closeAndCheckDetached(t, l, c.slot, udp(t, 5))
	}
}

// TestKernelTCLegacy forces the clsact qdisc + bpf filter fallback that
// kernels before 6.6 (no TCX) get.
func TestKernelTCLegacy(t *testing.T) {
	k := kernelEnv(t)
	forceLegacyTC = true
	t.Cleanup(func() { forceLegacyTC = false })
	// Leave lo as we found it: remove the clsact qdisc if the test adds it.
	if tc, err := exec.LookPath("tc"); err == nil {
		out, err := exec.Command(tc, "qdisc", "show", "dev", "lo").CombinedOutput()
		if err == nil && !strings.Contains(string(out), "clsact") {
			t.Cleanup(func() {
				lo, _ := net.InterfaceByName("lo")
				q := tcMsg(int32(lo.Index), 0xFFFF0000, tcHClsact, 0)
				q = appendAttr(q, unix.TCA_KIND, cstr("clsact"))
				if _, err := netlinkRequest(unix.RTM_DELQDISC, 0, q); err != nil {
					t.Errorf("delete the clsact qdisc of lo: %v", err)
				}
			})
		}
	}
	l := k.attach(t, "classifier_count", Options{IfName: "lo"})
	if !strings.Contains(l.String(), "clsact") {
		t.Errorf("legacy tc link: %q", l)
	}
	tcShow := func() string {
		tc, err := exec.LookPath("tc")
		if err != nil {
			return ""
		}
		out, _ := exec.Command(tc, "filter", "show", "dev", "lo", "ingress").CombinedOutput()
		return string(out)
	}
	if out := tcShow(); out != "" && !strings.Contains(out, "classifier_count") {
		t.Errorf("tc filter show dev lo ingress does not list the filter:\n%s", out)
	}
	d := k.delta(t, udp(t, 10), sClassifier)[0]
	t.Logf("%s: %d packets for 10 datagrams", l, d)
	if d < 10 {
		t.Errorf("%s: %d packets, want at least 10", l, d)
	}
	k.closeAndCheckDetached(t, l, sClassifier, udp(t, 5))
	if out := tcShow(); strings.Contains(out, "classifier_count") {
		t.Errorf("filter still there after Close:\n%s", out)
	}
}

func TestKernelCgroup(t *testing.T) {
	k := kernelEnv(t)
	root, err := CgroupRoot()
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Fatalf("CgroupRoot() = %s, not a cgroup2 mount (%v)", root, err)
	}
	progs := []struct {
		name string
		slot uint32
		min  uint64
	}{
		{"cg_skb_egress", sCgSKB, 5},
		{"cg_sock_create", sSockCreate, 2},
		{"cg_connect4", sConnect4, 2},
		{"cg_sockops", sSockops, 1},
		{"cg_sysctl", sSysctl, 1},
	}
	activity := func() {
		udp(t, 5)()
		tcp(t)
		if _, err := os.ReadFile("/proc/sys/kernel/ostype"); err != nil {
			t.Fatal(err)
		}
	}
	var ls []Link
	slots := []uint32{}
	for _, p := range progs {
		plan := k.plan(t, p.name, Options{Cgroup: root}) // the root, asked for
		if plan.Kind != Cgroup || plan.Cgroup != root {
			t.Fatalf("%s: planned %+v, want Cgroup on %s", p.name, plan, root)
		}
		ls = append(ls, k.attach(t, p.name, Options{Cgroup: root}))
		slots = append(slots, p.slot)
	}
	d := k.delta(t, activity, slots...)
	for i, p := range progs {
		t.Logf("%s on %s: %d hits", p.name, root, d[i])
		if d[i] < p.min {
			t.Errorf("%s: %d hits, want at least %d", p.name, d[i], p.min)
		}
	}
	for i, l := range ls {
		k.closeAndCheckDetached(t, l, progs[i].slot, activity)
	}
}

func TestKernelSocketFilter(t *testing.T) {
	k := kernelEnv(t)
	l := k.attach(t, "socket_count", Options{IfName: "lo"})
	d := k.delta(t, udp(t, 10), sSocket)[0]
	t.Logf("socket filter on lo: %d packets for 10 datagrams (each is seen going out and coming in)", d)
	if d < 10 {
		t.Errorf("socket filter: %d packets, want at least 10", d)
	}
	k.closeAndCheckDetached(t, l, sSocket, udp(t, 5))
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestKernelUprobes(t *testing.T) {
	k := kernelEnv(t)
	fn := k.target + ":ecc_target_func"
	a := k.startTarget(t, 5, 0) // 5 calls of ecc_target_func
	b := k.startTarget(t, 7, 3) // 7 calls, and 3 of ecc_target_other
	pidA := a.cmd.Process.Pid

	bare := k.attach(t, "uprobe_bare", Options{Uprobe: []string{fn}})
	ret := k.attach(t, "uretprobe_pid", Options{Uprobe: []string{fn}, PID: pidA})
	path := k.attach(t, "uprobe_path", Options{})
	multi := k.attach(t, "uprobe_multi", Options{})
	if p := k.plan(t, "uprobe_path", Options{}); p.Binary != k.target || p.Symbol != "ecc_target_func" {
		t.Errorf("uprobe_path (SEC %q) planned %+v", p.Section, p)
	}

	d := k.delta(t, func() { a.run(t); b.run(t) }, sUprobe, sUretprobePID, sUprobePath, sUprobeMulti)
	for _, c := range []struct {
		l    Link
		got  uint64
		want uint64
	}{
		{bare, d[0], 12},
		{ret, d[1], 5}, // process A only
		{path, d[2], 12},
		{multi, d[3], 15}, // ecc_target_* matches both functions
	} {
		t.Logf("%s: %d hits", c.l, c.got)
		if c.got != c.want {
			t.Errorf("%s: %d hits, want %d", c.l, c.got, c.want)
		}
	}
	again := func() { k.startTarget(t, 4, 4).run(t) }
	k.closeAndCheckDetached(t, bare, sUprobe, again)
	k.closeAndCheckDetached(t, ret, sUretprobePID, again)
	k.closeAndCheckDetached(t, path, sUprobePath, again)
	k.closeAndCheckDetached(t, multi, sUprobeMulti, again)

	// Missing and imported symbols are clear errors.
	prog := k.mustLoad(t, "uprobe_bare")
	for _, c := range []struct{ target, want string }{
		{k.target + ":no_such_function", "symbol no_such_function not found in " + k.target},
		{k.target + ":printf", "printf is not defined in " + k.target + " but in a shared library"},
	} {
		p := k.plan(t, "uprobe_bare", Options{Uprobe: []string{c.target}})
		l, err := Attach(prog, p)
		if err == nil {
			l.Close()
			t.Errorf("Attach(%s) succeeded", c.target)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || IsNotSupported(err) {
			t.Errorf("Attach(%s) = %v, want an error containing %q", c.target, err, c.want)
		}
	}
}

// TestKernelMaybeUnsupported loads and attaches the kinds this kernel may
// lack (kprobes need CONFIG_KPROBES, kprobe.multi CONFIG_FPROBE; fentry,
// fexit and lsm fail with EPERM at load on some kernels): either they work
// and count, or the error satisfies IsNotSupported.
func TestKernelMaybeUnsupported(t *testing.T) {
	k := kernelEnv(t)
	openFile := func() {
		f, err := os.Open("/proc/self/stat")
		if err == nil {
			f.Close()
		}
	}
	unlink := func() {
		f := filepath.Join(t.TempDir(), "x")
		os.WriteFile(f, nil, 0o600)
		os.Remove(f)
	}
	for _, c := range []struct {
		name     string
		slot     uint32
		activity func()
	}{
		{"kprobe_openat2", sKprobe, openFile},
		{"kretprobe_openat2", sKretprobe, openFile},
		{"ksyscall_getpid", sKsyscall, syscalls(5)},
		{"kprobe_multi_open", sKprobeMulti, openFile},
		{"fentry_unlinkat", sFentry, unlink},
		{"fexit_unlinkat", sFexit, unlink},
		{"lsm_file_open", sLSM, openFile},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := k.plan(t, c.name, Options{})
			prog, err := k.load(t, c.name)
			if err != nil {
				if !IsNotSupported(err) {
					t.Fatalf("load %s: %v; IsNotSupported = false", c.name, err)
				}
				t.Logf("%s: not supported at load: %v", p, err)
				return
			}
			l, err := Attach(prog, p)
			if err != nil {
				if !IsNotSupported(err) || !errors.Is(err, ErrNotSupported) {
					t.Fatalf("Attach %s: %v; IsNotSupported = %v", c.name, err, IsNotSupported(err))
				}
				t.Logf("%s: not supported at attach: %v", p, err)
				return
			}
			defer l.Close()
			d := k.delta(t, c.activity, c.slot)[0]
			t.Logf("%s: supported, %d hits", l, d)
			if d == 0 {
				t.Errorf("%s: attached but no hits", l)
			}
			k.closeAndCheckDetached(t, l, c.slot, c.activity)
		})
	}
}

func TestKernelErrors(t *testing.T) {
	k := kernelEnv(t)
	prog := k.mustLoad(t, "xdp_count")
	p := k.plan(t, "xdp_count", Options{IfName: "ecc-no-such-if0"})
	if _, err := Attach(prog, p); err == nil || !strings.Contains(err.Error(), `network interface "ecc-no-such-if0" (--ifname)`) {
		t.Errorf("Attach on a missing interface: %v", err)
	}
	cg := k.mustLoad(t, "cg_sysctl")
	p = k.plan(t, "cg_sysctl", Options{Cgroup: "/nonexistent/cgroup"})
	if _, err := Attach(cg, p); err == nil || !strings.Contains(err.Error(), "cgroup /nonexistent/cgroup") {
		t.Errorf("Attach to a missing cgroup: %v", err)
	}
	tp := k.mustLoad(t, "tp_getpid")
	p = &Plan{Program: "tp_getpid", Section: "tracepoint/syscalls/sys_enter_no_such", Kind: Tracepoint, Group: "syscalls", Name: "sys_enter_no_such"}
	if _, err := Attach(tp, p); err == nil || !strings.Contains(err.Error(), "does not exist in this kernel") || IsNotSupported(err) {
		t.Errorf("Attach to a missing tracepoint: %v", err)
	}
}

func TestKernelEnsureFS(t *testing.T) {
	testenv.Kernel(t)
	if err := EnsureFS(); err != nil {
		t.Fatalf("EnsureFS: %v", err)
	}
	for _, fs := range pseudoFSes {
		if !isMounted(fs.dir, fs.magic) {
			t.Errorf("%s is not mounted on %s after EnsureFS", fs.fstype, fs.dir)
		}
	}
	// Idempotent: nothing new is mounted the second time.
	before, _ := os.ReadFile("/proc/self/mountinfo")
	if err := EnsureFS(); err != nil {
		t.Fatalf("EnsureFS again: %v", err)
	}
	after, _ := os.ReadFile("/proc/self/mountinfo")
	if len(after) != len(before) {
		t.Errorf("second EnsureFS changed the mount table")
	}
	if tracefsDir() == "" {
		t.Error("no tracefs found after EnsureFS")
	}
}
