package runtime

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ecc-bpf/ecc/compiler"
	"github.com/ecc-bpf/ecc/internal/testenv"
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
