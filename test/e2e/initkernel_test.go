package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/templates"
)

// ---------------------------------------------------------------------------
// Kernel tests: every template, created, built as its Makefile says, and
// run by ecli while real activity happens.

// kernelTests names the test that runs each template in the kernel.
var kernelTests = map[string]string{
	"tracepoint": "TestInitKernelTracepoint",
	"uprobe":     "TestInitKernelUprobe, TestInitKernelUprobeBash",
	"xdp":        "TestInitKernelXDP",
	"tc":         "TestInitKernelTC",
	"histogram":  "TestInitKernelHistogram",
	"profile":    "TestInitKernelProfile",
	"wasm-c":     "TestInitKernelWasm/wasm-c",
	"wasm-go":    "TestInitKernelWasm/wasm-go",
}

// A new template comes with a kernel test.
func TestInitKernelCoverage(t *testing.T) {
	for _, s := range templates.Scaffolds() {
		if kernelTests[s.Name] == "" {
			t.Errorf("template %s has no kernel test: add one (ecc init, make build, ecli run with real activity) and list it in kernelTests", s.Name)
		}
	}
}

// buildProject runs ecc init and make build; it returns the package.
func buildProject(t *testing.T, tmpl, name string) (dir, pkg string) {
	t.Helper()
	testenv.BPFBuild(t)
	testenv.Kernel(t)
	makeBin := testenv.Tool(t, "make")
	dir = initProject(t, tmpl, name)
	if out, err := exec.Command(makeBin, "-C", dir, "build", "ECC="+eccBin).CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	pkg = filepath.Join(dir, "build", "package.json")
	if _, err := os.Stat(pkg); err != nil {
		t.Fatal(err)
	}
	return dir, pkg
}

func TestInitKernelTracepoint(t *testing.T) {
	_, pkg := buildProject(t, "tracepoint", "k-exec") // a name with -: C identifiers use _
	bin := namedTrue(t, "ecc-init-exec")
	me := os.Getpid()
	r := startEcli(t, "run", "-j", pkg, "--ppid", strconv.Itoa(me))
	pids := map[int64]bool{}
	ev := r.waitFor(t, "the exec of "+bin, func() {
		c := exec.Command(bin, "mark")
		if c.Run() == nil {
			pids[int64(c.Process.Pid)] = true
		}
	}, func(m map[string]any) bool { return m["filename"] == bin })
	if !pids[num(ev["pid"])] {
		t.Errorf("pid %v is none of the execs %v", ev["pid"], pids)
	}
	if num(ev["ppid"]) != int64(me) || ev["comm"] != "ecc-init-exec" || num(ev["uid"]) != int64(os.Getuid()) {
		t.Errorf("event %v: want ppid %d, comm ecc-init-exec, uid %d", ev, me, os.Getuid())
	}
	r.stop(t)
	// --ppid filtered everything else out.
	for _, m := range r.lines() {
		if num(m["ppid"]) != int64(me) {
			t.Errorf("--ppid %d let through %v", me, m)
		}
	}
	t.Logf("event: %v", ev)
}

// The bare uprobe/uretprobe pair on a function of a C program, through
// ecli run --uprobe BIN:SYM: argument, return value, duration, and the
// --min-us flag filtering out the fast calls.
func TestInitKernelUprobe(t *testing.T) {
	_, pkg := buildProject(t, "uprobe", "k_calls")
	bin := compileC(t, "ecc-target", `
#include <stdlib.h>
#include <unistd.h>
/* even x: slow (20 ms); odd x: fast */
__attribute__((noinline)) long ecc_target(long x) { if (x % 2 == 0) usleep(20000); return 3 * x + 1; }
int main(int argc, char **argv) {
	long n = atol(argv[1]);
	for (;;) { ecc_target(n); ecc_target(n + 1); usleep(10000); }
}`, "-O1")
	target := startBackground(t, bin, "4242")
	// 10 ms between the fast calls and the slow ones: room for a loaded
	// machine (a fast call took 1.6 ms under two busy qemu guests).
	r := startEcli(t, "run", "-j", "--uprobe", bin+":ecc_target", pkg, "--min-us", "10000")
	var n int
	ev := r.waitFor(t, "three calls of ecc_target", nil, func(m map[string]any) bool {
		if num(m["pid"]) == int64(target.Process.Pid) {
			n++
		}
		return n >= 3
	})
	r.stop(t)
	if ev["comm"] != "ecc-target" || num(ev["tid"]) != int64(target.Process.Pid) {
		t.Errorf("event %v: want comm ecc-target, tid %d", ev, target.Process.Pid)
	}
	for _, m := range r.lines() {
		if num(m["arg0"]) != 4242 || num(m["ret"]) != 12727 || num(m["duration_ns"]) < 20_000_000 || num(m["duration_ns"]) > 2_000_000_000 {
			t.Errorf("event %v: want arg0 4242, ret 12727, duration ≥ 20 ms (the fast calls of 4243 are below --min-us)", m)
		}
	}
	t.Logf("event: %v", ev)
}

// The template's default target (the Makefile's RUN_FLAGS): bash's
// readline, typed into on a terminal.
func TestInitKernelUprobeBash(t *testing.T) {
	if _, err := os.Stat("/bin/bash"); err != nil {
		testenv.Missing(t, "no /bin/bash")
	}
	_, pkg := buildProject(t, "uprobe", "k_readline")
	d, _ := templates.ScaffoldFor("uprobe", "k_readline", nil)
	r := startEcli(t, append(append([]string{"run", "-j"}, strings.Fields(d.RunFlags)...), pkg)...)
	bash, master := startBash(t)
	typed := 0
	ev := r.waitFor(t, "a readline() return in bash", func() {
		if typed < 20 {
			fmt.Fprintf(master, "true typed-%d\n", typed)
			typed++
		}
	}, func(m map[string]any) bool { return num(m["pid"]) == int64(bash.Process.Pid) })
	if ev["comm"] != "bash" || num(ev["ret"]) == 0 || num(ev["duration_ns"]) <= 0 {
		t.Errorf("event %v: want comm bash, a non-NULL line, a duration", ev)
	}
	t.Logf("event: %v", ev)
}

func TestInitKernelXDP(t *testing.T) {
	_, pkg := buildProject(t, "xdp", "k_xdp")
	testenv.Exclusive(t, "xdp-lo")
	pass, passPort := udpListener(t)
	drop, dropPort := udpListener(t)
	r := startEcli(t, "run", "-j", "--ifname", "lo", pkg, "--drop-udp-port", strconv.Itoa(dropPort))
	sendUDP(t, passPort, 50)
	sendUDP(t, dropPort, 20)
	if got := received(pass, 500*time.Millisecond); got != 50 {
		t.Errorf("the passing port received %d datagrams, want 50", got)
	}
	if got := received(drop, 300*time.Millisecond); got != 0 {
		t.Errorf("the dropped port received %d datagrams, want 0", got)
	}
	var udp map[string]any
	r.waitFor(t, "70 IPv4 UDP packets, 20 dropped", nil, func(m map[string]any) bool {
		keys, vals := kvEntries(m)
		for i, k := range keys {
			if m["map"] == "stats" && num(k["eth_proto"]) == 2048 && num(k["ip_proto"]) == 17 && num(vals[i]["packets"]) >= 70 && num(vals[i]["dropped"]) >= 20 {
				udp = vals[i]
				return true
			}
		}
		return false
	})
	if num(udp["dropped"]) != 20 || num(udp["bytes"]) < 70*(14+20+8+22) {
		t.Errorf("UDP counters %v: want 20 dropped, ≥ %d bytes", udp, 70*(14+20+8+22))
	}
	t.Logf("IPv4/UDP: %v", udp)
}

func TestInitKernelTC(t *testing.T) {
	_, pkg := buildProject(t, "tc", "k_tc")
	l, port := udpListener(t)
	_, other := udpListener(t)
	r := startEcli(t, "run", "-j", "--ifname", "lo", pkg, "--port", strconv.Itoa(port))
	sendUDP(t, other, 30) // not counted: another port
	sendUDP(t, port, 50)
	if got := received(l, 500*time.Millisecond); got != 50 {
		t.Errorf("received %d datagrams, want 50", got)
	}
	dirs := func(m map[string]any) (in, out int64) {
		keys, vals := kvEntries(m)
		for i, k := range keys {
			if num(k["eth_proto"]) != 2048 || num(k["ip_proto"]) != 17 {
				continue
			}
			if num(k["direction"]) == 0 {
				in = num(vals[i]["packets"])
			} else {
				out = num(vals[i]["packets"])
			}
		}
		return in, out
	}
	r.waitFor(t, "50 UDP packets each way", nil, func(m map[string]any) bool {
		in, out := dirs(m)
		return m["map"] == "stats" && in >= 50 && out >= 50
	})
	r.stop(t)
	lines := r.lines()
	last := lines[len(lines)-1]
	in, out := dirs(last)
	if in != 50 || out != 50 {
		t.Errorf("final counts: ingress %d, egress %d; want 50 each (the 30 datagrams to port %d are not for --port %d)", in, out, other, port)
	}
	for _, m := range lines {
		keys, _ := kvEntries(m)
		for _, k := range keys {
			if p := num(k["ip_proto"]); p != 6 && p != 17 {
				t.Errorf("--port counted IP protocol %d: %v", p, m)
			}
		}
	}
	t.Logf("final: %v", last["entries"])
}

func TestInitKernelHistogram(t *testing.T) {
	_, pkg := buildProject(t, "histogram", "k_lat")
	bin := compileC(t, "ecc-sleeper", `
#include <unistd.h>
int main(void) { for (;;) usleep(20000); }`, "-O1")
	sleeper := startBackground(t, bin)
	pid := sleeper.Process.Pid
	r := startEcli(t, "run", "-j", pkg, "--pid", strconv.Itoa(pid), "--per-process")
	var bucket map[string]any
	m := r.waitFor(t, "five 20 ms sleeps in the histogram", nil, func(m map[string]any) bool {
		h, _ := m["hist"].(map[string]any)
		bs, _ := h["buckets"].([]any)
		for _, b := range bs {
			bm, _ := b.(map[string]any)
			if num(bm["low"]) <= 20000 && 20000 <= num(bm["high"]) && num(bm["count"]) >= 5 {
				bucket = bm
				return m["map"] == "hists"
			}
		}
		return false
	})
	if num(m["key"]) != int64(pid) || m["type"] != "log2_hist" {
		t.Errorf("histogram key %v type %v: want the sleeper's pid %d (--per-process), log2_hist", m["key"], m["type"], pid)
	}
	h := m["hist"].(map[string]any)
	if h["unit"] != "usecs" {
		t.Errorf("unit %v", h["unit"])
	}
	// Nearly every system call of the sleeper is a 20 ms sleep.
	var total, most int64
	for _, b := range h["buckets"].([]any) {
		c := num(b.(map[string]any)["count"])
		total += c
		most = max(most, c)
	}
	if most != num(bucket["count"]) {
		t.Errorf("the fullest bucket is not the 20 ms one: %v", h)
	}
	if num(bucket["low"]) != 16384 || num(bucket["high"]) != 32767 {
		t.Errorf("bucket %v: want 16384 -> 32767", bucket)
	}
	t.Logf("key %v: bucket %v of %d calls", m["key"], bucket, total)
}

func TestInitKernelProfile(t *testing.T) {
	_, pkg := buildProject(t, "profile", "k_prof")
	// One thread spins in user space in a named function; another reads
	// /dev/zero, so that samples land in the kernel too. Frame pointers
	// make the user stacks walkable.
	bin := compileC(t, "ecc-spin", `
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
static char buf[1 << 20];
__attribute__((noinline)) void *ecc_read_zero(void *arg) {
	int fd = open("/dev/zero", O_RDONLY);
	for (;;) read(fd, buf, sizeof(buf));
	return arg;
}
__attribute__((noinline)) void ecc_spin_here(void) { volatile unsigned long n = 0; for (;;) n++; }
int main(void) { pthread_t t; pthread_create(&t, 0, ecc_read_zero, 0); ecc_spin_here(); return 0; }`,
		"-O0", "-fno-omit-frame-pointer", "-pthread")
	spin := startBackground(t, bin)
	pid := spin.Process.Pid
	r := startEcli(t, "run", "-j", "--freq", "99", pkg, "--pid", strconv.Itoa(pid))
	user := r.waitFor(t, "a sample in ecc_spin_here", nil, func(m map[string]any) bool {
		us := strs(m["ustack_syms"])
		return len(us) > 0 && strings.HasPrefix(us[0], "ecc_spin_here+0x") && strings.HasSuffix(us[0], "(ecc-spin)")
	})
	if num(user["pid"]) != int64(pid) || user["comm"] != "ecc-spin" || num(user["ustack_len"]) != int64(len(strs(user["ustack_syms"]))) {
		t.Errorf("sample %v: want pid %d, comm ecc-spin, ustack_len frames", user, pid)
	}
	if us := strs(user["ustack_syms"]); len(us) < 2 || !strings.HasPrefix(us[1], "main+0x") {
		t.Errorf("user stack %v: want main below ecc_spin_here", us)
	}
	kern := r.waitFor(t, "a sample in the kernel's read()", nil, func(m map[string]any) bool {
		for _, f := range strs(m["kstack_syms"]) {
			if strings.Contains(f, "read") {
				return true
			}
		}
		return false
	})
	r.stop(t)
	for _, m := range r.lines() {
		ks := strs(m["kstack_syms"])
		if int64(len(ks)) != num(m["kstack_len"]) {
			t.Errorf("%d kernel frames for kstack_len %v", len(ks), m["kstack_len"])
		}
		for _, f := range ks {
			if strings.HasPrefix(f, "0x") || strings.Contains(f, "unknown") {
				t.Errorf("kernel frame not symbolised: %v", ks)
				break
			}
		}
		if num(m["pid"]) != int64(pid) {
			t.Errorf("--pid %d let through %v", pid, m["pid"])
		}
	}
	t.Logf("user sample: %v", strs(user["ustack_syms"]))
	ks := strs(kern["kstack_syms"])
	t.Logf("kernel sample (%d frames): %v", len(ks), ks[:min(6, len(ks))])
}

// The Wasm templates: ecc init, make build (ecc build --wasm), then ecli run
// NAME.wasm while a uniquely named program is exec'd: the guest prints it.
func TestInitKernelWasm(t *testing.T) {
	for _, tmpl := range []string{"wasm-c", "wasm-go"} {
		t.Run(tmpl, func(t *testing.T) {
			name := "k-" + tmpl // wasm-go: a go.mod named after it
			dir, _ := buildProject(t, tmpl, name)
			wasmFile := filepath.Join(dir, "build", name+".wasm")
			if _, err := os.Stat(wasmFile); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(ecliBin, "run", wasmFile)
			var stdout, stderr testenv.SyncBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				cmd.Process.Signal(syscall.SIGINT)
				cmd.Wait()
			}()
			bin := namedTrue(t, "ecc-"+tmpl)
			var pid int
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				c := exec.Command(bin)
				if c.Run() == nil {
					want := fmt.Sprintf("pid=%d ", c.Process.Pid)
					for _, line := range strings.Split(stdout.String(), "\n") {
						if strings.HasPrefix(line, want) && strings.Contains(line, "comm=ecc-"+tmpl) && strings.Contains(line, "file="+bin) {
							pid = c.Process.Pid
						}
					}
				}
				if pid != 0 {
					break
				}
			}
			if pid == 0 {
				t.Fatalf("the guest printed no line for %s\nstdout: %s\nstderr: %s", bin, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), fmt.Sprintf("ppid=%d ", os.Getpid())) {
				t.Errorf("no line with this test as the parent:\n%s", stdout.String())
			}
		})
	}
}
