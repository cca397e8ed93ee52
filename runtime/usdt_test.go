package runtime

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/runtime/attach"
	"github.com/ecc-bpf/ecc/runtime/attach/usdt"
)

// buildTicker compiles testdata/usdt's ticker (USDT probes of our own,
// <sys/sdt.h>) with gcc -O2, as a PIE or not.
func buildTicker(t *testing.T, pie bool) string {
	t.Helper()
	gcc := testenv.Tool(t, "gcc")
	check := exec.Command(gcc, "-E", "-x", "c", "-o", os.DevNull, "-")
	check.Stdin = strings.NewReader("#include <sys/sdt.h>\n")
	if err := check.Run(); err != nil {
		testenv.Missing(t, "<sys/sdt.h> is missing (make test-deps installs systemtap-sdt-dev)")
	}
	bin := filepath.Join(t.TempDir(), "ticker")
	args := []string{"-O2", "-fno-PIE", "-no-pie"}
	if pie {
		args = []string{"-O2", "-fPIE", "-pie"}
	}
	args = append(args, "-o", bin, "testdata/usdt/ticker.c", "testdata/usdt/sem.c")
	if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	// The test means ecc:total to read memory %rip-relative on x86_64.
	if f, err := usdt.Open(bin); err != nil {
		t.Fatal(err)
	} else if s, err := f.Sites("ecc", "total"); err != nil || (goruntime.GOARCH == "amd64" && !strings.HasSuffix(s[0].Args[0].Text, "(%rip)")) {
		t.Fatalf("ecc:total: %+v, %v; want a %%rip-relative argument", s, err)
	}
	return bin
}

// usdtProbe is a BPF program of our own using libbpf's <bpf/usdt.bpf.h>:
// two probes named in their sections, one bare SEC("usdt") whose target
// comes from --usdt. BIN is replaced by the ticker's path.
const usdtProbe = prelude + `
#include <bpf/usdt.bpf.h>
#include <ecc.h>

struct usdt_ev { int kind; int pid; long a; long b; long cookie; int cnt; };
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 20); } events SEC(".maps");
ECC_EXPORT(events, struct usdt_ev);

static int send(struct pt_regs *ctx, int kind, long a, long b)
{
	struct usdt_ev *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->kind = kind;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->a = a;
	e->b = b;
	e->cookie = bpf_usdt_cookie(ctx);
	e->cnt = bpf_usdt_arg_cnt(ctx);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("usdt/BIN:ecc:tick")
int BPF_USDT(on_tick, int i, long x) { return send(ctx, 1, i, x); }

SEC("usdt/BIN:ecc:twice")
int BPF_USDT(on_twice, int x) { return send(ctx, 2, x, 0); }

SEC("usdt")
int BPF_USDT(on_sem, int n) { return send(ctx, 3, n, 0); }

SEC("usdt/BIN:ecc:total")
int BPF_USDT(on_total, long v) { return send(ctx, 4, v, 0); }
`

type usdtEvent struct{ kind, pid, a, b, cookie, cnt int64 }

func usdtEvents(r *running, pid int) []usdtEvent {
	var out []usdtEvent
	for _, m := range r.out.JSONLines() {
		if _, ok := m["kind"]; !ok || num(m["pid"]) != int64(pid) {
			continue
		}
		out = append(out, usdtEvent{num(m["kind"]), num(m["pid"]), num(m["a"]), num(m["b"]), num(m["cookie"]), num(m["cnt"])})
	}
	return out
}

// waitEvents waits until the process's events stop growing at want or
// more, and returns them.
func waitEvents(t *testing.T, r *running, pid, want int) []usdtEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if evs := usdtEvents(r, pid); len(evs) >= want {
			time.Sleep(200 * time.Millisecond) // anything extra arrives too
			return usdtEvents(r, pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	evs := usdtEvents(r, pid)
	t.Fatalf("%d events from pid %d, want %d\nstderr: %s", len(evs), pid, want, r.errs.String())
	return nil
}

func runTicker(t *testing.T, bin string, n int) (pid int, sem string) {
	t.Helper()
	cmd := exec.Command(bin, fmt.Sprint(n))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	return cmd.Process.Pid, strings.TrimSpace(string(out))
}

// checkTicks asserts exactly n tick events with (i, i*3) for each i, the
// two inlined sites of ecc:twice, ecc:total's n*7 read from memory, and
// what bpf_usdt_arg_cnt says.
func checkTicks(t *testing.T, evs []usdtEvent, n int) {
	t.Helper()
	seen := make([]int, n)
	twice := map[int64]int{}
	totals := 0
	for _, e := range evs {
		switch e.kind {
		case 1:
			if e.a < 0 || e.a >= int64(n) || e.b != 3*e.a || e.cnt != 2 || e.cookie != 0 {
				t.Errorf("tick event %+v, want a in [0,%d), b = 3a, 2 args, cookie 0", e, n)
				continue
			}
			seen[e.a]++
		case 2:
			if e.cnt != 1 {
				t.Errorf("twice event %+v: %d args, want 1", e, e.cnt)
			}
			twice[e.a]++
		case 4:
			totals++
			if e.a != int64(n)*7 || e.cnt != 1 {
				t.Errorf("total event %+v, want a=%d and 1 arg", e, n*7)
			}
		}
	}
	if totals != 1 {
		t.Errorf("%d ecc:total events, want 1", totals)
	}
	for i, c := range seen {
		if c != 1 {
			t.Errorf("tick %d seen %d times, want once", i, c)
		}
	}
	if twice[1] != 1 || twice[2] != 1 || len(twice) != 2 {
		t.Errorf("ecc:twice values %v, want 1 and 2 once each (two inlined sites)", twice)
	}
}

// USDT programs built with libbpf's <bpf/usdt.bpf.h> run through ecli:
// every probe fires with its exact arguments, inlined probes at each
// site, and a probe's semaphore is raised only while it is attached.
func TestUSDT(t *testing.T) {
	bin := buildTicker(t, true)
	src := buildSource(t, "usdtprobe", strings.ReplaceAll(usdtProbe, "BIN", bin))

	if _, sem := runTicker(t, bin, 1); sem != "sem=0" {
		t.Fatalf("before attaching: %q, want sem=0", sem)
	}
	const n = 100
	r := start(t, src, nil, Options{JSON: true, Verbose: true, Attach: attach.Options{USDT: []string{"on_sem=" + bin + ":ecc:sem"}}})
	for _, want := range []string{
		"usdt " + bin + ":ecc:tick (1 site)",
		"usdt " + bin + ":ecc:twice (2 sites)",
		"usdt " + bin + ":ecc:sem (1 site)",
	} {
		if !strings.Contains(r.errs.String(), want) {
			t.Errorf("-v output lacks %q:\n%s", want, r.errs.String())
		}
	}
	pid, sem := runTicker(t, bin, n)
	if sem != "sem=1" {
		t.Errorf("while attached: %q, want sem=1", sem)
	}
	evs := waitEvents(t, r, pid, n+4)
	if len(evs) != n+4 {
		t.Errorf("%d events, want %d ticks, 2 twice, 1 total and 1 sem", len(evs), n)
	}
	checkTicks(t, evs, n)
	sems := 0
	for _, e := range evs {
		if e.kind == 3 {
			sems++
			if e.a != n || e.cnt != 1 {
				t.Errorf("sem event %+v, want a=%d and 1 arg", e, n)
			}
		}
	}
	if sems != 1 {
		t.Errorf("%d sem events, want 1", sems)
	}
	r.stop(t)
	if _, sem := runTicker(t, bin, 1); sem != "sem=0" {
		t.Errorf("after detaching: %q, want sem=0", sem)
	}
}

// Kernels without BPF cookies find specs by address: a non-PIE binary
// runs at its link addresses; a PIE's come from --pid's mappings. They
// attach a uprobe per site (no uprobe_multi), semaphores included. A bare
// usdt program without --usdt is skipped with a warning.
func TestUSDTWithoutCookies(t *testing.T) {
	t.Setenv("ECLI_USDT_NO_COOKIE", "1")
	const n = 20
	t.Run("nopie", func(t *testing.T) {
		bin := buildTicker(t, false)
		src := buildSource(t, "usdtnopie", strings.ReplaceAll(usdtProbe, "BIN", bin))
		r := start(t, src, nil, Options{JSON: true, Attach: attach.Options{USDT: []string{bin + ":ecc:sem"}}})
		pid, sem := runTicker(t, bin, n)
		if sem != "sem=1" {
			t.Errorf("while attached: %q, want sem=1", sem)
		}
		evs := waitEvents(t, r, pid, n+4)
		checkTicks(t, evs, n)
		if e := evs[len(evs)-1]; len(evs) != n+4 || e.kind != 3 || e.a != n {
			t.Errorf("%d events, the last %+v, want %d with the sem event last", len(evs), e, n+4)
		}
	})
	t.Run("pie-pid", func(t *testing.T) {
		bin := buildTicker(t, true)
		src := buildSource(t, "usdtpie", strings.ReplaceAll(usdtProbe, "BIN", bin))
		// Without --pid ecli cannot know where a PIE is loaded.
		err := Run(t.Context(), src.Name, src.Package, nil, &Options{JSON: true, Stdout: io.Discard, Stderr: io.Discard})
		if err == nil || !strings.Contains(err.Error(), "needs --pid") {
			t.Fatalf("PIE without --pid: %v", err)
		}
		traced, stdin := startWaiting(t, bin, n)
		other, otherIn := startWaiting(t, bin, n)
		r := start(t, src, nil, Options{JSON: true, Attach: attach.Options{PID: traced.Process.Pid}})
		if !strings.Contains(r.errs.String(), "warning: skipping program on_sem (usdt)") || !strings.Contains(r.errs.String(), "--usdt on_sem=BINARY:PROVIDER:NAME") {
			t.Errorf("no warning for on_sem without a target:\n%s", r.errs.String())
		}
		for _, in := range []io.WriteCloser{stdin, otherIn} {
			io.WriteString(in, "go\n")
			in.Close()
		}
		traced.Wait()
		other.Wait()
		checkTicks(t, waitEvents(t, r, traced.Process.Pid, n+3), n)
		if evs := usdtEvents(r, other.Process.Pid); len(evs) != 0 {
			t.Errorf("%d events from pid %d, which --pid excludes", len(evs), other.Process.Pid)
		}
	})
}

// startWaiting starts the ticker waiting on its stdin.
func startWaiting(t *testing.T, bin string, n int) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(bin, fmt.Sprint(n), "wait")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Let it map the binary before ecli reads its mappings.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", cmd.Process.Pid)); strings.Contains(string(b), bin) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cmd, in
}
