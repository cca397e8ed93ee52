package runtime

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ecc-bpf/ecc/compiler"
	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/runtime/attach"
	"github.com/ecc-bpf/ecc/source"
)

var (
	buildCacheOnce sync.Once
	buildCacheDir  string
)

// buildPackage builds a source (and its export header, "" for none) with
// ecc's compiler into a temp folder and opens the package, skipping
// without clang or BPF.
func buildPackage(t *testing.T, src, hdr string) *source.Source {
	t.Helper()
	testenv.Clang(t)
	testenv.Kernel(t)
	buildCacheOnce.Do(func() {
		buildCacheDir, _ = os.MkdirTemp("", "ecc-runtime-test-cache-")
	})
	var stderr bytes.Buffer
	res, err := compiler.Build(context.Background(), &compiler.Options{
		Source: src, ExportHeader: hdr, OutDir: t.TempDir(), CacheDir: buildCacheDir, Stderr: &stderr,
	})
	if err != nil {
		t.Fatalf("build %s: %v\n%s", src, err, stderr.String())
	}
	s, err := source.Open(context.Background(), res.Outputs[0].Package, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// buildExample builds examples/NAME with ecc's compiler into a temp folder.
func buildExample(t *testing.T, name string) *source.Source {
	t.Helper()
	return buildPackage(t, filepath.Join("..", "examples", name, name+".bpf.c"), headerOf(filepath.Join("..", "examples", name, name+".h")))
}

// headerOf returns path when the file exists, else "".
func headerOf(path string) string {
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return path
}

// running is a Run in the background.
type running struct {
	out, errs *testenv.SyncBuffer
	cancel    context.CancelFunc
	done      chan error
}

func start(t *testing.T, src *source.Source, args []string, o Options) *running {
	t.Helper()
	r := &running{out: &testenv.SyncBuffer{}, errs: &testenv.SyncBuffer{}, done: make(chan error, 1)}
	o.Stdout, o.Stderr = r.out, r.errs
	ready := make(chan struct{})
	o.Ready = func() { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- Run(ctx, src.Name, src.Package, args, &o) }()
	select {
	case <-ready:
	case err := <-r.done:
		t.Fatalf("run ended before attaching: %v\nstderr: %s", err, r.errs.String())
	case <-time.After(20 * time.Second):
		t.Fatal("run did not attach within 20s")
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) {
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("run: %v\nstderr: %s", err, r.errs.String())
		}
	case <-time.After(10 * time.Second):
		t.Error("run did not stop within 10s")
	}
	r.done <- nil // later stops return at once
}

// waitFor polls the output until match finds a line, or fails after 10s.
func (r *running) waitFor(t *testing.T, what string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range r.out.JSONLines() {
			if match(m) {
				return m
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %s in the output:\n%s\nstderr: %s", what, tail(r.out.String(), 3000), r.errs.String())
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

func TestExecsnoop(t *testing.T) {
	src := buildExample(t, "execsnoop")
	r := start(t, src, nil, Options{JSON: true})
	// A uniquely named program, run with a unique argument.
	dir := t.TempDir()
	bin := filepath.Join(dir, "ecc-exec-probe")
	data, _ := os.ReadFile("/bin/true")
	os.WriteFile(bin, data, 0o755)
	mark := "mark-" + strconv.Itoa(os.Getpid())
	cmd := exec.Command(bin, mark, "second")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	ev := r.waitFor(t, "exec of "+bin, func(m map[string]any) bool { return m["filename"] == bin })
	if num(ev["pid"]) != int64(cmd.Process.Pid) {
		t.Errorf("pid %v, want %d", ev["pid"], cmd.Process.Pid)
	}
	if num(ev["ppid"]) != int64(os.Getpid()) {
		t.Errorf("ppid %v, want %d", ev["ppid"], os.Getpid())
	}
	if ev["comm"] != "ecc-exec-probe" {
		t.Errorf("comm %q", ev["comm"])
	}
	if args, _ := ev["args"].(string); !strings.Contains(args, mark+" second") {
		t.Errorf("args %q lack %q", args, mark)
	}
	if num(ev["uid"]) != int64(os.Getuid()) {
		t.Errorf("uid %v", ev["uid"])
	}
}

func TestExecsnoopText(t *testing.T) {
	src := buildExample(t, "execsnoop")
	r := start(t, src, nil, Options{})
	exec.Command("/bin/true", "text-mark").Run()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(r.out.String(), "text-mark") {
		time.Sleep(50 * time.Millisecond)
	}
	out := r.out.String()
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "TIME     ") || !strings.Contains(lines[0], "PID") || !strings.Contains(lines[0], "FILENAME") {
		t.Fatalf("header %q", lines[0])
	}
	if !strings.Contains(out, "/bin/true") || !strings.Contains(out, "text-mark") {
		t.Fatalf("no event line:\n%s", tail(out, 2000))
	}
}

func TestOpensnoopWithFlags(t *testing.T) {
	src := buildExample(t, "opensnoop")
	pid := strconv.Itoa(os.Getpid())
	r := start(t, src, []string{"--pid", pid}, Options{JSON: true})
	name := filepath.Join(t.TempDir(), "ecc-open-"+pid)
	os.WriteFile(name, []byte("x"), 0o644)
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	missing := name + "-missing"
	os.Open(missing)
	ev := r.waitFor(t, "open of "+name, func(m map[string]any) bool { return m["fname"] == name && num(m["ret"]) >= 0 })
	if num(ev["pid"]) != int64(os.Getpid()) {
		t.Errorf("pid %v, want %d", ev["pid"], os.Getpid())
	}
	fail := r.waitFor(t, "failed open of "+missing, func(m map[string]any) bool { return m["fname"] == missing })
	if num(fail["ret"]) != -int64(syscall.ENOENT) {
		t.Errorf("ret %v, want -ENOENT", fail["ret"])
	}
	// The --pid filter: a child's opens are not reported.
	exec.Command("cat", name).Run()
	time.Sleep(300 * time.Millisecond)
	for _, m := range r.out.JSONLines() {
		if num(m["pid"]) != int64(os.Getpid()) {
			t.Fatalf("--pid %s let through pid %v", pid, m["pid"])
		}
	}
}

func TestExitsnoop(t *testing.T) {
	src := buildExample(t, "exitsnoop")
	r := start(t, src, nil, Options{JSON: true})
	cmd := exec.Command("/bin/sh", "-c", "exit 3")
	cmd.Run()
	ev := r.waitFor(t, "exit of the shell", func(m map[string]any) bool { return num(m["pid"]) == int64(cmd.Process.Pid) })
	if num(ev["exit_code"]) != 3 {
		t.Errorf("exit_code %v, want 3 (%v)", ev["exit_code"], ev)
	}
	if ev["comm"] != "sh" {
		t.Errorf("comm %v", ev["comm"])
	}
}

func TestRunqlat(t *testing.T) {
	src := buildExample(t, "runqlat")
	r := start(t, src, nil, Options{JSON: true})
	// Make the scheduler work: processes that sleep and wake.
	for i := 0; i < 20; i++ {
		exec.Command("sleep", "0.01").Run()
	}
	m := r.waitFor(t, "a runqlat histogram", func(m map[string]any) bool {
		h, _ := m["hist"].(map[string]any)
		bs, _ := h["buckets"].([]any)
		var total int64
		for _, b := range bs {
			bm, _ := b.(map[string]any)
			total += num(bm["count"])
		}
		return m["map"] == "hists" && total > 0
	})
	if h := m["hist"].(map[string]any); h["unit"] != "usecs" {
		t.Errorf("unit %v", h["unit"])
	}
}

func TestRunqlatText(t *testing.T) {
	src := buildExample(t, "runqlat")
	r := start(t, src, nil, Options{})
	for i := 0; i < 10; i++ {
		exec.Command("sleep", "0.01").Run()
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(r.out.String(), "distribution") {
		time.Sleep(100 * time.Millisecond)
	}
	out := r.out.String()
	if !strings.Contains(out, "usecs") || !strings.Contains(out, "distribution") || !strings.Contains(out, "|*") {
		t.Fatalf("no histogram:\n%s", tail(out, 2000))
	}
}

// sendUDP sends n datagrams over lo.
func sendUDP(t *testing.T, n int) {
	t.Helper()
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("udp", l.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < n; i++ {
		c.Write([]byte("ecc test packet"))
	}
}

// kvPackets sums the packets of IPv4 UDP entries in default_kv JSON output.
func kvPackets(m map[string]any) int64 {
	ents, _ := m["entries"].([]any)
	var n int64
	for _, e := range ents {
		em, _ := e.(map[string]any)
		k, _ := em["key"].(map[string]any)
		v, _ := em["value"].(map[string]any)
		if num(k["ip_proto"]) == 17 {
			n += num(v["packets"])
		}
	}
	return n
}

func TestXdpcount(t *testing.T) {
	src := buildExample(t, "xdpcount")
	testenv.Exclusive(t, "xdp-lo")
	r := start(t, src, nil, Options{JSON: true, Attach: attach.Options{IfName: "lo"}})
	sendUDP(t, 50)
	r.waitFor(t, "50 UDP packets counted", func(m map[string]any) bool { return kvPackets(m) >= 50 })
}

func TestTccount(t *testing.T) {
	src := buildExample(t, "tccount")
	r := start(t, src, nil, Options{JSON: true, Attach: attach.Options{IfName: "lo"}})
	sendUDP(t, 50)
	r.waitFor(t, "50 UDP packets counted", func(m map[string]any) bool { return kvPackets(m) >= 50 })
}

func TestXdpNeedsIfname(t *testing.T) {
	src := buildExample(t, "xdpcount")
	err := Run(context.Background(), src.Name, src.Package, nil, &Options{Stdout: &testenv.SyncBuffer{}, Stderr: &testenv.SyncBuffer{}})
	if err == nil || !strings.Contains(err.Error(), "--ifname") {
		t.Fatalf("got %v", err)
	}
}

func TestProfile(t *testing.T) {
	src := buildExample(t, "profile")
	// A process that burns CPU in a function with a known name, built with
	// symbols and frame pointers so that its user stacks resolve.
	cc := testenv.Tool(t, "cc")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "spin.c"), []byte(`
__attribute__((noinline)) void ecc_spin_target(void) { volatile unsigned long n = 0; for (;;) n++; }
int main(void) { ecc_spin_target(); return 0; }
`), 0o644)
	bin := filepath.Join(dir, "spin")
	if out, err := exec.Command(cc, "-O0", "-fno-omit-frame-pointer", "-o", bin, filepath.Join(dir, "spin.c")).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	busy := exec.Command(bin)
	if err := busy.Start(); err != nil {
		t.Fatal(err)
	}
	defer busy.Process.Kill()
	pid := busy.Process.Pid
	r := start(t, src, []string{"--pid", strconv.Itoa(pid)}, Options{JSON: true, Attach: attach.Options{Freq: 99}})
	ev := r.waitFor(t, "a sample in ecc_spin_target", func(m map[string]any) bool {
		us, _ := m["ustack_syms"].([]any)
		for _, f := range us {
			if s, _ := f.(string); strings.HasPrefix(s, "ecc_spin_target+0x") && strings.HasSuffix(s, "(spin)") {
				return num(m["pid"]) == int64(pid)
			}
		}
		return false
	})
	if ev["comm"] != "spin" {
		t.Errorf("comm %v", ev["comm"])
	}
	// Kernel frames, when a sample hit the kernel, are symbolised too.
	for _, m := range r.out.JSONLines() {
		ks, _ := m["kstack_syms"].([]any)
		for _, f := range ks {
			if s, _ := f.(string); s == "[unknown]" || strings.HasPrefix(s, "0x") {
				t.Errorf("kernel frame not symbolised: %v", ks)
			}
		}
	}
}

func TestBashreadline(t *testing.T) {
	if _, err := os.Stat("/bin/bash"); err != nil {
		testenv.Missing(t, "no /bin/bash")
	}
	src := buildExample(t, "bashreadline")
	r := start(t, src, nil, Options{JSON: true})
	master, slave := testenv.OpenPTY(t)
	defer master.Close()
	bash := exec.Command("/bin/bash", "--norc", "--noprofile", "-i")
	bash.Stdin, bash.Stdout, bash.Stderr = slave, slave, slave
	bash.Env = []string{"PATH=/usr/bin:/bin", "TERM=dumb", "PS1=$ "}
	bash.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := bash.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	defer bash.Process.Kill()
	go func() { // drain the terminal
		buf := make([]byte, 4096)
		for {
			if _, err := master.Read(buf); err != nil {
				return
			}
		}
	}()
	line := "echo ecc-readline-" + strconv.Itoa(os.Getpid())
	time.Sleep(300 * time.Millisecond)
	master.Write([]byte(line + "\n"))
	ev := r.waitFor(t, "the typed line", func(m map[string]any) bool { return m["line"] == line })
	if num(ev["pid"]) != int64(bash.Process.Pid) {
		t.Errorf("pid %v, want bash's %d", ev["pid"], bash.Process.Pid)
	}
	master.Write([]byte("exit\n"))
}
