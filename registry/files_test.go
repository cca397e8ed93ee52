package registry

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry/registrytest"
)

// PullTo never replaces a file without Overwrite: a Node project's
// package.json stays as it was, the store does not take the artifact, and
// no temporary file is left; with Overwrite the files are replaced.
func TestPullToKeepsExistingFiles(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.NewServer(t, registrytest.ServerOptions{})
	ref := mustRef(t, reg.Host+"/probes/probe:v1")
	target, err := OpenTarget(ctx, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if _, err := Push(ctx, testPackages(t, 1), target, ref, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	node := []byte(`{"name": "my-node-app", "version": "1.0.0"}`)
	os.WriteFile(filepath.Join(dir, "package.json"), node, 0o644)
	st := openStore(t)
	_, _, err = PullTo(ctx, target, ref, st, dir, nil)
	var ee *ExistsError
	if !errors.As(err, &ee) || !errors.Is(err, fs.ErrExist) || ee.Path != filepath.Join(dir, "package.json") {
		t.Fatalf("pull beside a package.json: %v", err)
	}
	if want := "pull " + ref.String() + ": " + filepath.Join(dir, "package.json") + " already exists"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "package.json")); string(got) != string(node) {
		t.Errorf("package.json changed: %s", got)
	}
	if got := treeFiles(t, dir); !slices.Equal(got, []string{"package.json"}) {
		t.Errorf("files %q", got)
	}
	if imgs, _ := st.List(ctx); len(imgs) != 0 {
		t.Errorf("the store took the artifact of a refused pull: %+v", imgs)
	}

	if _, _, err := PullTo(ctx, target, ref, st, dir, &PullOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	if p, err := packager.ReadFile(filepath.Join(dir, "package.json")); err != nil || p.Meta.BpfSkel.ObjName != "probe_bpf" {
		t.Fatalf("package.json after an overwriting pull: %v", err)
	}
	// Pulled twice: refused again, naming the first file found.
	if _, _, err := PullTo(ctx, target, ref, st, dir, nil); !errors.As(err, &ee) {
		t.Errorf("second pull: %v", err)
	}
}

// A file already there is not replaced: commit refuses before placing
// any, and place (for a file that appears after that check) fails rather
// than rename over it.
func TestFileWriterNoClobber(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	w, err := newFileWriter(dir, "probe", false)
	if err != nil {
		t.Fatal(err)
	}
	defer w.abort()
	w.add("package.json", []byte("{}"), nil)
	w.add("probe.bpf.o", []byte("obj"), nil)
	os.WriteFile(filepath.Join(dir, "probe.bpf.o"), []byte("mine"), 0o644)
	if err := w.place(w.temps[1], "probe.bpf.o"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("place over a file: %v", err)
	}
	_, err = w.commit()
	var ee *ExistsError
	if !errors.As(err, &ee) || ee.Path != filepath.Join(dir, "probe.bpf.o") {
		t.Fatalf("commit over a file: %v", err)
	}
	if got := treeFiles(t, dir); !slices.Equal(got, []string{"probe.bpf.o"}) {
		t.Errorf("left %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "probe.bpf.o")); string(b) != "mine" {
		t.Errorf("replaced: %q", b)
	}

	// A writer that does not commit removes the folders it made.
	top := filepath.Join(t.TempDir(), "new")
	w, err = newFileWriter(filepath.Join(top, "x", "y"), "probe", false)
	if err != nil {
		t.Fatal(err)
	}
	w.add("package.json", []byte("{}"), nil)
	w.abort()
	if _, err := os.Stat(top); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s left behind: %v", top, err)
	}
}
