package runtime

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/source"
)

// The programs of testdata/idioms are written the way libbpf-tools and
// the eunomia tutorial write theirs; each test runs one in the kernel and
// checks what ecli prints.

// buildIdiom builds testdata/idioms/NAME.bpf.c (with NAME.h when there is
// one) into a temp folder.
func buildIdiom(t *testing.T, name string) *source.Source {
	t.Helper()
	dir := filepath.Join("testdata", "idioms")
	return buildPackage(t, filepath.Join(dir, name+".bpf.c"), headerOf(filepath.Join(dir, name+".h")))
}

// sleepOnThread makes n clock_nanosleep calls of d from one OS thread and
// returns its thread id.
func sleepOnThread(n int, d time.Duration) int {
	tid := make(chan int)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		ts := unix.NsecToTimespec(d.Nanoseconds())
		for range n {
			unix.ClockNanosleep(unix.CLOCK_MONOTONIC, 0, &ts, nil)
		}
		tid <- unix.Gettid()
	}()
	return <-tid
}

// runFor runs src to its end (Duration or Count) and returns stdout.
func runFor(t *testing.T, src *source.Source, args []string, o Options, during func()) (string, string) {
	t.Helper()
	out, errs := &testenv.SyncBuffer{}, &testenv.SyncBuffer{}
	o.Stdout, o.Stderr = out, errs
	ready := make(chan struct{})
	o.Ready = func() { close(ready) }
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), src.Name, src.Package, args, &o) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("run ended before attaching: %v\nstderr: %s", err, errs.String())
	}
	if during != nil {
		during()
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\nstderr: %s", err, errs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not end")
	}
	return out.String(), errs.String()
}

// Results in maps and globals, with no @sample, print at exit: the
// counter map, the histogram map per key, the counter global and the
// histogram globals; the start map (state) does not.
func TestResultsWithoutAnnotations(t *testing.T) {
	src := buildIdiom(t, "results")
	// static struct hist zero and the function's static const one are not
	// settings: not in the metadata.
	var vars []string
	for _, ds := range src.Package.Meta.BpfSkel.DataSections {
		for _, v := range ds.Variables {
			vars = append(vars, v.Name)
		}
	}
	if got := strings.Join(vars, " "); got != "targ_tid targ_ms calls by_parity" {
		t.Errorf("metadata variables %q, want the globals only", got)
	}
	const n = 20
	var tid int
	// The thread is known only once it sleeps; filter on it by starting
	// the sleeping thread first and parking it until the run is attached.
	park := make(chan struct{})
	tidc := make(chan int)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tidc <- unix.Gettid()
		<-park
		ts := unix.NsecToTimespec((3 * time.Millisecond).Nanoseconds())
		for range n {
			unix.ClockNanosleep(unix.CLOCK_MONOTONIC, 0, &ts, nil)
		}
		tidc <- 0
	}()
	tid = <-tidc
	args := []string{"--targ_tid", strconv.Itoa(tid)}
	out, errs := runFor(t, src, args, Options{JSON: true, Duration: 3 * time.Second}, func() {
		close(park)
		<-tidc
	})
	lines := testenv.JSONLines(out)
	var sawCounts, sawHist, sawGlobals, sawParity bool
	pid := float64(os.Getpid())
	for _, m := range lines {
		switch {
		case m["map"] == "start":
			t.Errorf("the start map (state) is shown: %v", m)
		case m["map"] == "counts":
			sawCounts = true
			ents, _ := m["entries"].([]any)
			if len(ents) != 1 {
				t.Fatalf("counts: %d entries, want 1: %v", len(ents), m)
			}
			e := ents[0].(map[string]any)
			if e["key"] != pid || e["value"] != float64(n) {
				t.Errorf("counts entry %v, want key %v value %d (per-CPU values summed)", e, pid, n)
			}
		case m["map"] == "hists":
			sawHist = true
			if m["key"] != pid {
				t.Errorf("hists key %v, want %v", m["key"], pid)
			}
			h := m["hist"].(map[string]any)
			if h["unit"] != "usecs" {
				t.Errorf("unit %v, want usecs (targ_ms is false)", h["unit"])
			}
			// A 3 ms sleep lasts at least 3000 usecs: every call lands
			// in 2048-4095 or above.
			if got := countFrom(h, 2048); got != n || histTotal(h) != n {
				t.Errorf("hist: %d from 2048 usecs up, total %d; want %d and %d: %v", got, histTotal(h), n, n, h)
			}
		case m["globals"] != nil:
			sawGlobals = true
			g := m["globals"].(map[string]any)
			if g["calls"] != float64(n) {
				t.Errorf("global calls = %v, want %d", g["calls"], n)
			}
		case m["global"] == "by_parity":
			sawParity = true
			if int(num(m["index"])) != tid&1 || histTotal(m["hist"].(map[string]any)) != n {
				t.Errorf("by_parity: %v, want index %d with %d", m, tid&1, n)
			}
		}
	}
	if !sawCounts || !sawHist || !sawGlobals || !sawParity {
		t.Errorf("counts %v, hists %v, globals %v, by_parity %v shown; want all\n%s\nstderr: %s", sawCounts, sawHist, sawGlobals, sawParity, out, errs)
	}
}

func histTotal(h map[string]any) int {
	total := 0
	for _, b := range h["buckets"].([]any) {
		total += int(num(b.(map[string]any)["count"]))
	}
	return total
}

// countFrom adds the counts of the buckets starting at low or above.
func countFrom(h map[string]any, low int64) int {
	n := 0
	for _, b := range h["buckets"].([]any) {
		bm := b.(map[string]any)
		if num(bm["low"]) >= low {
			n += int(num(bm["count"]))
		}
	}
	return n
}

// --interval with --count prints that many intervals, each with what
// happened during it, and ends the run by itself; text shows the tables.
func TestResultsInterval(t *testing.T) {
	src := buildIdiom(t, "results")
	out, _ := runFor(t, src, []string{"--targ_ms"}, Options{Interval: 300 * time.Millisecond, Count: 3}, func() {
		sleepOnThread(5, 2*time.Millisecond)
	})
	if got := strings.Count(out, " counts\n"); got != 3 {
		t.Errorf("%d counts tables, want 3:\n%s", got, out)
	}
	if got := strings.Count(out, " globals\n"); got < 1 {
		t.Errorf("no globals table:\n%s", out)
	}
	// Each interval shows what happened during it: the five calls in the
	// first, none after (the maps are cleared, the global is a delta).
	var calls []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "calls" {
			calls = append(calls, f[1])
		}
	}
	sum := 0
	for _, c := range calls {
		n, _ := strconv.Atoi(c)
		sum += n
	}
	if len(calls) != 3 || sum != 5 || calls[2] != "0" {
		t.Errorf("calls per interval %v, want 3 intervals adding up to 5, the last 0:\n%s", calls, out)
	}
	if !strings.Contains(out, "msecs") || strings.Contains(out, " start\n") {
		t.Errorf("want msecs histograms (--targ_ms) and no start map:\n%s", out)
	}
}

// bpf_printk lines are shown, one per call, as text and as JSON.
func TestPrintk(t *testing.T) {
	src := buildIdiom(t, "printk")
	for _, ds := range src.Package.Meta.BpfSkel.DataSections {
		for _, v := range ds.Variables {
			if strings.Contains(v.Name, "____fmt") {
				t.Errorf("bpf_printk's format string %s is in the metadata", v.Name)
			}
		}
	}
	bin := filepath.Join(t.TempDir(), "ecc-printk-me")
	data, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bin, data, 0o755)
	const n = 5
	args := []string{"--filter_ppid", strconv.Itoa(os.Getpid())}
	execs := func() {
		for range n {
			if err := exec.Command(bin).Run(); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, _ := runFor(t, src, args, Options{JSON: true, Duration: 2 * time.Second}, execs)
	want := fmt.Sprintf("exec ecc-printk-me by %d", os.Getpid())
	got := 0
	for _, m := range testenv.JSONLines(out) {
		if m["printk"] == want {
			got++
			// The trace names the task from its cache of pid → comm, which
			// may hold an older process's name for a reused pid: only
			// check that there is one.
			if m["comm"] == "" || m["comm"] == nil || m["timestamp"] == nil {
				t.Errorf("printk record %v", m)
			}
		}
	}
	if got != n {
		t.Errorf("%d printk lines %q, want %d:\n%s", got, want, n, out)
	}
	out, _ = runFor(t, src, args, Options{Duration: 2 * time.Second}, execs)
	if c := strings.Count(out, ": "+want+"\n"); c != n || !strings.Contains(out, " [printk] ") {
		t.Errorf("text: %d lines, want %d of %q:\n%s", c, n, want, out)
	}
}

// A tool in libbpf-tools' style (testdata/idioms/tcpexec.bpf.c): N
// connects give exactly N decoded events from one of three twin programs,
// with addresses as text and the __be16 port in host order, N printk
// lines, and the counter map at exit; M execs give M variable-length
// records decoded as far as they go.
func TestLibbpfToolsStyle(t *testing.T) {
	src := buildIdiom(t, "tcpexec")
	for _, ds := range src.Package.Meta.BpfSkel.DataSections {
		for _, v := range ds.Variables {
			if v.Name != "targ_dport" && v.Name != "targ_ppid" {
				t.Errorf("variable %s in the metadata: statics are not settings", v.Name)
			}
		}
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	bin := filepath.Join(t.TempDir(), "ecc-tcpexec-me")
	data, _ := os.ReadFile("/bin/true")
	os.WriteFile(bin, data, 0o755)
	const n, m = 5, 3
	// The connects come from a child: ecli leaves out the printk lines its
	// own threads cause.
	var connector int
	act := func() {
		script := fmt.Sprintf("for i in $(seq %d); do exec 3<>/dev/tcp/127.0.0.1/%d; exec 3>&-; done", n, port)
		cmd := exec.Command("bash", "-c", script)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("bash connects: %v\n%s", err, out)
		}
		connector = cmd.Process.Pid
		for range m {
			if err := exec.Command(bin, "arg1").Run(); err != nil {
				t.Fatal(err)
			}
		}
	}
	args := []string{"--targ_dport", strconv.Itoa(port), "--targ_ppid", strconv.Itoa(os.Getpid())}
	out, errs := runFor(t, src, args, Options{JSON: true, Duration: 3 * time.Second}, act)
	var conns, execs, printks int
	var counts map[string]any
	for _, e := range testenv.JSONLines(out) {
		switch {
		case e["dport"] != nil:
			conns++
			// hook 1: the tp_btf twin, never raw_tp (2) or tp (3) as well.
			if num(e["hook"]) != 1 || e["saddr"] != "127.0.0.1" || e["daddr"] != "127.0.0.1" ||
				num(e["dport"]) != int64(port) || num(e["af"]) != 2 || num(e["pid"]) != int64(connector) || e["comm"] != "bash" {
				t.Errorf("connect event %v: want hook 1, 127.0.0.1 → 127.0.0.1:%d, af 2, bash pid %d", e, port, connector)
			}
			if e["timestamp"] == nil {
				t.Errorf("event without timestamp: %v", e)
			}
		case e["args"] == bin:
			execs++
			if num(e["args_size"]) != int64(len(bin)+1) || e["timestamp"] == nil {
				t.Errorf("exec event %v: want args_size %d and a timestamp", e, len(bin)+1)
			}
		case e["printk"] != nil:
			if e["printk"] == fmt.Sprintf("connect to port %d", port) {
				printks++
			}
		case e["map"] == "conn_count":
			counts = e
		}
	}
	if conns != n || execs != m || printks != n {
		t.Errorf("%d connect events, %d exec events, %d printk lines; want %d, %d, %d\n%s\nstderr: %s", conns, execs, printks, n, m, n, out, errs)
	}
	ents, _ := counts["entries"].([]any)
	if len(ents) != 1 || num(ents[0].(map[string]any)["key"]) != int64(port) || num(ents[0].(map[string]any)["value"]) != n {
		t.Errorf("conn_count at exit %v, want {%d: %d}", counts, port, n)
	}
	if strings.Contains(errs, "pending") || strings.Contains(errs, "shorter than") {
		t.Errorf("stderr: %s", errs)
	}

	// Text: the connect table with addresses, and the counter table.
	out, _ = runFor(t, src, args, Options{Duration: 3 * time.Second}, act)
	if !strings.Contains(out, "SADDR") || strings.Count(out, " 127.0.0.1 ") < n || !strings.Contains(out, " conn_count\n") {
		t.Errorf("text output lacks the table, the addresses or conn_count:\n%s", out)
	}
	if c := strings.Count(out, " "+strconv.Itoa(port)+" "); c < n {
		t.Errorf("port %d in %d rows, want %d:\n%s", port, c, n, out)
	}
}
