package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry/registrytest"
	"github.com/ecc-bpf/ecc/source"
)

// session runs ecc in dir with its own local store and docker config, stdin
// given, and returns what it printed.
type session struct {
	t     *testing.T
	env   []string
	dir   string
	stdin string
}

func newCLI(t *testing.T) *session {
	home := t.TempDir()
	return &session{t: t, dir: t.TempDir(), env: append(os.Environ(),
		"ECC_STORE_DIR="+filepath.Join(home, "store"), "DOCKER_CONFIG="+filepath.Join(home, "docker"),
		"ECC_REGISTRY_USERNAME=", "ECC_REGISTRY_PASSWORD=")}
}

func (c *session) run(args ...string) (stdout, stderr string, status int) {
	c.t.Helper()
	cmd := exec.Command(eccBin, args...)
	cmd.Dir, cmd.Env, cmd.Stdin = c.dir, c.env, strings.NewReader(c.stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		status = ee.ExitCode()
	case err != nil:
		c.t.Fatal(err)
	}
	return o.String(), e.String(), status
}

// ok runs ecc and fails the test unless it succeeds.
func (c *session) ok(args ...string) string {
	c.t.Helper()
	stdout, stderr, status := c.run(args...)
	if status != 0 {
		c.t.Fatalf("ecc %s: status %d\n%s", strings.Join(args, " "), status, stderr)
	}
	return stdout
}

// testPackage writes a package.json made from a committed object (no
// clang needed) into a folder of its own and returns the folder.
func testPackage(t *testing.T) string {
	t.Helper()
	src, err := source.Open(context.Background(), "../../packager/extract/testdata/events.bpf.o", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.Package.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "package.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// jsonKeys decodes out as one JSON document and returns the keys of its
// top-level object (of the first element, for an array), failing the test
// unless every key at any depth is snake_case. skip names keys whose
// values are data (C identifiers of a program), not the contract's keys.
func jsonKeys(t *testing.T, what, out string, skip ...string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", what, err, out)
	}
	if dec.More() {
		t.Fatalf("%s: more than one JSON document:\n%s", what, out)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if !snakeCase.MatchString(k) {
					t.Errorf("%s: key %s%s is not snake_case", what, path, k)
				}
				if !slices.Contains(skip, k) {
					walk(path+k+".", x)
				}
			}
		case []any:
			for _, x := range v {
				walk(path, x)
			}
		}
	}
	walk("", v)
	if a, ok := v.([]any); ok {
		if len(a) == 0 {
			t.Fatalf("%s: empty array", what)
		}
		v = a[0]
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: not an object: %s", what, out)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func wantKeys(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: keys %q, want %q", what, got, want)
	}
}

// Every command that prints a result prints JSON with --format json: one
// document, snake_case keys, the keys docs/output.md lists.
func TestFormatJSONKeys(t *testing.T) {
	reg := registrytest.NewServer(t, registrytest.ServerOptions{Username: "u", Password: "p"})
	c := newCLI(t)
	pkg := testPackage(t)
	ref := reg.Host + "/probes/events:v1"
	c.stdin = "p"
	wantKeys(t, "login", jsonKeys(t, "login", c.ok("login", "--format", "json", "-u", "u", "--password-stdin", reg.Host)), "registry", "username")
	c.stdin = ""
	c.env = append(c.env, "SOURCE_DATE_EPOCH=1700000000", "TZ=Asia/Tokyo")
	wantKeys(t, "push", jsonKeys(t, "push", c.ok("push", "--format", "json", pkg, ref)),
		"reference", "digest", "media_type", "size", "uploaded", "skipped")
	wantKeys(t, "pull", jsonKeys(t, "pull", c.ok("pull", "--format", "json", ref)),
		"reference", "digest", "platform", "directory", "files")
	wantKeys(t, "tag", jsonKeys(t, "tag", c.ok("tag", "--format", "json", ref, "localhost/events:dev")), "source", "target")
	images := c.ok("images", "--format", "json")
	wantKeys(t, "images", jsonKeys(t, "images", images),
		"reference", "repository", "tag", "digest", "media_type", "platforms", "size", "created", "title")
	var imgs []struct{ Reference, Created string }
	json.Unmarshal([]byte(images), &imgs)
	if len(imgs) != 2 || imgs[0].Reference != ref || imgs[0].Created != "2023-11-14T22:13:20Z" {
		t.Errorf("images: %+v, want %s created 2023-11-14T22:13:20Z (SOURCE_DATE_EPOCH, in UTC)", imgs, ref)
	}
	wantKeys(t, "images rm", jsonKeys(t, "images rm", c.ok("images", "rm", "--format", "json", "localhost/events:dev")), "removed")
	// inspect prints the metadata: eunomia's keys, snake_case too; the
	// values of globals and export type members carry C names.
	keys := jsonKeys(t, "inspect", c.ok("inspect", "--format", "json", filepath.Join(pkg, "package.json")), "value", "members")
	for _, k := range []string{"bpf_skel", "export_types"} {
		if !slices.Contains(keys, k) {
			t.Errorf("inspect: keys %q lack %s", keys, k)
		}
	}
	wantKeys(t, "logout", jsonKeys(t, "logout", c.ok("logout", "--format", "json", reg.Host)), "registry")

	// The text forms are unchanged.
	if out := c.ok("images"); !strings.HasPrefix(out, "REPOSITORY") || !strings.Contains(out, reg.Host+"/probes/events") {
		t.Errorf("images:\n%s", out)
	}
}

// ecc build --format json and its alias --json print the one shape.
func TestBuildFormatJSON(t *testing.T) {
	testenv.BPFBuild(t)
	c := newCLI(t)
	src, _ := filepath.Abs("../../examples/execsnoop/execsnoop.bpf.c")
	for _, flag := range [][]string{{"--format", "json"}, {"--json"}} {
		out := c.ok(append(append([]string{"build"}, flag...), "-o", t.TempDir(), src)...)
		wantKeys(t, "build "+flag[0], jsonKeys(t, "build", out), "name", "outputs")
		var res struct {
			Outputs []map[string]any
		}
		json.Unmarshal([]byte(out), &res)
		if len(res.Outputs) != 1 {
			t.Fatalf("build %s: %s", flag[0], out)
		}
		var keys []string
		for k := range res.Outputs[0] {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		wantKeys(t, "build outputs", keys, "arch", "object", "skel", "package", "cached", "ms", "materials")
	}
}

// A --format other than text or json is one line naming the flag and the
// choices, before anything is done.
func TestBadFormat(t *testing.T) {
	c := newCLI(t)
	pkg := testPackage(t)
	for _, args := range [][]string{
		{"images", "--format", "yaml"},
		{"push", "--format", "yaml", pkg, "127.0.0.1:1/x:v1"},
		{"pull", "--format", "JSON", "127.0.0.1:1/x:v1"},
		{"inspect", "--format", "yaml", pkg},
		{"tag", "--format", "yaml", "a/b:v1", "a/c:v1"},
		{"build", "--format", "yaml", "x.bpf.c"},
		{"login", "--format", "yaml", "127.0.0.1:1"},
	} {
		stdout, stderr, status := c.run(args...)
		want := `ecc ` + args[0] + `: --format "` + args[2] + `": use text or json; see 'ecc ` + args[0] + ` --help'` + "\n"
		if status != 2 || stderr != want || stdout != "" {
			t.Errorf("ecc %s: status %d, stderr %q, want %q", strings.Join(args, " "), status, stderr, want)
		}
	}
}

// A registry that is not running: one line naming the host, one hint, not a
// Go dial error.
func TestRegistryDown(t *testing.T) {
	c := newCLI(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close()
	pkg := testPackage(t)
	for _, args := range [][]string{{"push", pkg, host + "/x:v1"}, {"pull", host + "/x:v1"}, {"inspect", host + "/x:v1"}} {
		_, stderr, status := c.run(args...)
		want := ": cannot reach registry " + host + ": connection refused\necc: hint: is the registry running? check the address and port\n"
		if status != 1 || !strings.HasSuffix(stderr, want) || strings.Contains(stderr, "dial tcp") || strings.Count(stderr, "\n") != 3 {
			t.Errorf("ecc %s: status %d, stderr:\n%s", args[0], status, stderr)
		}
	}
	if files := listFiles(c.dir); len(files) != 0 {
		t.Errorf("files written: %q", files)
	}
}

// ecc pull without -o writes into ./NAME, never over a file, and replaces
// files only with --force.
func TestPullSafe(t *testing.T) {
	reg := registrytest.NewServer(t, registrytest.ServerOptions{})
	c := newCLI(t)
	ref := reg.Host + "/probes/execsnoop:v1"
	c.ok("push", testPackage(t), ref)
	node := `{"name": "my-node-app", "dependencies": {}}`
	os.WriteFile(filepath.Join(c.dir, "package.json"), []byte(node), 0o644)

	out := c.ok("pull", ref)
	if !strings.Contains(out, "execsnoop/package.json") {
		t.Errorf("pull printed:\n%s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(c.dir, "package.json")); string(b) != node {
		t.Errorf("./package.json overwritten: %s", b)
	}
	if _, err := packager.ReadFile(filepath.Join(c.dir, "execsnoop", "package.json")); err != nil {
		t.Fatalf("./execsnoop/package.json: %v", err)
	}
	before := listFiles(c.dir)

	// Again: refused, naming the file and --force.
	for _, args := range [][]string{{"pull", ref}, {"pull", "-o", ".", ref}} {
		_, stderr, status := c.run(args...)
		file := "execsnoop/package.json"
		if len(args) > 2 {
			file = "package.json"
		}
		want := "ecc: pull " + ref + ": " + file + " already exists\necc: hint: pass --force to overwrite it, or -o DIR to pull into another folder\n"
		if status != 1 || !strings.HasSuffix(stderr, want) {
			t.Errorf("ecc %s: status %d, stderr %q, want …%q", strings.Join(args, " "), status, stderr, want)
		}
	}
	if after := listFiles(c.dir); !slices.Equal(before, after) {
		t.Errorf("refused pulls changed files: %q → %q", before, after)
	}
	if b, _ := os.ReadFile(filepath.Join(c.dir, "package.json")); string(b) != node {
		t.Errorf("./package.json overwritten: %s", b)
	}
	c.ok("pull", "--force", ref)
	c.ok("pull", "-f", "-o", filepath.Join(c.dir, "new", "dir"), ref)
	if _, err := packager.ReadFile(filepath.Join(c.dir, "new", "dir", "package.json")); err != nil {
		t.Errorf("-o into a new folder: %v", err)
	}
}

// Push and pull draw a progress bar on a terminal, on stderr only; nothing
// when stderr is a pipe or TERM is dumb.
func TestProgressOnTerminal(t *testing.T) {
	reg := registrytest.NewServer(t, registrytest.ServerOptions{})
	c := newCLI(t)
	pkg := testPackage(t)
	ref := reg.Host + "/probes/events:v1"
	onPTY := func(env []string, args ...string) (stdout, tty string) {
		t.Helper()
		ptmx, tt, err := pty.Open()
		if err != nil {
			t.Skipf("no pty: %v", err)
		}
		defer ptmx.Close()
		cmd := exec.Command(eccBin, args...)
		var o bytes.Buffer
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = c.dir, append(slices.Clone(c.env), env...), &o, tt
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		tt.Close()
		read := make(chan []byte)
		go func() {
			b, _ := io.ReadAll(ptmx) // until the child closes the terminal (EIO)
			read <- b
		}()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("ecc %s: %v", strings.Join(args, " "), err)
		}
		select {
		case b := <-read:
			// The terminal turns "\n" into "\r\n"; a bar's "\r" stays.
			return o.String(), strings.ReplaceAll(string(b), "\r\n", "\n")
		case <-time.After(10 * time.Second):
			t.Fatal("the terminal stayed open")
		}
		return "", ""
	}
	term := []string{"TERM=xterm"}
	stdout, tty := onPTY(term, "push", pkg, ref)
	if !strings.Contains(tty, "push "+ref) || !strings.Contains(tty, "|") || !strings.Contains(tty, "\r") || !strings.Contains(tty, "KiB") {
		t.Errorf("push: no progress bar on the terminal: %q", tty)
	}
	if strings.Contains(stdout, "\r") || !strings.HasPrefix(stdout, "Pushed "+ref) {
		t.Errorf("push: stdout %q", stdout)
	}
	_, tty = onPTY(term, "pull", "-o", "out", ref)
	if !strings.Contains(tty, "pull "+ref) || !strings.Contains(tty, "%") {
		t.Errorf("pull: no progress bar on the terminal: %q", tty)
	}
	_, tty = onPTY([]string{"TERM=dumb"}, "pull", "-o", "dumb", ref)
	if strings.Contains(tty, "\r") || strings.Contains(tty, "%") {
		t.Errorf("pull with TERM=dumb drew: %q", tty)
	}
	// A pipe: the notice and the summary, no bar.
	_, stderr, _ := c.run("push", pkg, ref)
	if strings.Contains(stderr, "\r") || strings.Contains(stderr, "%") || strings.Contains(stderr, "push "+ref) {
		t.Errorf("push to a pipe drew: %q", stderr)
	}
	_, stderr, _ = c.run("pull", "-o", "piped", ref)
	if strings.Contains(stderr, "\r") || strings.Contains(stderr, "%") {
		t.Errorf("pull to a pipe drew: %q", stderr)
	}
}
