package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/registry/registrytest"
	"github.com/ecc-bpf/ecc/registry/sign"
	"github.com/ecc-bpf/ecc/templates"
)

// ---------------------------------------------------------------------------
// The command itself.

func TestInitList(t *testing.T) {
	stdout, stderr, status := ecc(t, "init", "--list")
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	all := templates.Scaffolds()
	if len(lines) != len(all) {
		t.Fatalf("%d lines for %d templates:\n%s", len(lines), len(all), stdout)
	}
	col := -1
	for i, s := range all {
		l := lines[i]
		if !strings.HasPrefix(l, s.Name+" ") || !strings.HasSuffix(strings.TrimSuffix(l, " (default)"), s.Description) {
			t.Errorf("line %q: want %s and %q", l, s.Name, s.Description)
		}
		// Descriptions start in one column.
		c := strings.Index(l, s.Description)
		if col >= 0 && c != col {
			t.Errorf("line %q: description at column %d, others at %d", l, c, col)
		}
		col = c
		if (s.Name == templates.DefaultScaffold) != strings.HasSuffix(l, "(default)") {
			t.Errorf("line %q: default marked wrong", l)
		}
	}
}

func TestInitCreates(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "proj")
	stdout, stderr, status := ecc(t, "init", "pkt_count", "--template", "xdp", "-o", dir)
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	for _, w := range []string{"Created " + dir, filepath.Join(dir, "pkt_count.bpf.c"), "ecc build -o build pkt_count.bpf.c", "sudo ecli run --ifname lo build/package.json"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("output lacks %q:\n%s", w, stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".github", "workflows", "publish.yml")); err != nil {
		t.Error(err)
	}
	// Flags after NAME work too, and the default template is tracepoint;
	// without -o the folder is NAME in the working directory.
	cmd := exec.Command(eccBin, "init", "execw")
	cmd.Dir = parent
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(parent, "execw", "execw.h")); err != nil {
		t.Errorf("default template: %v", err)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 2 {
		t.Errorf("parent holds %d entries, want 2 (no temporary folders)", len(ents))
	}
}

func TestInitErrors(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	os.MkdirAll(full, 0o755)
	os.WriteFile(filepath.Join(full, "keep.c"), []byte("int x;"), 0o644)
	cases := []struct {
		name  string
		args  []string
		wants []string
	}{
		{"no name", []string{"init"}, []string{"ecc init: expects one NAME, got no arguments"}},
		{"two names", []string{"init", "a", "b"}, []string{"ecc init: expects one NAME, got 2 arguments"}},
		{"bad name", []string{"init", "My-Probe", "-o", filepath.Join(dir, "x")}, []string{`"My-Probe"`, "lower-case", `"my-probe"`}},
		{"path as name", []string{"init", "../up"}, []string{`"../up"`}},
		{"unknown template", []string{"init", "abc", "-t", "kprobe", "-o", filepath.Join(dir, "y")}, []string{`"kprobe"`, "tracepoint", "xdp"}},
		{"non-empty folder", []string{"init", "abc", "-o", full}, []string{full, "not empty"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, status := ecc(t, c.args...)
			want := 1
			if c.name == "no name" || c.name == "two names" {
				want = 2 // a command line ecc init does not take
			}
			if status != want {
				t.Errorf("status %d, want %d", status, want)
			}
			for _, w := range c.wants {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q: %s", w, stderr)
				}
			}
			if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
				t.Errorf("stderr has %d lines:\n%s", n+1, stderr)
			}
		})
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("failed inits left files: %v", ents)
	}
	if ents, _ := os.ReadDir(full); len(ents) != 1 {
		t.Errorf("the non-empty folder changed: %v", ents)
	}
}

// ---------------------------------------------------------------------------
// The projects it creates: their workflow, README and Makefile name
// commands that exist, and the workflow publishes.

// workflow is the part of a GitHub Actions workflow the test reads.
type workflow struct {
	Name        string
	On          map[string]any    `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Env         map[string]any    `yaml:"env"`
	Jobs        map[string]struct {
		RunsOn string `yaml:"runs-on"`
		Needs  string `yaml:"needs"`
		Steps  []struct {
			Name string
			Uses string
			With map[string]any
			Run  string
		}
	}
}

func readWorkflow(t *testing.T, dir string) workflow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ".github", "workflows", "publish.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf workflow
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatalf("publish.yml: %v", err)
	}
	return wf
}

func initProject(t *testing.T, tmpl, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if _, stderr, status := ecc(t, "init", name, "-t", tmpl, "-o", dir); status != 0 {
		t.Fatalf("ecc init: %s", stderr)
	}
	return dir
}

// The publish workflow of every template: triggered by v* tags (and by
// hand), allowed to write packages, and every ecc command in it exists with
// the flags it uses.
func TestInitWorkflow(t *testing.T) {
	app := readCLI(t, eccBin)
	for _, s := range templates.Scaffolds() {
		t.Run(s.Name, func(t *testing.T) {
			name := "wf_" + strings.ReplaceAll(s.Name, "-", "_")
			dir := initProject(t, s.Name, name)
			wf := readWorkflow(t, dir)

			push, _ := wf.On["push"].(map[string]any)
			tags, _ := push["tags"].([]any)
			matches := func(ref string) bool {
				for _, p := range tags {
					if ok, _ := path.Match(fmt.Sprint(p), ref); ok {
						return true
					}
				}
				return false
			}
			if !matches("v0.1.0") || !matches("v2") || matches("main") || matches("0.1.0") {
				t.Errorf("on.push.tags %v: want v* tags only", tags)
			}
			if _, ok := push["branches"]; ok {
				t.Errorf("publishes on branch pushes: %v", push)
			}
			if _, ok := wf.On["workflow_dispatch"]; !ok {
				t.Errorf("no workflow_dispatch trigger: %v", wf.On)
			}
			if wf.Permissions["packages"] != "write" || wf.Permissions["contents"] != "read" {
				t.Errorf("permissions %v: want packages: write, contents: read", wf.Permissions)
			}
			d, _ := templates.ScaffoldFor(s.Name, name, nil)
			wantJobs := []string{"publish"}
			if d.Kernels != "" {
				// The kernel tests run first; the publish waits for them.
				wantJobs = []string{"publish", "test"}
				if wf.Jobs["publish"].Needs != "test" {
					t.Errorf("the publish job needs %q, want the test job", wf.Jobs["publish"].Needs)
				}
				if got := strings.Fields(fmt.Sprint(wf.Env["KERNELS"])); !slices.Equal(got, templates.DefaultKernels) {
					t.Errorf("env KERNELS %q, want %v", wf.Env["KERNELS"], templates.DefaultKernels)
				}
			}
			if got := slices.Sorted(maps.Keys(wf.Jobs)); !slices.Equal(got, wantJobs) {
				t.Fatalf("jobs %v, want %v", got, wantJobs)
			}
			// Each job's command lines by what they run.
			seen := map[string]map[string][]string{}
			for jobName, job := range wf.Jobs {
				if job.RunsOn != "ubuntu-latest" {
					t.Errorf("runs-on %q", job.RunsOn)
				}
				lines := map[string][]string{}
				seen[jobName] = lines
				var uses []string
				for _, st := range job.Steps {
					if st.Uses != "" {
						uses = append(uses, st.Uses)
						if strings.HasPrefix(st.Uses, "actions/setup-go@") && fmt.Sprint(st.With["go-version"]) != "1.26" {
							t.Errorf("setup-go with %v", st.With)
						}
					}
					cmds, err := shellCommands(st.Run)
					if err != nil {
						t.Errorf("step %q: %v", st.Name, err)
					}
					for _, c := range cmds {
						prog, words := program(c)
						line := strings.Join(words, " ")
						key := prog
						switch prog {
						case "ecc":
							cmd, err := checkEcc(app, words)
							if err != nil {
								t.Errorf("step %q: %v", st.Name, err)
							}
							key = cmd
							t.Logf("step %q: %s: ok", st.Name, line)
						case "apt-get", "go":
							key = prog + " " + words[1]
						}
						lines[key] = append(lines[key], line)
					}
				}
				if len(uses) < 2 || !strings.HasPrefix(uses[0], "actions/checkout@") || !strings.HasPrefix(uses[1], "actions/setup-go@") {
					t.Errorf("%s: steps use %v: want checkout, then setup-go", jobName, uses)
				}
			}
			apt, build := "apt-get install -y clang llvm libbpf-dev", "ecc build --arch x86_64,arm64 -o build "+d.Sources
			pushLine := "ecc push --attest --format json build ghcr.io/${{ github.repository }}:${{ github.ref_name }}"
			if isWasm(d.Sources) {
				// A Wasm program embeds one object: one architecture, and
				// the wasm32 toolchain; --attest describes packages without
				// a Wasm program only.
				apt, build = apt+" lld wasi-libc libclang-rt-dev-wasm32", "ecc build -o build "+d.Sources
				pushLine = "ecc push --format json build ghcr.io/${{ github.repository }}:${{ github.ref_name }}"
			}
			want := map[string]map[string]string{"publish": {
				"apt-get install": apt,
				"go install":      "go install github.com/ecc-bpf/ecc/cmd/ecc@latest",
				"build":           build,
				"login":           "ecc login ghcr.io -u ${{ github.actor }} --password-stdin",
				"push":            pushLine,
			}}
			if d.Kernels != "" {
				// Built by make, with qemu and a static ecli next to ecc.
				want["test"] = map[string]string{
					"apt-get install": apt + "\napt-get install -y --no-install-recommends qemu-system-x86",
					"go install":      "go install github.com/ecc-bpf/ecc/cmd/ecc@latest\ngo install github.com/ecc-bpf/ecc/cmd/ecli@latest",
					"make":            "make test-kernels KERNELS=$KERNELS",
				}
				if !strings.Contains(wfRunOf(t, dir, "test", "ecli@"), "CGO_ENABLED=0 go install github.com/ecc-bpf/ecc/cmd/ecli@latest") {
					t.Errorf("the test job does not install a static ecli")
				}
			}
			for job, lines := range want {
				for k, w := range lines {
					if got := strings.Join(seen[job][k], "\n"); got != w {
						t.Errorf("%s: %s: got %q, want %q", job, k, got, w)
					}
				}
			}
			// The login reads the token from the pipe.
			if !strings.Contains(wfRun(t, dir, "login"), `echo "${{ secrets.GITHUB_TOKEN }}" | ecc login`) {
				t.Errorf("login does not pipe the token")
			}
		})
	}
}

// wfRun returns the run text of the step whose commands include ecc CMD.
func wfRun(t *testing.T, dir, cmd string) string {
	return wfRunOf(t, dir, "publish", "ecc "+cmd)
}

// wfRunOf returns the run text of job's step that has text in it.
func wfRunOf(t *testing.T, dir, job, text string) string {
	for _, st := range readWorkflow(t, dir).Jobs[job].Steps {
		if strings.Contains(st.Run, text) {
			return st.Run
		}
	}
	return ""
}

// Every ecc and ecli command the README shows, and every one the Makefile
// runs (make -n), exists with its flags; the program flags they pass are
// the package's own (built here, so this needs clang).
func TestInitDocsCommands(t *testing.T) {
	testenv.BPFBuild(t)
	makeBin := testenv.Tool(t, "make")
	app := readCLI(t, eccBin)
	flags := ecliFlags(t)
	for _, s := range templates.Scaffolds() {
		t.Run(s.Name, func(t *testing.T) {
			name := "docs-" + s.Name // - in names: files and package keep it, C identifiers use _
			dir := initProject(t, s.Name, name)
			if out, err := exec.Command(makeBin, "-C", dir, "build", "ECC="+eccBin).CombinedOutput(); err != nil {
				t.Fatalf("make build: %v\n%s", err, out)
			}
			d, _ := templates.ScaffoldFor(s.Name, name, nil)
			var help []byte
			if !isWasm(d.Sources) {
				// (A Wasm program's arguments are its own: nothing to list.)
				var err error
				help, err = exec.Command(ecliBin, "run", filepath.Join(dir, filepath.FromSlash(d.Package)), "--help").Output()
				if err != nil {
					t.Fatalf("ecli run --help: %v", err)
				}
			}
			progFlags := map[string]bool{"help": true, "h": true}
			for _, m := range progFlagRE.FindAllStringSubmatch(string(help), -1) {
				progFlags[m[1]], progFlags[m[2]] = true, true
			}
			delete(progFlags, "")

			var lines [][]string
			readme, _ := os.ReadFile(filepath.Join(dir, "README.md"))
			inCode := false
			var code strings.Builder
			for _, l := range strings.Split(string(readme), "\n") {
				if strings.HasPrefix(l, "```") {
					if inCode {
						cmds, err := shellCommands(code.String())
						if err != nil {
							t.Error(err)
						}
						lines = append(lines, cmds...)
						code.Reset()
					}
					inCode = !inCode
					continue
				}
				if inCode {
					code.WriteString(l + "\n")
				}
			}
			mk, err := exec.Command(makeBin, "-n", "-C", dir, "build", "run", "push", "test-kernels", "SUDO=sudo", "ARCH=x86_64,arm64", "ARGS="+s.Args).Output()
			if err != nil {
				t.Fatalf("make -n: %v", err)
			}
			mkCmds, _ := shellCommands(string(mk))
			lines = append(lines, mkCmds...)
			count := map[string]int{}
			for _, c := range lines {
				prog, words := program(c)
				var err error
				switch prog {
				case "ecc":
					var cmd string
					cmd, err = checkEcc(app, words)
					count["ecc "+cmd]++
				case "ecli":
					// After "--" come a Wasm program's own arguments.
					if i := slices.Index(words, "--"); i >= 0 {
						words = words[:i]
					}
					err = checkEcli(words, flags, progFlags)
					count["ecli run"]++
				default:
					continue
				}
				if err != nil {
					t.Error(err)
				}
			}
			shown := []string{"ecc build", "ecc push", "ecc login", "ecli run"}
			if d.Kernels != "" {
				shown = append(shown, "ecc test")
			}
			for _, k := range shown {
				if count[k] == 0 {
					t.Errorf("the README and Makefile never show %s", k)
				}
			}
			t.Logf("checked %v", count)
		})
	}
}

// The workflow's own ecc steps, run for real: a local registry (with
// basic authentication) stands in for ghcr.io, and the expressions GitHub
// would substitute get test values. The pushed artifact is an index with
// an x86_64 and an arm64 manifest.
func TestInitWorkflowRuns(t *testing.T) {
	testenv.BPFBuild(t)
	bash := testenv.Tool(t, "bash")
	for _, s := range templates.Scaffolds() {
		t.Run(s.Name, func(t *testing.T) {
			name := "pub_" + strings.ReplaceAll(s.Name, "-", "_")
			dir := initProject(t, s.Name, name)
			reg := registrytest.NewServer(t, registrytest.ServerOptions{Username: "octocat", Password: "ghs_token-" + name})
			expr := strings.NewReplacer(
				"${{ secrets.GITHUB_TOKEN }}", "ghs_token-"+name,
				"${{ github.actor }}", "octocat",
				"${{ github.repository }}", "octo-org/"+name,
				"${{ github.ref_name }}", "v0.1.0",
				"ghcr.io", reg.Host,
			)
			// The Sign step's secret: a key made by ecc key generate.
			keys := t.TempDir()
			if _, _, err := sign.WriteKeyPair(filepath.Join(keys, "ecc"), sign.ECDSAP256); err != nil {
				t.Fatal(err)
			}
			signingKey, err := os.ReadFile(filepath.Join(keys, "ecc.key"))
			if err != nil {
				t.Fatal(err)
			}
			env := append(os.Environ(),
				"PATH="+filepath.Dir(eccBin)+":"+os.Getenv("PATH"),
				"DOCKER_CONFIG="+t.TempDir(), "ECC_STORE_DIR="+t.TempDir(),
				"ECC_REGISTRY_USERNAME=", "ECC_REGISTRY_PASSWORD=",
				"ECC_SIGNING_KEY="+string(signingKey), "RUNNER_TEMP="+t.TempDir())
			var pushOut string
			ran := 0
			for _, job := range readWorkflow(t, dir).Jobs {
				for _, st := range job.Steps {
					cmds, _ := shellCommands(st.Run)
					usesEcc := false
					for _, c := range cmds {
						if p, _ := program(c); p == "ecc" {
							usesEcc = true
						}
					}
					if !usesEcc {
						continue
					}
					script := expr.Replace(st.Run)
					if strings.Contains(script, "${{") {
						t.Fatalf("step %q uses an expression the test does not know: %s", st.Name, script)
					}
					cmd := exec.Command(bash, "-e", "-c", script)
					cmd.Dir, cmd.Env = dir, env
					var stdout, stderr strings.Builder
					cmd.Stdout, cmd.Stderr = &stdout, &stderr
					if err := cmd.Run(); err != nil {
						t.Fatalf("step %q: %v\n%s\n%s%s", st.Name, err, script, stdout.String(), stderr.String())
					}
					ran++
					if strings.Contains(st.Run, "ecc push") {
						pushOut = stdout.String()
					}
				}
			}
			if ran != 4 {
				t.Errorf("ran %d ecc steps, want 4 (build, login, push, sign)", ran)
			}
			var res struct {
				Reference, Digest string
				Attestations      []struct {
					PredicateType string `json:"predicate_type"`
				}
			}
			if err := json.Unmarshal([]byte(pushOut), &res); err != nil {
				t.Fatalf("push --format json: %v: %q", err, pushOut)
			}
			// Packages without Wasm are pushed with their provenance and SBOM.
			wantAtt := 2
			if d, _ := templates.ScaffoldFor(s.Name, name, nil); isWasm(d.Sources) {
				wantAtt = 0
			}
			if len(res.Attestations) != wantAtt {
				t.Errorf("push attached %+v, want %d attestations", res.Attestations, wantAtt)
			}
			if res.Reference != reg.Host+"/octo-org/"+name+":v0.1.0" || !strings.HasPrefix(res.Digest, "sha256:") {
				t.Errorf("pushed %+v", res)
			}
			req, _ := http.NewRequest("GET", reg.URL+"/v2/octo-org/"+name+"/manifests/v0.1.0", nil)
			req.SetBasicAuth("octocat", "ghs_token-"+name)
			req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var idx struct {
				MediaType string
				Manifests []struct {
					Platform struct{ OS, Architecture string }
				}
			}
			if err := json.NewDecoder(resp.Body).Decode(&idx); err != nil {
				t.Fatal(err)
			}
			var plats []string
			for _, m := range idx.Manifests {
				plats = append(plats, m.Platform.OS+"/"+m.Platform.Architecture)
			}
			wantPlats := "linux/amd64,linux/arm64"
			if d, _ := templates.ScaffoldFor(s.Name, name, nil); isWasm(d.Sources) {
				wantPlats = "linux/amd64"
			}
			if idx.MediaType != "application/vnd.oci.image.index.v1+json" || strings.Join(plats, ",") != wantPlats {
				t.Errorf("pushed %s with %v, want an index of %s", idx.MediaType, plats, wantPlats)
			}
			t.Logf("pushed %s (%s): %v", res.Reference, res.Digest[:19], plats)
			// The Sign step signed what was pushed, and its attestations.
			verify := exec.Command(eccBin, "verify", "--key", filepath.Join(keys, "ecc.pub"), res.Reference)
			verify.Env = env
			if out, err := verify.CombinedOutput(); err != nil {
				t.Errorf("the pushed package is not signed: %v\n%s", err, out)
			}
			inspect := exec.Command(eccBin, "inspect", "--format", "json", "--verify-key", filepath.Join(keys, "ecc.pub"), res.Reference)
			inspect.Env = env
			var inspectErr strings.Builder
			inspect.Stderr = &inspectErr
			out, err := inspect.Output()
			var refs struct {
				Attestations []struct{ Signer string }
			}
			if err := json.Unmarshal(out, &refs); err != nil {
				t.Fatalf("inspect: %v\n%s%s", err, out, inspectErr.String())
			}
			if len(refs.Attestations) != wantAtt {
				t.Errorf("inspect lists %d attestations, want %d\n%s", len(refs.Attestations), wantAtt, inspectErr.String())
			}
			for _, a := range refs.Attestations {
				if a.Signer != filepath.Join(keys, "ecc.pub") {
					t.Errorf("an attestation signed by %q, want the Sign step's key", a.Signer)
				}
			}
		})
	}
}

// isWasm reports whether a template builds a Wasm program.
func isWasm(sources string) bool { return strings.Contains(sources, "--wasm") }

// A new project's make test-kernels, what its workflow's test job runs,
// boots the kernel given (Debian's 6.1 package) and passes the tracepoint
// template's package there; with a kernel it fails on (no kernel BTF, and
// the package carries none), make fails, as the publish would.
func TestInitTestKernels(t *testing.T) {
	testenv.BPFBuild(t)
	deb := testenv.VMKernel(t)
	makeBin := testenv.Tool(t, "make")
	dir := initProject(t, "tracepoint", "kt")
	env := []string{"XDG_CACHE_HOME=" + filepath.Join(filepath.Dir(eccBin), "cache")}
	r := run(t, dir, env, "", makeBin, "test-kernels", "ECC="+eccBin, "KERNELS="+deb)
	t.Logf("make test-kernels: %.1fs, status %d\n%s%s", r.took.Seconds(), r.status, r.stdout, r.stderr)
	if r.status != 0 || !regexp.MustCompile(`(?m)^linux-image-\S+\.deb\s+6\.1\.\S+\s+pass\s+1/1 attached\s+[1-9]`).MatchString(r.stdout) {
		t.Fatalf("make test-kernels: status %d, want a pass with events", r.status)
	}
	r = run(t, dir, env, "", makeBin, "test-kernels", "ECC="+eccBin, "KERNELS="+deb, "TEST_FLAGS=--no-kernel-btf")
	// make says make[1] when the tests themselves run under make (make test).
	if r.status == 0 || !strings.Contains(r.stdout, " FAIL ") || !regexp.MustCompile(`make(\[\d+\])?: \*\*\* \[Makefile`).MatchString(r.stderr) {
		t.Errorf("make test-kernels TEST_FLAGS=--no-kernel-btf: status %d, want a failure\n%s%s", r.status, r.stdout, r.stderr)
	}
}
