package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry/registrytest"
)

// files lists the files under dir, relative and sorted.
func files(dir string) []string {
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

// imagesIn lists the references in a store.
func (e *env) images() string {
	e.t.Helper()
	return e.runIn(e.store, eccBin, "images", "--format", "json").stdout
}

// A registry whose titles are paths (traversal, absolute, nested, ".",
// "..", NUL and control characters): ecc pull -o DIR and ecli pull write
// package.json and probe.bpf.o (the package's own name) into DIR and
// nothing anywhere else, with a notice; ecli run REF writes nothing but the
// store either.
func TestHostileTitlesCLI(t *testing.T) {
	ecli := ecliBin
	h := registrytest.NewHostile(t)
	e := newEnv(t)
	sandbox := t.TempDir()
	abs := filepath.Join(sandbox, "abs", "evil")
	titles := []string{"../../evil", abs, "a/b", ".", "..", "evil\x00name", "evil\nname", "\x1b[2Jevil"}
	for i, title := range titles {
		repo := fmt.Sprintf("titles/t%d", i)
		h.Artifact(repo, "v1", registrytest.Artifact{Title: title, Layers: []registrytest.Layer{{Data: registrytest.Object(byte(i)), Title: title}}})
		ref := h.Host + "/" + repo + ":v1"
		for _, tool := range []struct{ name, bin string }{{"ecc", eccBin}, {"ecli", ecli}} {
			out := filepath.Join(sandbox, "x", "y", tool.name+fmt.Sprint(i))
			os.MkdirAll(out, 0o755)
			r := e.runIn(out, tool.bin, "pull", "--plain-http", "-o", out, ref)
			if r.status != 0 {
				t.Fatalf("%s pull (title %q): status %d: %s", tool.name, title, r.status, r.stderr)
			}
			notice := fmt.Sprintf("notice: %s names its files %q, which is not a plain file name; using \"probe\"\n", ref, title)
			if !strings.HasSuffix(r.stderr, notice) {
				t.Errorf("%s pull (title %q): stderr %q, want …%q", tool.name, title, r.stderr, notice)
			}
			if got := files(out); !slices.Equal(got, []string{"package.json", "probe.bpf.o"}) {
				t.Errorf("%s pull (title %q): wrote %q", tool.name, title, got)
			}
			p, err := packager.ReadFile(filepath.Join(out, "package.json"))
			if err != nil || !bytes.Equal(p.Object, registrytest.Object(byte(i))) {
				t.Errorf("%s pull (title %q): package.json: %v", tool.name, title, err)
			}
		}
		// ecli run REF pulls through the store and loads the object; the
		// fake object does not load, and the title reaches no file name.
		cwd := filepath.Join(sandbox, "x", "y", fmt.Sprintf("run%d", i))
		os.MkdirAll(cwd, 0o755)
		e.runIn(e.store, eccBin, "images", "rm", ref)
		r := e.runIn(cwd, ecli, "run", "--plain-http", "--pull=always", ref)
		if r.status != 1 || !strings.HasPrefix(r.stderr, "ecli: "+ref+": read BPF object: ") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("ecli run (title %q): status %d: %q", title, r.status, r.stderr)
		}
	}
	for _, f := range files(sandbox) {
		dir, base := filepath.Split(f)
		if !strings.HasPrefix(dir, "x/y/ecc") && !strings.HasPrefix(dir, "x/y/ecli") || (base != "package.json" && base != "probe.bpf.o") {
			t.Errorf("written: %s", f)
		}
	}
	for _, f := range files(e.store) {
		if strings.Contains(f, "evil") || strings.Contains(f, "probe") {
			t.Errorf("store file named by the registry: %s", f)
		}
	}
	if _, err := os.Lstat(abs); err == nil {
		t.Errorf("%s written", abs)
	}
}

// A manifest with two objects (as with two Wasm or BTF layers, which the
// registry tests cover) is refused by ecc pull, ecli pull and ecli run REF
// with one line naming it; nothing is written, the store gets nothing.
func TestHostileTwoObjectsCLI(t *testing.T) {
	ecli := ecliBin
	h := registrytest.NewHostile(t)
	e := newEnv(t)
	root := h.Artifact("two/objects", "v1", registrytest.Artifact{Title: "x", Manifests: -1, Layers: []registrytest.Layer{
		{Data: registrytest.Object(1), Title: "x.bpf.o"}, {Data: registrytest.Object(2), Title: "y.bpf.o"}}})
	ref := h.Host + "/two/objects:v1"
	out := filepath.Join(t.TempDir(), "out")
	line := fmt.Sprintf("pull %s: manifest %s has two BPF object layers (%s); a package has at most one\n", ref, root.Digest, packager.MediaTypeObject)
	for _, c := range []struct {
		bin  string
		args []string
	}{
		{eccBin, []string{"pull", "--plain-http", "-o", out, ref}},
		{ecli, []string{"pull", "--plain-http", "-o", out, ref}},
		{ecli, []string{"run", "--plain-http", ref}},
	} {
		r := e.runIn(t.TempDir(), c.bin, c.args...)
		want := filepath.Base(c.bin) + ": " + line
		if r.status != 1 || r.stderr != want {
			t.Errorf("%s %s: status %d\n got %q\nwant %q", filepath.Base(c.bin), c.args[0], r.status, r.stderr, want)
		}
	}
	if got := files(filepath.Dir(out)); len(got) != 0 {
		t.Errorf("wrote %q", got)
	}
	if imgs := e.images(); strings.TrimSpace(imgs) != "[]" {
		t.Errorf("store: %s", imgs)
	}
	if got := files(filepath.Join(e.store, "blobs")); len(got) != 0 {
		t.Errorf("store blobs: %q", got)
	}
}

// Limits: the error names the reference, the limit and the flag; the flag
// lets the pull through.
func TestHostileLimitsCLI(t *testing.T) {
	ecli := ecliBin
	h := registrytest.NewHostile(t)
	e := newEnv(t)
	h.Artifact("lim/bytes", "v1", registrytest.Artifact{Title: "x", Layers: []registrytest.Layer{
		{Data: registrytest.Object(1)}, {MediaType: packager.MediaTypeWasm, Size: 300 << 20, Declared: true}}})
	h.Artifact("lim/index", "v1", registrytest.Artifact{Title: "x", Manifests: 65})
	bytesRef, indexRef := h.Host+"/lim/bytes:v1", h.Host+"/lim/index:v1"
	out := t.TempDir()

	r := e.runIn(out, eccBin, "pull", "--plain-http", "-o", out, bytesRef)
	want := regexpLine(`ecc: pull ` + bytesRef + `: the linux/amd64 package is 300\.0 MiB \(\d+ bytes\), more than the 256\.0 MiB allowed\necc: hint: if you trust the source, raise the limit with --max-bytes SIZE`)
	if r.status != 1 || !want.MatchString(r.stderr) {
		t.Errorf("300 MiB: status %d: %q", r.status, r.stderr)
	}
	r = e.runIn(out, ecli, "run", "--plain-http", "--max-bytes", "128MiB", bytesRef)
	if r.status != 1 || !strings.Contains(r.stderr, "more than the 128.0 MiB allowed\necli: hint: if you trust the source, raise the limit with --max-bytes SIZE\n") {
		t.Errorf("ecli run --max-bytes 128MiB: status %d: %q", r.status, r.stderr)
	}
	r = e.runIn(out, eccBin, "pull", "--max-bytes", "lots", bytesRef)
	if r.status != 1 || r.stderr != "ecc: --max-bytes: size \"lots\": want a positive whole number of bytes, e.g. 512MiB or 1GiB\n" {
		t.Errorf("--max-bytes lots: %d %q", r.status, r.stderr)
	}

	for _, bin := range []string{eccBin, ecli} {
		r = e.runIn(out, bin, "pull", "--plain-http", "-o", out, indexRef)
		want := regexpLine(filepath.Base(bin) + `: pull ` + indexRef + `: index sha256:[0-9a-f]{64} lists 65 manifests, more than the 64 allowed\n` + filepath.Base(bin) + `: hint: if you trust the source, raise the limit with --max-manifests N`)
		if r.status != 1 || !want.MatchString(r.stderr) {
			t.Errorf("%s pull, 65 manifests: status %d: %q", filepath.Base(bin), r.status, r.stderr)
		}
	}
	if got := files(out); len(got) != 0 {
		t.Errorf("wrote %q", got)
	}
	if r = e.runIn(out, eccBin, "pull", "--max-manifests", "65", "-o", out, indexRef); r.status != 0 {
		t.Errorf("--max-manifests 65: %d %s", r.status, r.stderr)
	}
}

// A registry that never answers, or dribbles: every registry command gives
// up after --timeout with one line naming the host and what stalled, and
// an advice line.
func TestHostileTimeoutsCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for timeouts")
	}
	ecli := ecliBin
	e := newEnv(t)
	hang := registrytest.NewHostile(t)
	hang.Artifact("slow/x", "v1", registrytest.Artifact{Title: "x"})
	hang.Hang("/v2/")
	drip := registrytest.NewHostile(t)
	drip.Artifact("slow/x", "v1", registrytest.Artifact{Title: "x"})
	drip.Dribble("/blobs/", 1, 100*time.Millisecond)
	hint := "\n%s: hint: check that %s is up and reachable; if it is only slow, raise --timeout\n"
	pkg := t.TempDir()
	os.WriteFile(filepath.Join(pkg, "package.json"), mustPackageJSON(t), 0o644)
	out := filepath.Join(t.TempDir(), "out")
	for _, c := range []struct {
		bin   string
		args  []string
		stdin string
		want  string
	}{
		{eccBin, []string{"pull", "-o", out, hang.Host + "/slow/x:v1"}, "", "ecc: pull %[1]s/slow/x:v1: registry %[1]s sent no response headers for manifest v1 within 1s"},
		{ecli, []string{"pull", "-o", out, drip.Host + "/slow/x:v1"}, "", "ecli: pull %[1]s/slow/x:v1: registry %[1]s stalled sending blob sha256:"},
		{ecli, []string{"run", drip.Host + "/slow/x:v1"}, "", "ecli: pull %[1]s/slow/x:v1: registry %[1]s stalled sending blob sha256:"},
		{eccBin, []string{"inspect", hang.Host + "/slow/x:v1"}, "", "ecc: pull %[1]s/slow/x:v1: registry %[1]s sent no response headers for manifest v1 within 1s"},
		{eccBin, []string{"push", pkg, hang.Host + "/slow/x:v2"}, "", "ecc: push %[1]s/slow/x:v2: registry %[1]s sent no response headers for blob sha256:"},
		{eccBin, []string{"login", "-u", "u", "--password-stdin", hang.Host}, "secret\n", "ecc: login to %[1]s: registry %[1]s sent no response headers within 1s"},
	} {
		host := hang.Host
		if strings.Contains(strings.Join(c.args, " "), drip.Host) {
			host = drip.Host
		}
		args := append([]string{c.args[0], "--plain-http", "--timeout", "1s"}, c.args[1:]...)
		cmd := exec.Command(c.bin, args...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+e.dockerConfig, "ECC_STORE_DIR="+e.store)
		cmd.Stdin = strings.NewReader(c.stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		err := cmd.Run()
		took := time.Since(start)
		var ee *exec.ExitError
		want := fmt.Sprintf(c.want, host)
		name := filepath.Base(c.bin) + " " + c.args[0]
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("%s: %v", name, err)
		}
		got := stderr.String()
		wantHint := fmt.Sprintf(hint, filepath.Base(c.bin), host)
		if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, wantHint) || strings.Count(got, "\n") != 2 {
			t.Errorf("%s:\n got %q\nwant %q…%q", name, got, want, wantHint)
		}
		if took > 6*time.Second {
			t.Errorf("%s took %s", name, took)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s created", out)
	}
}

// ecc pull of a 256 MiB Wasm layer streams it: the process stays far
// smaller than the layer.
func TestPullLargeLayerRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 256 MiB")
	}
	h := registrytest.NewHostile(t)
	e := newEnv(t)
	h.Artifact("big/x", "v1", registrytest.Artifact{Title: "big", Layers: []registrytest.Layer{
		{Data: registrytest.Object(1)}, {MediaType: packager.MediaTypeWasm, Size: 256 << 20}}})
	out := t.TempDir()
	r := e.runIn(out, eccBin, "pull", "--max-bytes", "300MiB", "-o", out, h.Host+"/big/x:v1")
	if r.status != 0 {
		t.Fatalf("status %d: %s", r.status, r.stderr)
	}
	if fi, err := os.Stat(filepath.Join(out, "big.wasm")); err != nil || fi.Size() != 256<<20 {
		t.Fatalf("big.wasm: %v", err)
	}
	t.Logf("ecc pull of a 256 MiB layer: max RSS %.1f MiB, %s", float64(r.maxRSS)/(1<<20), r.took)
	if r.maxRSS > 96<<20 {
		t.Errorf("max RSS %d MiB", r.maxRSS>>20)
	}
}

// regexpLine matches the whole text: the pattern, then a newline.
func regexpLine(pattern string) *regexp.Regexp { return regexp.MustCompile(`^` + pattern + `\n$`) }

// mustPackageJSON is a package.json around a fake object.
func mustPackageJSON(t *testing.T) []byte {
	t.Helper()
	meta, err := packager.UnmarshalMeta(registrytest.Config("probe_bpf"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := (&packager.Package{Object: registrytest.Object(9), Meta: *meta}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}
