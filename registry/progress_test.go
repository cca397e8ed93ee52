package registry

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry/registrytest"
)

// recorder is a Progress that remembers what it was told.
type recorder struct {
	mu     sync.Mutex
	ops    []string // "push REF" per Start
	total  int64
	moved  int64
	adds   int
	verbs  map[string]int
	ends   []error
	starts int
}

func (r *recorder) Start(op, ref string, total int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op+" "+ref)
	r.total, r.moved, r.adds, r.verbs = total, 0, 0, map[string]int{}
	r.starts++
}

func (r *recorder) Add(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.moved += n
	r.adds++
	if r.moved > r.total {
		panic("progress beyond the total")
	}
}

func (r *recorder) Blob(verb, name string, size int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.verbs[verb]++
}

func (r *recorder) End(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ends = append(r.ends, err)
}

// check asserts one whole transfer: started and ended once, every byte
// accounted for once, the blobs under verb.
func (r *recorder) check(t *testing.T, op string, verbs map[string]int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.starts != 1 || len(r.ends) != 1 || r.ends[0] != nil {
		t.Fatalf("%s: %d starts, ends %v", op, r.starts, r.ends)
	}
	if !strings.HasPrefix(r.ops[len(r.ops)-1], op+" ") || r.total == 0 || r.moved != r.total {
		t.Errorf("%s: %q moved %d of %d bytes", op, r.ops[len(r.ops)-1], r.moved, r.total)
	}
	for v, n := range verbs {
		if r.verbs[v] != n {
			t.Errorf("%s: blobs %v, want %v", op, r.verbs, verbs)
			break
		}
	}
	r.starts, r.ends = 0, nil
}

// bigPackage is one architecture with an object of size bytes.
func bigPackage(size int) []packager.PlatformPackage {
	obj := append([]byte("\x7fELF"), bytes.Repeat([]byte{7}, size)...)
	m := packager.Meta{Arch: "x86_64"}
	m.BpfSkel.ObjName = "big_bpf"
	return []packager.PlatformPackage{{Package: &packager.Package{Object: obj, Meta: m}}}
}

// Push and pull report their bytes as they move, each once, through a
// registry that wants a token (an upload's body must stay rewindable for
// the auth layer) and through connections cut midway (what a retry sends
// again is not counted twice).
func TestProgress(t *testing.T) {
	ctx := context.Background()
	t.Run("token auth", func(t *testing.T) {
		reg := registrytest.NewServer(t, registrytest.ServerOptions{Username: "u", Password: "p", Token: true})
		ref := mustRef(t, reg.Host+"/probes/big:v1")
		target, err := OpenTarget(ctx, ref, &Options{Username: "u", Password: "p"})
		if err != nil {
			t.Fatal(err)
		}
		defer target.Close()
		var r recorder
		if _, err := Push(ctx, bigPackage(1<<20), target, ref, &PushOptions{Progress: &r}); err != nil {
			t.Fatal(err)
		}
		// The 1 MiB object moved in steps, not at once.
		if r.adds < 4 {
			t.Errorf("push: %d progress steps for 1 MiB", r.adds)
		}
		r.check(t, "push", map[string]int{"pushed": 2})
		if _, err := Push(ctx, bigPackage(1<<20), target, ref, &PushOptions{Progress: &r}); err != nil {
			t.Fatal(err)
		}
		r.check(t, "push", map[string]int{"exists": 2})

		st := openStore(t)
		if _, err := Pull(ctx, target, ref, st, &PullOptions{Progress: &r}); err != nil {
			t.Fatal(err)
		}
		if r.adds < 4 {
			t.Errorf("pull: %d progress steps for 1 MiB", r.adds)
		}
		r.check(t, "pull", map[string]int{"pulled": 2})
		if _, err := Pull(ctx, target, ref, st, &PullOptions{Progress: &r}); err != nil {
			t.Fatal(err)
		}
		r.check(t, "pull", map[string]int{"local": 2})
	})
	t.Run("faults", func(t *testing.T) {
		reg := registrytest.NewServer(t, registrytest.ServerOptions{})
		proxy := registrytest.NewFaultyProxy(t, reg.Host)
		ref := mustRef(t, proxy.Host+"/probes/faulty:v1")
		target, _ := OpenTarget(ctx, ref, &Options{PlainHTTP: true})
		defer target.Close()
		var r recorder
		proxy.CutNextUpload(300 << 10)
		if _, err := Push(ctx, bigPackage(1<<20), target, ref, &PushOptions{Progress: &r}); err != nil {
			t.Fatal(err)
		}
		r.check(t, "push", map[string]int{"pushed": 2})
		proxy.CutNextBlobGet(300 << 10)
		if _, err := Pull(ctx, target, ref, openStore(t), &PullOptions{Progress: &r}); err != nil {
			t.Fatal(err)
		}
		if proxy.Faults() < 2 {
			t.Fatalf("%d faults injected", proxy.Faults())
		}
		r.check(t, "pull", map[string]int{"pulled": 2})
	})
	t.Run("failure", func(t *testing.T) {
		ref := mustRef(t, closedPort(t)+"/probes/x:v1")
		target, _ := OpenTarget(ctx, ref, nil)
		var r recorder
		_, err := Push(ctx, bigPackage(100), target, ref, &PushOptions{Progress: &r, Retries: 1})
		if err == nil || len(r.ends) != 1 || !errors.Is(r.ends[0], ErrUnreachable) {
			t.Fatalf("push to a closed port: %v; ends %v", err, r.ends)
		}
	})
}

// closedPort is 127.0.0.1:PORT where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
