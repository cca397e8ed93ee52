package templates

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The templates of the first release; later ones (wasm-c, wasm-go) add to it.
var baseScaffolds = []string{"histogram", "profile", "tc", "tracepoint", "uprobe", "xdp"}

func TestInitScaffolds(t *testing.T) {
	got := map[string]Scaffold{}
	var names []string
	for _, s := range Scaffolds() {
		got[s.Name] = s
		names = append(names, s.Name)
		if s.Description == "" || strings.ContainsAny(s.Description, "\n\t") || len(s.Description) > 100 {
			t.Errorf("%s: description %q is not one short line", s.Name, s.Description)
		}
		if strings.HasPrefix(s.Name, "_") {
			t.Errorf("shared folder %s listed as a template", s.Name)
		}
	}
	if !sort.StringsAreSorted(names) {
		t.Errorf("not sorted: %v", names)
	}
	for _, n := range baseScaffolds {
		if _, ok := got[n]; !ok {
			t.Errorf("template %s missing from %v", n, names)
		}
	}
	if _, err := LookupScaffold(DefaultScaffold); err != nil {
		t.Errorf("default template: %v", err)
	}
	_, err := LookupScaffold("kprobe")
	if err == nil || !strings.Contains(err.Error(), `"kprobe"`) || !strings.Contains(err.Error(), "tracepoint") {
		t.Errorf("unknown template: %v", err)
	}
	// Network templates say which interface to run on.
	for _, n := range []string{"xdp", "tc"} {
		if !strings.Contains(got[n].RunFlags, "--ifname") {
			t.Errorf("%s: run flags %q lack --ifname", n, got[n].RunFlags)
		}
	}
	if !strings.Contains(got["uprobe"].RunFlags, "--uprobe") {
		t.Errorf("uprobe: run flags %q lack --uprobe", got["uprobe"].RunFlags)
	}
}

func TestInitValidName(t *testing.T) {
	for _, n := range []string{"a", "execwatch", "my_probe", "my-probe", "a-b_c", "p2p", "x_1_y", strings.Repeat("a", 64)} {
		if err := ValidName(n); err != nil {
			t.Errorf("%q: %v", n, err)
		}
	}
	for _, c := range []struct{ name, hint string }{
		{"", ""},
		{"My-Probe", `"my-probe"`},
		{"my-", `"my"`},
		{"-x", `"x"`},
		{"1abc", `"abc"`},
		{"_x", `"x"`},
		{"a b", `"a_b"`},
		{"a.b", `"a_b"`},
		{"../evil", `"evil"`},
		{"a/b", `"a_b"`},
		{"ünï", ""},
		{strings.Repeat("a", 65), ""},
	} {
		err := ValidName(c.name)
		if err == nil {
			t.Errorf("%q accepted", c.name)
			continue
		}
		if !strings.Contains(err.Error(), "name") {
			t.Errorf("%q: error %q does not say what is wrong", c.name, err)
		}
		if c.hint != "" && !strings.Contains(err.Error(), c.hint) {
			t.Errorf("%q: error %q does not suggest %s", c.name, err, c.hint)
		}
	}
}

// Every template renders into a folder with the files a project needs, its
// placeholders all filled in and GitHub's own ${{ }} expressions intact.
func TestInitRenderEveryTemplate(t *testing.T) {
	samples := map[string]string{"xdp": "default_kv", "tc": "default_kv", "histogram": "log2_hist"}
	base := map[string]bool{}
	for _, n := range baseScaffolds {
		base[n] = true
	}
	for _, s := range Scaffolds() {
		t.Run(s.Name, func(t *testing.T) {
			const name = "my-probe" // C identifiers: my_probe
			dir := filepath.Join(t.TempDir(), "proj")
			if err := Render(s.Name, name, dir, nil); err != nil {
				t.Fatal(err)
			}
			d, err := ScaffoldFor(s.Name, name, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{".github/workflows/publish.yml", ".gitignore", "Makefile", "README.md", name + ".bpf.c"}
			if d.Header != "" {
				want = append(want, d.Header)
			}
			got := map[string]string{}
			filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
				if err == nil && !info.IsDir() {
					rel, _ := filepath.Rel(dir, p)
					b, _ := os.ReadFile(p)
					got[filepath.ToSlash(rel)] = string(b)
					if info.Mode().Perm() != 0o644 {
						t.Errorf("%s: mode %v", rel, info.Mode())
					}
				}
				return nil
			})
			for _, w := range want {
				if _, ok := got[w]; !ok {
					t.Errorf("missing %s (have %v)", w, keys(got))
				}
			}
			for p, text := range got {
				if strings.Contains(p, "NAME") || strings.HasSuffix(p, ".tmpl") || strings.HasSuffix(p, "template.json") {
					t.Errorf("unrendered file name %s", p)
				}
				for _, bad := range []string{"[[", "]]", "<no value>"} {
					if i := strings.Index(text, bad); i >= 0 {
						t.Errorf("%s: leftover %q at %q", p, bad, text[max(0, i-30):min(len(text), i+30)])
					}
				}
				// (The Go guest SDK's import path is the one legitimate mention.)
				if strings.Contains(strings.ReplaceAll(text, "ecc-bpf/ecc/templates/wasm/go/eccwasm", ""), "ecc-bpf/ecc/templates") {
					t.Errorf("%s names the template source", p)
				}
			}

			readme := got["README.md"]
			for _, w := range []string{"# " + name, "ecc build -o build " + d.Sources, "sudo ecli run", d.Package, "ecc push build ghcr.io/OWNER/REPO:TAG", "ecc login ghcr.io", "make build"} {
				if !strings.Contains(readme, w) {
					t.Errorf("README lacks %q", w)
				}
			}
			if d.RunFlags != "" && !strings.Contains(readme, "sudo ecli run "+d.RunFlags+" "+d.Package) {
				t.Errorf("README does not run with %q", d.RunFlags)
			}

			mk := got["Makefile"]
			for _, w := range []string{"\nECC ?= $(shell command -v ecc 2>/dev/null || echo ecc)\n", "\nECLI ?= $(shell command -v ecli 2>/dev/null || echo ecli)\n",
				"\nTEMPLATE_RUN_FLAGS ?=" + strings.TrimRight(" "+d.RunFlags, " ") + "\nRUN_FLAGS ?=\n",
				"\nREF ?= ghcr.io/OWNER/my-probe:latest\n", "\nbuild:\n", "\nrun: build\n", "\npush: build\n", "\t$(ECC) push build $(REF)\n", d.Sources + "\n"} {
				if !strings.Contains(mk, w) {
					t.Errorf("Makefile lacks %q", w)
				}
			}
			if strings.Contains(mk, "\n    ") {
				t.Errorf("Makefile recipes must start with a tab")
			}
			// A Go guest is a module of its own, with the guest's Go.
			if s.Name == "wasm-go" && got["go.mod"] != "" && !strings.Contains(got["go.mod"], "\nmodule my-probe\n\ngo 1.23\n") {
				t.Errorf("go.mod:\n%s", got["go.mod"])
			}
			if _, ok := got["go.mod"]; ok != (s.Name == "wasm-go") {
				t.Errorf("go.mod present: %v", ok)
			}
			for _, w := range []string{"/build/", "*.bpf.o", "*.skel.json"} {
				if !strings.Contains(got[".gitignore"], w) {
					t.Errorf(".gitignore lacks %s", w)
				}
			}

			wf := got[".github/workflows/publish.yml"]
			buildLine := "ecc build --arch x86_64,arm64 -o build " + d.Sources + "\n"
			signLine := `ecc sign --attestations --key "$RUNNER_TEMP/ecc.key" "ghcr.io/${{ github.repository }}@$(jq -r .digest push.json)"`
			if strings.Contains(d.Sources, "--wasm") { // one object per Wasm program, no attestations
				buildLine = "ecc build -o build " + d.Sources + "\n"
				signLine = `ecc sign --key "$RUNNER_TEMP/ecc.key" "ghcr.io/${{ github.repository }}@$(jq -r .digest push.json)"`
			}
			for _, w := range []string{
				"${{ github.repository }}", "${{ github.ref_name }}", "${{ secrets.GITHUB_TOKEN }}", "${{ github.actor }}",
				buildLine,
				"go install github.com/ecc-bpf/ecc/cmd/ecc@latest", // no version given: latest
				"sudo apt-get install -y clang llvm libbpf-dev",
				`go-version: "1.26"`,
				"${{ secrets.ECC_SIGNING_KEY }}", signLine,
			} {
				if !strings.Contains(wf, w) {
					t.Errorf("publish.yml lacks %q", w)
				}
			}

			// The BPF templates show the doc-comment conventions and the two
			// ways of exporting events.
			if !base[s.Name] {
				return
			}
			src := got[name+".bpf.c"]
			for _, w := range []string{"/// @cmdarg {", "/// @brief ", "/// @details ", "/// @version ", "char LICENSE[] SEC(\"license\")", `#include "vmlinux.h"`} {
				if !strings.Contains(src, w) {
					t.Errorf("%s.bpf.c lacks %q", name, w)
				}
			}
			// The doc comments sit right above LICENSE.
			if i := strings.Index(src, "/// @version"); i < 0 || !strings.HasPrefix(strings.SplitN(src[i:], "\n", 2)[1], "char LICENSE[]") {
				t.Errorf("@version is not the line above LICENSE")
			}
			if typ, ok := samples[s.Name]; ok && !strings.Contains(src, `/// @sample {"interval": 1000, "type": "`+typ+`"`) {
				t.Errorf("no @sample of type %s", typ)
			}
			// Events: an export header or ECC_EXPORT, and a word on the other.
			if d.Header != "" {
				h := got[d.Header]
				if !strings.Contains(src, `#include "`+d.Header+`"`) || !strings.Contains(h, "#ifndef __MY_PROBE_H") || !strings.Contains(h, "struct event {") {
					t.Errorf("header %s not included or malformed:\n%s", d.Header, h)
				}
				if !strings.Contains(h+src, "ECC_EXPORT(") {
					t.Errorf("header template does not mention ECC_EXPORT")
				}
			} else if strings.Contains(src, "RINGBUF") || strings.Contains(src, "PERF_EVENT_ARRAY") {
				if !strings.Contains(src, "\nECC_EXPORT(events, struct event);") || !strings.Contains(src, "#include <ecc.h>") {
					t.Errorf("events without header or ECC_EXPORT")
				}
				if !strings.Contains(src, name+".h") {
					t.Errorf("ECC_EXPORT template does not mention the header way")
				}
			}
		})
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestInitFilesSubstituteName(t *testing.T) {
	files, err := RenderFiles("tracepoint", "exec_watch", nil)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string][]byte{}
	var paths []string
	for _, f := range files {
		byPath[f.Path] = f.Data
		paths = append(paths, f.Path)
	}
	if !sort.StringsAreSorted(paths) {
		t.Errorf("not sorted: %v", paths)
	}
	if !bytes.Contains(byPath["exec_watch.bpf.c"], []byte(`#include "exec_watch.h"`)) ||
		!bytes.Contains(byPath["exec_watch.h"], []byte("#define __EXEC_WATCH_H")) ||
		!bytes.Contains(byPath["Makefile"], []byte("exec_watch.bpf.c exec_watch.h")) {
		t.Errorf("name not substituted: %v", paths)
	}
	again, _ := RenderFiles("tracepoint", "exec_watch", nil)
	if !reflect.DeepEqual(files, again) {
		t.Error("rendering is not deterministic")
	}
	if _, err := RenderFiles("tracepoint", "Exec-Watch", nil); err == nil {
		t.Error("bad name rendered")
	}
	if _, err := RenderFiles("nope", "x", nil); err == nil {
		t.Error("unknown template rendered")
	}
}

func TestInitRenderRefusesNonEmptyFolder(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "notes.txt")
	os.WriteFile(keep, []byte("mine"), 0o600)
	err := Render("xdp", "pkt", dir, nil)
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("got %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("folder changed: %v", ents)
	}
	if b, _ := os.ReadFile(keep); string(b) != "mine" {
		t.Error("existing file changed")
	}
	// A file in the way.
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	if err := Render("xdp", "pkt", file, nil); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf("file in the way: %v", err)
	}
}

func TestInitRenderIntoEmptyFolder(t *testing.T) {
	dir := t.TempDir() // exists, empty
	if err := Render("histogram", "lat", dir, nil); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{".github", ".gitignore", "Makefile", "README.md", "lat.bpf.c"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("got %v, want %v", names, want)
	}
	// Nested, missing parents are created.
	nested := filepath.Join(t.TempDir(), "a", "b", "lat")
	if err := Render("histogram", "lat", nested, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(nested, "lat.bpf.c")); err != nil {
		t.Error(err)
	}
}

// A failure half way leaves neither the folder nor a temporary one.
func TestInitWriteAllOrNothing(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "proj")
	files := []File{{Path: "a", Data: []byte("x")}, {Path: "a/b", Data: []byte("y")}} // a is a file: a/b fails
	if err := WriteProject(dir, files); err == nil {
		t.Fatal("no error")
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
	// The same into an existing empty folder: it stays empty.
	empty := t.TempDir()
	if err := WriteProject(empty, files); err == nil {
		t.Fatal("no error")
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

// The CI workflow and the README install the ecc that made the project.
func TestInitPinsEccVersion(t *testing.T) {
	for _, s := range Scaffolds() {
		files, err := RenderFiles(s.Name, "pinned", &Options{EccVersion: "v0.4.1"})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			text := string(f.Data)
			if strings.Contains(text, "@latest") {
				t.Errorf("%s: %s installs @latest", s.Name, f.Path)
			}
			if (f.Path == ".github/workflows/publish.yml" || f.Path == "README.md") && !strings.Contains(text, "go install github.com/ecc-bpf/ecc/cmd/ecc@v0.4.1") {
				t.Errorf("%s: %s does not install ecc v0.4.1", s.Name, f.Path)
			}
			// ecc test's static ecli is of the same version.
			if s.NoKernelTest == "" && f.Path == ".github/workflows/publish.yml" && !strings.Contains(text, "CGO_ENABLED=0 go install github.com/ecc-bpf/ecc/cmd/ecli@v0.4.1\n") {
				t.Errorf("%s: %s does not install a static ecli v0.4.1", s.Name, f.Path)
			}
		}
	}
}

// makeWithStubs finds make (the test is skipped without it) and writes
// ecc and ecli stubs that do nothing into the folder bin.
func makeWithStubs(t *testing.T) (makeBin, bin string) {
	t.Helper()
	makeBin, err := exec.LookPath("make")
	if err != nil {
		t.Skip("no make")
	}
	bin = t.TempDir()
	for _, tool := range []string{"ecc", "ecli"} {
		os.WriteFile(filepath.Join(bin, tool), []byte("#!/bin/sh\n"), 0o755)
	}
	return makeBin, bin
}

// make run keeps the template's ecli flags when RUN_FLAGS adds some, and
// runs ecli by its full path (sudo resets PATH).
func TestInitMakefileRun(t *testing.T) {
	makeBin, bin := makeWithStubs(t)
	dir := filepath.Join(t.TempDir(), "pkt-count")
	if err := Render("xdp", "pkt-count", dir, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, bin + "/ecli run --ifname lo build/package.json\n"},
		{[]string{"RUN_FLAGS=-j -d 10s"}, bin + "/ecli run --ifname lo -j -d 10s build/package.json\n"},
		{[]string{"RUN_FLAGS=--ifname eth0"}, bin + "/ecli run --ifname lo --ifname eth0 build/package.json\n"}, // the last one wins
		{[]string{"TEMPLATE_RUN_FLAGS=", "ARGS=--drop-udp-port 53"}, bin + "/ecli run build/package.json --drop-udp-port 53\n"},
	} {
		cmd := exec.Command(makeBin, append([]string{"-s", "-n", "-C", dir, "run", "SUDO="}, c.args...)...)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("make -n run %q: %v", c.args, err)
		}
		if !strings.HasSuffix(string(out), c.want) || !strings.Contains(string(out), bin+"/ecc build") {
			t.Errorf("make -n run %q:\n%s\nwant it to end with %q", c.args, out, c.want)
		}
	}
}

// The workflow is valid YAML; its test job boots the kernels of KERNELS
// (the defaults, one per line) with make test-kernels, after installing
// qemu, and the publish job needs it. A template ecc test cannot run has
// neither.
func TestInitWorkflowTestsKernels(t *testing.T) {
	for _, s := range Scaffolds() {
		t.Run(s.Name, func(t *testing.T) {
			files, err := RenderFiles(s.Name, "kt", nil)
			if err != nil {
				t.Fatal(err)
			}
			var wf struct {
				Env  map[string]string
				Jobs map[string]struct {
					Needs string
					Steps []struct{ Name, Run string }
				}
			}
			for _, f := range files {
				if f.Path == ".github/workflows/publish.yml" {
					if err := yaml.Unmarshal(f.Data, &wf); err != nil {
						t.Fatalf("publish.yml is not valid YAML: %v", err)
					}
				}
			}
			test, hasTest := wf.Jobs["test"]
			if _, ok := wf.Jobs["publish"]; !ok {
				t.Fatalf("no publish job: %v", wf.Jobs)
			}
			if s.NoKernelTest != "" {
				if hasTest || wf.Jobs["publish"].Needs != "" || wf.Env["KERNELS"] != "" {
					t.Errorf("%s has no kernel tests, but the workflow has: %+v", s.Name, wf)
				}
				return
			}
			if !hasTest || wf.Jobs["publish"].Needs != "test" {
				t.Fatalf("jobs %v: want a test job that publish needs", wf.Jobs)
			}
			if got := strings.Fields(wf.Env["KERNELS"]); !reflect.DeepEqual(got, DefaultKernels) || strings.Count(wf.Env["KERNELS"], "\n") != 0 {
				t.Errorf("KERNELS %q, want %v on one line once folded", wf.Env["KERNELS"], DefaultKernels)
			}
			var runs []string
			for _, st := range test.Steps {
				runs = append(runs, st.Run)
			}
			all := strings.Join(runs, "\n")
			qemu := strings.Index(all, "apt-get install -y --no-install-recommends qemu-system-x86\n")
			tests := strings.Index(all, "make test-kernels KERNELS=\"$KERNELS\"")
			if qemu < 0 || tests < qemu || strings.TrimSpace(runs[len(runs)-1]) != "make test-kernels KERNELS=\"$KERNELS\"" {
				t.Errorf("the test job does not install qemu, then run make test-kernels last:\n%s", all)
			}
		})
	}
}

// make test-kernels builds, then runs ecc test on each kernel of KERNELS
// (the defaults, or those given) with TEST_FLAGS, on the BPF package; a
// project ecc test cannot run says why and fails.
func TestInitMakefileTestKernels(t *testing.T) {
	makeBin, bin := makeWithStubs(t)
	make := func(dir string, args ...string) (string, error) {
		cmd := exec.Command(makeBin, append([]string{"-s", "-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, tmpl := range []string{"tracepoint", "xdp", "wasm-c"} {
		dir := filepath.Join(t.TempDir(), "kt")
		if err := Render(tmpl, "kt", dir, nil); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			args []string
			want string
		}{
			{nil, "test --kernel " + strings.Join(DefaultKernels, " --kernel ") + " build/package.json\n"},
			{[]string{"KERNELS=linux-image-6.1.0-57-cloud-amd64_6.1.192-3_amd64.deb ghcr.io/cilium/ci-kernels:6.12", "TEST_FLAGS=--no-kernel-btf -v"},
				"test --kernel linux-image-6.1.0-57-cloud-amd64_6.1.192-3_amd64.deb --kernel ghcr.io/cilium/ci-kernels:6.12 --no-kernel-btf -v build/package.json\n"},
		} {
			out, err := make(dir, append([]string{"-n", "test-kernels"}, c.args...)...)
			if err != nil {
				t.Fatalf("%s: make -n test-kernels %q: %v\n%s", tmpl, c.args, err, out)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], bin+"/ecc build") || lines[1]+"\n" != bin+"/ecc "+c.want {
				t.Errorf("%s: make -n test-kernels %q:\n%s\nwant the build, then %q", tmpl, c.args, out, bin+"/ecc "+c.want)
			}
		}
	}
	s, err := LookupScaffold("uprobe")
	if err != nil || s.NoKernelTest == "" {
		t.Fatalf("uprobe: %v, no reason for having no kernel tests", err)
	}
	dir := filepath.Join(t.TempDir(), "kt")
	if err := Render("uprobe", "kt", dir, nil); err != nil {
		t.Fatal(err)
	}
	out, err := make(dir, "test-kernels")
	if err == nil || !strings.Contains(out, "make test-kernels: not for this project: "+s.NoKernelTest) || strings.Contains(out, "ecc") && strings.Contains(out, bin) {
		t.Errorf("uprobe: make test-kernels: %v\n%s", err, out)
	}
}
