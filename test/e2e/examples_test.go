package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

// The programs of examples/, built with ecc build and run with ecli run
// while the activity they trace happens.

// buildExample builds examples/NAME (with NAME.h, when there is one) with
// ecc build; it returns the package.
func buildExample(t *testing.T, name string) string {
	t.Helper()
	testenv.BPFBuild(t)
	testenv.Kernel(t)
	out := t.TempDir()
	args := []string{"build", "-o", out, repo("examples", name, name+".bpf.c")}
	if hdr := repo("examples", name, name+".h"); fileExists(hdr) {
		args = append(args, hdr)
	}
	if _, stderr, status := ecc(t, args...); status != 0 {
		t.Fatalf("ecc %s: status %d\n%s", strings.Join(args, " "), status, stderr)
	}
	return filepath.Join(out, "package.json")
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestExampleExecsnoop(t *testing.T) {
	r := startEcli(t, "run", "-j", buildExample(t, "execsnoop"))
	// A uniquely named program, run with a unique argument.
	bin := namedTrue(t, "ecc-exec-probe")
	mark := "mark-" + strconv.Itoa(os.Getpid())
	cmd := exec.Command(bin, mark, "second")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	ev := r.waitFor(t, "exec of "+bin, nil, func(m map[string]any) bool { return m["filename"] == bin })
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

func TestExampleExecsnoopText(t *testing.T) {
	r := startEcli(t, "run", buildExample(t, "execsnoop"))
	exec.Command("/bin/true", "text-mark").Run()
	out := waitOutput(r, "text-mark", 10*time.Second)
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "TIME     ") || !strings.Contains(lines[0], "PID") || !strings.Contains(lines[0], "FILENAME") {
		t.Fatalf("header %q", lines[0])
	}
	if !strings.Contains(out, "/bin/true") || !strings.Contains(out, "text-mark") {
		t.Fatalf("no event line:\n%s", tail(out, 2000))
	}
}

func TestExampleOpensnoopWithFlags(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	r := startEcli(t, "run", "-j", buildExample(t, "opensnoop"), "--pid", pid)
	name := filepath.Join(t.TempDir(), "ecc-open-"+pid)
	os.WriteFile(name, []byte("x"), 0o644)
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	missing := name + "-missing"
	os.Open(missing)
	ev := r.waitFor(t, "open of "+name, nil, func(m map[string]any) bool { return m["fname"] == name && num(m["ret"]) >= 0 })
	if num(ev["pid"]) != int64(os.Getpid()) {
		t.Errorf("pid %v, want %d", ev["pid"], os.Getpid())
	}
	fail := r.waitFor(t, "failed open of "+missing, nil, func(m map[string]any) bool { return m["fname"] == missing })
	if num(fail["ret"]) != -int64(syscall.ENOENT) {
		t.Errorf("ret %v, want -ENOENT", fail["ret"])
	}
	// The --pid filter: a child's opens are not reported.
	exec.Command("cat", name).Run()
	time.Sleep(300 * time.Millisecond)
	for _, m := range r.lines() {
		if num(m["pid"]) != int64(os.Getpid()) {
			t.Fatalf("--pid %s let through pid %v", pid, m["pid"])
		}
	}
}

func TestExampleExitsnoop(t *testing.T) {
	r := startEcli(t, "run", "-j", buildExample(t, "exitsnoop"))
	cmd := exec.Command("/bin/sh", "-c", "exit 3")
	cmd.Run()
	ev := r.waitFor(t, "exit of the shell", nil, func(m map[string]any) bool { return num(m["pid"]) == int64(cmd.Process.Pid) })
	if num(ev["exit_code"]) != 3 {
		t.Errorf("exit_code %v, want 3 (%v)", ev["exit_code"], ev)
	}
	if ev["comm"] != "sh" {
		t.Errorf("comm %v", ev["comm"])
	}
}

func TestExampleRunqlat(t *testing.T) {
	r := startEcli(t, "run", "-j", buildExample(t, "runqlat"))
	// Make the scheduler work: processes that sleep and wake.
	for i := 0; i < 20; i++ {
		exec.Command("sleep", "0.01").Run()
	}
	m := r.waitFor(t, "a runqlat histogram", nil, func(m map[string]any) bool {
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

func TestExampleRunqlatText(t *testing.T) {
	r := startEcli(t, "run", buildExample(t, "runqlat"))
	for i := 0; i < 10; i++ {
		exec.Command("sleep", "0.01").Run()
	}
	out := waitOutput(r, "distribution", 5*time.Second)
	if !strings.Contains(out, "usecs") || !strings.Contains(out, "distribution") || !strings.Contains(out, "|*") {
		t.Fatalf("no histogram:\n%s", tail(out, 2000))
	}
}

// udpPackets sums the packets of the IPv4 UDP entries of a default_kv line.
func udpPackets(m map[string]any) int64 {
	keys, values := kvEntries(m)
	var n int64
	for i, k := range keys {
		if num(k["ip_proto"]) == 17 {
			n += num(values[i]["packets"])
		}
	}
	return n
}

func TestExampleXdpcount(t *testing.T) {
	pkg := buildExample(t, "xdpcount")
	testenv.Exclusive(t, "xdp-lo")
	r := startEcli(t, "run", "-j", "--ifname", "lo", pkg)
	_, port := udpListener(t)
	sendUDP(t, port, 50)
	r.waitFor(t, "50 UDP packets counted", nil, func(m map[string]any) bool { return udpPackets(m) >= 50 })
}

func TestExampleTccount(t *testing.T) {
	r := startEcli(t, "run", "-j", "--ifname", "lo", buildExample(t, "tccount"))
	_, port := udpListener(t)
	sendUDP(t, port, 50)
	r.waitFor(t, "50 UDP packets counted", nil, func(m map[string]any) bool { return udpPackets(m) >= 50 })
}

func TestExampleXdpNeedsIfname(t *testing.T) {
	pkg := buildExample(t, "xdpcount")
	r := run(t, "", nil, "", ecliBin, "run", pkg)
	if r.status == 0 || !strings.Contains(r.stderr, "--ifname") {
		t.Fatalf("status %d: %s", r.status, r.stderr)
	}
}

func TestExampleProfile(t *testing.T) {
	pkg := buildExample(t, "profile")
	// A process that burns CPU in a function with a known name, built with
	// symbols and frame pointers so that its user stacks resolve.
	bin := compileC(t, "spin", `
__attribute__((noinline)) void ecc_spin_target(void) { volatile unsigned long n = 0; for (;;) n++; }
int main(void) { ecc_spin_target(); return 0; }
`, "-O0", "-fno-omit-frame-pointer")
	pid := startBackground(t, bin).Process.Pid
	r := startEcli(t, "run", "-j", "--freq", "99", pkg, "--pid", strconv.Itoa(pid))
	ev := r.waitFor(t, "a sample in ecc_spin_target", nil, func(m map[string]any) bool {
		for _, s := range strs(m["ustack_syms"]) {
			if strings.HasPrefix(s, "ecc_spin_target+0x") && strings.HasSuffix(s, "(spin)") {
				return num(m["pid"]) == int64(pid)
			}
		}
		return false
	})
	if ev["comm"] != "spin" {
		t.Errorf("comm %v", ev["comm"])
	}
	// Kernel frames, when a sample hit the kernel, are symbolised too.
	for _, m := range r.lines() {
		ks := strs(m["kstack_syms"])
		for _, s := range ks {
			if s == "[unknown]" || strings.HasPrefix(s, "0x") {
				t.Errorf("kernel frame not symbolised: %v", ks)
			}
		}
	}
}

func TestExampleBashreadline(t *testing.T) {
	if _, err := os.Stat("/bin/bash"); err != nil {
		testenv.Missing(t, "no /bin/bash")
	}
	r := startEcli(t, "run", "-j", buildExample(t, "bashreadline"))
	bash, master := startBash(t)
	line := "echo ecc-readline-" + strconv.Itoa(os.Getpid())
	time.Sleep(300 * time.Millisecond)
	master.Write([]byte(line + "\n"))
	ev := r.waitFor(t, "the typed line", nil, func(m map[string]any) bool { return m["line"] == line })
	if num(ev["pid"]) != int64(bash.Process.Pid) {
		t.Errorf("pid %v, want bash's %d", ev["pid"], bash.Process.Pid)
	}
	master.Write([]byte("exit\n"))
}
