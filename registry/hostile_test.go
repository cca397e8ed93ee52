package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry/registrytest"
)

// treeFiles lists the files under dir, relative, sorted.
func treeFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	slices.Sort(out)
	return out
}

// hostileTitles are names a registry may send that must never become paths.
func hostileTitles(abs string) []string {
	return []string{"../../evil", abs, "a/b", ".", "..", "evil\x00name", "evil\nname", "\x1b[31mred", "-rf", ".hidden", "a\\b", strings.Repeat("x", 200)}
}

// Titles that are not plain names are never used as file names: the
// package's own name (obj_name) is, else "package"; nothing is written
// outside the output folder.
func TestPullHostileTitles(t *testing.T) {
	ctx := context.Background()
	h := registrytest.NewHostile(t)
	sandbox := t.TempDir()
	abs := filepath.Join(sandbox, "abs", "evil")
	for i, title := range hostileTitles(abs) {
		for _, c := range []struct {
			name   string
			art    registrytest.Artifact
			stem   string
			suffix string
		}{
			{"manifest title", registrytest.Artifact{Title: title}, "probe", ".bpf.o"},
			{"layer title", registrytest.Artifact{Layers: []registrytest.Layer{{Data: registrytest.Object(2), Title: title}}}, "probe", ".bpf.o"},
			{"hostile obj_name too", registrytest.Artifact{Title: title, Config: registrytest.Config(title + "_bpf")}, "package", ".bpf.o"},
			{"eunomia Wasm layer title", registrytest.Artifact{ConfigType: packager.MediaTypeWasmConfig, Config: []byte("{}"),
				Layers: []registrytest.Layer{{MediaType: packager.MediaTypeWasm, Data: []byte("\x00asm\x01\x00\x00\x00"), Title: title + ".wasm"}}}, "package", ".wasm"},
		} {
			repo := fmt.Sprintf("t%d/%s", i, strings.ToLower(strings.ReplaceAll(c.name, " ", "-")))
			h.Artifact(repo, "v1", c.art)
			ref := mustRef(t, h.Host+"/"+repo+":v1")
			src, err := OpenTarget(ctx, ref, nil)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(sandbox, "out", fmt.Sprint(i), c.name)
			p, files, err := PullTo(ctx, src, ref, openStore(t), out, nil)
			src.Close()
			if err != nil {
				t.Fatalf("%q, %s: %v", title, c.name, err)
			}
			want := []string{c.stem + c.suffix}
			if c.suffix == ".bpf.o" {
				want = []string{"package.json", c.stem + ".bpf.o"}
				slices.Sort(want)
			}
			if got := treeFiles(t, out); !slices.Equal(got, want) {
				t.Errorf("%q, %s: wrote %q, want %q", title, c.name, got, want)
			}
			if len(files) != len(want) {
				t.Errorf("%q, %s: files %q", title, c.name, files)
			}
			refused := title
			if c.name == "layer title" {
				refused = "" // ecc's shape names files by the manifest's title only
			}
			if p.Package.Name != c.stem || p.Manifest.RefusedName != refused {
				t.Errorf("%q, %s: name %q refused %q", title, c.name, p.Package.Name, p.Manifest.RefusedName)
			}
		}
	}
	// Nothing but the output folders in the sandbox.
	for _, f := range treeFiles(t, sandbox) {
		if !strings.HasPrefix(f, "out/") {
			t.Errorf("written outside the output folders: %s", f)
		}
	}
	if _, err := os.Lstat(abs); err == nil {
		t.Errorf("%s was written", abs)
	}
}

// A plain title is used as it is.
func TestPullPlainTitle(t *testing.T) {
	ctx := context.Background()
	h := registrytest.NewHostile(t)
	h.Artifact("ok/x", "v1", registrytest.Artifact{Title: "exec-snoop_2.v1"})
	ref := mustRef(t, h.Host+"/ok/x:v1")
	src, _ := OpenTarget(ctx, ref, nil)
	defer src.Close()
	out := t.TempDir()
	p, _, err := PullTo(ctx, src, ref, openStore(t), out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := treeFiles(t, out); !slices.Equal(got, []string{"exec-snoop_2.v1.bpf.o", "package.json"}) || p.Manifest.RefusedName != "" {
		t.Errorf("wrote %q (refused %q)", got, p.Manifest.RefusedName)
	}
}

// Manifests with two layers of a kind, or more layers than a package has,
// are refused before any blob is fetched, and the store does not change.
func TestPullRefusesLayerShapes(t *testing.T) {
	ctx := context.Background()
	h := registrytest.NewHostile(t)
	obj := func(seed byte) registrytest.Layer {
		return registrytest.Layer{Data: registrytest.Object(seed), Title: "x.bpf.o"}
	}
	wasm := func(seed byte) registrytest.Layer {
		return registrytest.Layer{MediaType: packager.MediaTypeWasm, Data: []byte{0, 'a', 's', 'm', 1, 0, 0, 0, seed}}
	}
	btf := func(seed byte) registrytest.Layer {
		return registrytest.Layer{MediaType: packager.MediaTypeBTF, Data: []byte{seed}}
	}
	many := make([]registrytest.Layer, 10001)
	for i := range many {
		many[i] = obj(1)
	}
	for _, c := range []struct {
		name   string
		layers []registrytest.Layer
		want   string
	}{
		{"two objects", []registrytest.Layer{obj(1), obj(2)}, "has two BPF object layers (application/vnd.ecc.bpf.object.v1+elf); a package has at most one"},
		{"two Wasm", []registrytest.Layer{obj(1), wasm(1), wasm(2)}, "has two Wasm module layers (application/vnd.wasm.content.layer.v1+wasm); a package has at most one"},
		{"two BTF", []registrytest.Layer{obj(1), btf(1), btf(2)}, "has two BTF archive layers (application/vnd.ecc.btf.v1+tar); a package has at most one"},
		{"10001 layers", many, "lists 10001 layers; a package has at most 3 (a BPF object, a Wasm module, a BTF archive)"},
	} {
		repo := "shape/" + strings.ToLower(strings.ReplaceAll(c.name, " ", "-"))
		root := h.Artifact(repo, "v1", registrytest.Artifact{Title: "x", Layers: c.layers, Manifests: -1})
		ref := mustRef(t, h.Host+"/"+repo+":v1")
		src, _ := OpenTarget(ctx, ref, nil)
		store := openStore(t)
		before := len(h.Requests())
		start := time.Now()
		out := t.TempDir()
		_, _, err := PullTo(ctx, src, ref, store, out, nil)
		src.Close()
		want := fmt.Sprintf("pull %s: manifest %s %s", ref, root.Digest, c.want)
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", c.name, err, want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: took %s", c.name, d)
		}
		for _, r := range h.Requests()[before:] {
			if strings.Contains(r, "/blobs/") {
				t.Errorf("%s: fetched %s", c.name, r)
			}
		}
		if files := treeFiles(t, out); len(files) != 0 {
			t.Errorf("%s: wrote %q", c.name, files)
		}
		if imgs, _ := store.List(ctx); len(imgs) != 0 || len(blobsOnDisk(t, store.Dir())) != 0 {
			t.Errorf("%s: the store changed: %v", c.name, imgs)
		}
	}
}

// The limits: a manifest over 4 MiB, an index over --max-manifests, a
// package over --max-bytes; each refused before fetching layers, naming
// the reference, the limit and the flag; raising the limit lets it through.
func TestPullLimits(t *testing.T) {
	ctx := context.Background()
	h := registrytest.NewHostile(t)

	// An index of 65 manifests.
	h.Artifact("lim/index", "v1", registrytest.Artifact{Title: "x", Manifests: 65})
	ref := mustRef(t, h.Host+"/lim/index:v1")
	src, _ := OpenTarget(ctx, ref, nil)
	defer src.Close()
	_, err := Pull(ctx, src, ref, openStore(t), nil)
	var le *LimitError
	if !errors.Is(err, ErrLimit) || !strings.HasSuffix(err.Error(), "lists 65 manifests, more than the 64 allowed") || !errors.As(err, &le) || le.Limit != "MaxManifests" ||
		!strings.HasPrefix(err.Error(), "pull "+ref.String()+": index sha256:") {
		t.Errorf("65 manifests: %v", err)
	}
	if _, err := Pull(ctx, src, ref, openStore(t), &PullOptions{Limits: &Limits{MaxManifests: 65}}); err != nil {
		t.Errorf("65 manifests with --max-manifests 65: %v", err)
	}
	// The same limit from the Options the target was opened with.
	src2, _ := OpenTarget(ctx, ref, &Options{Limits: Limits{MaxManifests: 100}})
	defer src2.Close()
	if _, err := Pull(ctx, src2, ref, openStore(t), nil); err != nil {
		t.Errorf("65 manifests, Options.Limits 100: %v", err)
	}

	// A package declaring 300 MiB: refused before any blob is fetched.
	h.Artifact("lim/bytes", "v1", registrytest.Artifact{Title: "x", Layers: []registrytest.Layer{
		{Data: registrytest.Object(1)}, {MediaType: packager.MediaTypeWasm, Size: 300 << 20, Declared: true}}})
	ref = mustRef(t, h.Host+"/lim/bytes:v1")
	src3, _ := OpenTarget(ctx, ref, nil)
	defer src3.Close()
	before := len(h.Requests())
	_, err = Pull(ctx, src3, ref, openStore(t), nil)
	if !errors.Is(err, ErrLimit) || !regexpMatch(`^pull \S+/lim/bytes:v1: the linux/amd64 package is 300\.0 MiB \(\d+ bytes\), more than the 256\.0 MiB allowed$`, err.Error()) || !errors.As(err, &le) || le.Limit != "MaxBytes" {
		t.Errorf("300 MiB: %v", err)
	}
	for _, r := range h.Requests()[before:] {
		if strings.Contains(r, "/blobs/") {
			t.Errorf("fetched %s", r)
		}
	}

	// A manifest over 4 MiB.
	big := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"pad":"` + strings.Repeat("x", 5<<20) + `"}}`
	h.Manifest("lim/manifest", "v1", "application/vnd.oci.image.manifest.v1+json", []byte(big))
	ref = mustRef(t, h.Host+"/lim/manifest:v1")
	src4, _ := OpenTarget(ctx, ref, nil)
	defer src4.Close()
	_, err = Pull(ctx, src4, ref, openStore(t), nil)
	if err == nil || !strings.Contains(err.Error(), "more than the 4194304 bytes a manifest may have") || strings.Count(err.Error(), "\n") > 0 {
		t.Errorf("5 MiB manifest: %v", err)
	}
}

// The registry sends nothing, headers without a body, or a byte at a time:
// each fails after the timeout, once (no retries), naming the host and
// what stalled.
func TestPullTimeouts(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for timeouts")
	}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		set  func(h *registrytest.Hostile)
		want string // after "pull REF: registry HOST "
	}{
		{"no answer", func(h *registrytest.Hostile) { h.Hang("/manifests/") }, "sent no response headers for manifest v1 within 700ms"},
		{"no body", func(h *registrytest.Hostile) { h.HangBody("/blobs/") }, "stalled sending blob sha256:"},
		{"dribble", func(h *registrytest.Hostile) { h.Dribble("/blobs/", 1, 50*time.Millisecond) }, "stalled sending blob sha256:"},
		{"dribbled manifest", func(h *registrytest.Hostile) { h.Dribble("/manifests/", 1, 50*time.Millisecond) }, "stalled sending manifest v1: less than 1 KiB arrived within 700ms"},
	} {
		h := registrytest.NewHostile(t)
		h.Artifact("slow/x", "v1", registrytest.Artifact{Title: "x", Manifests: -1})
		c.set(h)
		ref := mustRef(t, h.Host+"/slow/x:v1")
		src, _ := OpenTarget(ctx, ref, &Options{Timeout: 700 * time.Millisecond})
		start := time.Now()
		_, err := Pull(ctx, src, ref, openStore(t), nil)
		took := time.Since(start)
		src.Close()
		prefix := fmt.Sprintf("pull %s: registry %s %s", ref, h.Host, c.want)
		if !errors.Is(err, ErrTimeout) || !strings.HasPrefix(err.Error(), prefix) ||
			!strings.HasSuffix(err.Error(), "within 700ms") {
			t.Errorf("%s:\n got %v\nwant %s…", c.name, err, prefix)
		}
		if e := (*Error)(nil); !errors.As(err, &e) || e.Host != h.Host {
			t.Errorf("%s: %#v does not name the host %s", c.name, e, h.Host)
		}
		if took > 3*time.Second {
			t.Errorf("%s: took %s (retried?)", c.name, took)
		}
	}
}

// Uploads to a registry that stops reading fail too.
func TestPushTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for timeouts")
	}
	ctx := context.Background()
	h := registrytest.NewHostile(t)
	h.Hang("/v2/slow/")
	ref := mustRef(t, h.Host+"/slow/x:v1")
	dst, _ := OpenTarget(ctx, ref, &Options{Timeout: 500 * time.Millisecond})
	defer dst.Close()
	start := time.Now()
	_, err := Push(ctx, testPackages(t, 1), dst, ref, nil)
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "registry "+h.Host+" sent no response headers for blob sha256:") || time.Since(start) > 4*time.Second {
		t.Errorf("push: %v after %s", err, time.Since(start))
	}
}

// A successful transfer slower than the timeout in all, but never stalled
// for that long, is not cut off.
func TestSlowButSteadyTransfer(t *testing.T) {
	if testing.Short() {
		t.Skip("slow on purpose")
	}
	ctx := context.Background()
	h := registrytest.NewHostile(t)
	h.Artifact("steady/x", "v1", registrytest.Artifact{Title: "x", Manifests: -1})
	// 4 KiB object, 512 bytes every 100ms: ~0.8 s in all, 1 KiB every 0.2 s.
	h.Dribble("/blobs/", 512, 100*time.Millisecond)
	ref := mustRef(t, h.Host+"/steady/x:v1")
	src, _ := OpenTarget(ctx, ref, &Options{Timeout: 600 * time.Millisecond})
	defer src.Close()
	if _, err := Pull(ctx, src, ref, openStore(t), nil); err != nil {
		t.Fatal(err)
	}
}

// A 256 MiB layer streams to the store and to the output folder: the heap
// stays far below the layer's size.
func TestPullLargeLayerMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 256 MiB")
	}
	ctx := context.Background()
	h := registrytest.NewHostile(t)
	const size = 256 << 20
	root := h.Artifact("big/x", "v1", registrytest.Artifact{Title: "big", Layers: []registrytest.Layer{
		{Data: registrytest.Object(1)}, {MediaType: packager.MediaTypeWasm, Size: size}}})
	_ = root
	ref := mustRef(t, h.Host+"/big/x:v1")
	src, _ := OpenTarget(ctx, ref, &Options{Limits: Limits{MaxBytes: 300 << 20}})
	defer src.Close()
	store := openStore(t)
	out := t.TempDir()

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	p, files, err := PullTo(ctx, src, ref, store, out, nil)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if p.Package.Wasm != nil {
		t.Error("PullTo held the Wasm module in memory")
	}
	fi, err := os.Stat(filepath.Join(out, "big.wasm"))
	if err != nil || fi.Size() != size || len(files) != 3 {
		t.Fatalf("big.wasm: %v %v (files %q)", fi, err, files)
	}
	grew := int64(peak.Load()) - int64(base.HeapInuse)
	t.Logf("heap in use grew by %.1f MiB at most while pulling a %d MiB layer", float64(grew)/(1<<20), size>>20)
	if grew > 32<<20 {
		t.Errorf("the heap grew by %d MiB pulling a %d MiB layer", grew>>20, size>>20)
	}
}

func regexpMatch(pattern, s string) bool {
	return regexp.MustCompile(pattern).MatchString(s)
}
