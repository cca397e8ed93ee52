package wasm

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

// End-to-end tests: guests that load testdata/exec.bpf.c, attach it to
// sched_process_exec and see the test's own execs.

// liveObjects captures the objects a run created, to check afterwards
// that Run closed them.
type liveObjects struct{ h *host }

func (l *liveObjects) hook(h *host) { l.h = h }

func (l *liveObjects) snapshot() []*object {
	l.h.mu.Lock()
	defer l.h.mu.Unlock()
	var objs []*object
	for _, o := range l.h.objects {
		objs = append(objs, o)
	}
	return objs
}

func checkClosed(t *testing.T, objs []*object) {
	t.Helper()
	if len(objs) == 0 {
		t.Fatal("the guest had no live object while running")
	}
	for _, o := range objs {
		if !o.closed || len(o.links) != 0 || len(o.buffers) != 0 {
			t.Errorf("object %d: closed %v, %d links, %d buffers after Run", o.id, o.closed, len(o.links), len(o.buffers))
		}
		for name, p := range o.progs {
			if p.FD() != -1 {
				t.Errorf("program %s still open after Run", name)
			}
		}
		for name, m := range o.maps {
			if m.FD() != -1 {
				t.Errorf("map %s still open after Run", name)
			}
		}
	}
}

// TestCGuestCallback: a C guest prints execs from its ring buffer
// callback until the run is cancelled.
func TestCGuestCallback(t *testing.T) {
	testenv.Kernel(t)
	bpfObject(t)
	wasm := wasiGuest(t, "exec.c")
	var live liveObjects
	withHook(t, live.hook)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, stderr testenv.SyncBuffer
	done := run(ctx, wasm, &Options{Args: []string{"exec.wasm"}, Stdout: &out, Stderr: &stderr, CacheDir: cacheDir(), Verbose: os.Getenv("WASM_DEBUG") != ""})
	waitFor(t, &out, &stderr, "ready\n", done)
	objs := live.snapshot()

	e := newExecer(t)
	if err, ended := e.until(t, func() bool { _, ok := e.sawExec(out.String()); return ok }, done); ended {
		t.Fatalf("Run ended: %v\nstdout:\n%s\nstderr:\n%s", err, &out, &stderr)
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel = %v, want nil\nstderr:\n%s", err, &stderr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return 5 s after cancel")
	}
	t.Logf("Run returned %v after cancel", time.Since(start))
	// The host says what the guest loads and attaches, nothing else.
	want := "ecli: exec.wasm: load BPF object: programs handle_exec; maps execs, pb, rb, scratch, total\n" +
		"ecli: exec.wasm: handle_exec → tracepoint sched/sched_process_exec\n"
	if s := stderr.String(); s != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", s, want)
	}
	if strings.Contains(out.String(), "bad ") {
		t.Errorf("the callback got a bad ctx or size:\n%s", &out)
	}
	checkClosed(t, objs)
}

// TestGoGuestPull: a Go guest reads the perf buffer in pull mode and
// exits by itself once it has seen the test's exec.
func TestGoGuestPull(t *testing.T) {
	testenv.Kernel(t)
	obj, err := os.ReadFile(bpfObject(t))
	if err != nil {
		t.Fatal(err)
	}
	wasm := goGuest(t, obj)
	var live liveObjects
	withHook(t, live.hook)

	e := newExecer(t)
	var out, stderr testenv.SyncBuffer
	done := run(context.Background(), wasm, &Options{Args: []string{"goguest.wasm", e.comm}, Stdout: &out, Stderr: &stderr, CacheDir: cacheDir()})
	waitFor(t, &out, &stderr, "ready\n", done)
	objs := live.snapshot()
	err, ended := e.until(t, func() bool { return false }, done)
	if !ended || err != nil {
		t.Fatalf("Run = %v (ended %v)\nstdout:\n%s\nstderr:\n%s", err, ended, &out, &stderr)
	}
	pid, ok := e.sawExec(out.String())
	if !ok {
		t.Fatalf("no exec of %s (pids %v) in:\n%s", e.comm, e.pids, &out)
	}
	m := regexp.MustCompile(`count pid=(\d+) count=(\d+) ret=(-?\d+)\n`).FindStringSubmatch(out.String())
	if m == nil || m[1] != strconv.Itoa(pid) || m[2] == "0" || m[3] != "0" {
		t.Errorf("want count pid=%d count=N≥1 ret=0, got %q", pid, m)
	}
	if !strings.Contains(out.String(), "close ret=0\n") {
		t.Errorf("no close ret=0 in:\n%s", &out)
	}
	checkClosed(t, objs)
}

// TestMapGuest: a C guest reads a hash and a per-CPU array the BPF
// program fills, and updates, iterates and deletes in another hash.
func TestMapGuest(t *testing.T) {
	testenv.Kernel(t)
	bpfObject(t)
	wasm := wasiGuest(t, "maps.c")
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	e := newExecer(t)
	var out, stderr testenv.SyncBuffer
	done := run(context.Background(), wasm, &Options{
		Args:   []string{"maps.wasm", e.comm, strconv.Itoa(ncpu)},
		Stdout: &out, Stderr: &stderr, CacheDir: cacheDir(),
	})
	waitFor(t, &out, &stderr, "ready\n", done)
	err, ended := e.until(t, func() bool { return false }, done)
	if !ended || err != nil {
		t.Fatalf("Run = %v (ended %v)\nstdout:\n%s\nstderr:\n%s", err, ended, &out, &stderr)
	}
	s := out.String()
	for _, want := range []string{
		"fds rb=1 execs=1 total=1 scratch=1 nope=-2\n",
		"total ok=1 ret=0\n",
		"noexist ret=-17\n", // EEXIST
		"iter count=5 sum=1500 end=-2\n",
		"delete ret=0\n",
		"lookup deleted ret=-2\n",
		"delete again ret=-2\n",
		"close ret=0\n",
		"after close ret=-9\n", // EBADF: the fd died with the object
		"close again ret=-22\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q", strings.TrimSpace(want))
		}
	}
	m := regexp.MustCompile(`execs pid=(\d+) count=(\d+) ret=(-?\d+)\n`).FindStringSubmatch(s)
	if m == nil || m[2] == "0" || m[3] != "0" {
		t.Errorf("want execs pid=P count=N≥1 ret=0, got %q", m)
	} else if pid, _ := strconv.Atoi(m[1]); samePIDNamespace() && !contains(e.pids, pid) {
		t.Errorf("execs pid=%d is none of the test's %v", pid, e.pids)
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", s, &stderr)
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestAttachErrors: attach by section name, unknown programs, and the
// target argument for a program that ignores it.
func TestAttachErrors(t *testing.T) {
	testenv.Kernel(t)
	path := bpfObject(t)
	elf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stderr testenv.SyncBuffer
	h := newHost(&Options{Stderr: &stderr}, "t.wasm")
	defer h.closeAll()
	id, err := h.load(elf)
	if err != nil {
		t.Fatal(err)
	}
	obj := h.object(id)
	if r := h.attach(obj, "nope", ""); r != -eNOENT {
		t.Errorf("attach nope = %d, want -ENOENT", r)
	}
	if r := h.attach(obj, "tp/sched/sched_process_exec", "ignored"); r != 0 {
		t.Errorf("attach by section with an ignored target = %d, want 0\n%s", r, &stderr)
	}
	if len(obj.links) != 1 {
		t.Errorf("%d links, want 1", len(obj.links))
	}
	if _, err := h.load([]byte("not an ELF")); err == nil {
		t.Error("loading garbage succeeded")
	}
}
