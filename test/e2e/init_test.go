package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/registry/registrytest"
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
		{"no name", []string{"init"}, []string{"ecc init takes one NAME"}},
		{"two names", []string{"init", "a", "b"}, []string{"ecc init takes one NAME"}},
		{"bad name", []string{"init", "My-Probe", "-o", filepath.Join(dir, "x")}, []string{`"My-Probe"`, "lower-case", `"my_probe"`}},
		{"path as name", []string{"init", "../up"}, []string{`"../up"`}},
		{"unknown template", []string{"init", "abc", "-t", "kprobe", "-o", filepath.Join(dir, "y")}, []string{`"kprobe"`, "tracepoint", "xdp"}},
		{"non-empty folder", []string{"init", "abc", "-o", full}, []string{full, "not empty"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, status := ecc(t, c.args...)
			if status != 1 {
				t.Errorf("status %d, want 1", status)
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
// Checking documented command lines against the real command line.

// shellCommands splits a shell script into simple commands (their words):
// it joins line continuations, honours quotes, drops comments and
// redirections, splits at newlines, ;, |, && and ||, and keeps GitHub
// expressions ${{ ... }} as part of a word (GitHub substitutes them before
// the shell runs).
func shellCommands(script string) ([][]string, error) {
	var cmds [][]string
	var words []string
	var cur strings.Builder
	inWord, redirect := false, false
	flush := func() {
		if inWord {
			if redirect {
				redirect = false
			} else {
				words = append(words, cur.String())
			}
		}
		cur.Reset()
		inWord = false
	}
	end := func() {
		flush()
		if len(words) > 0 {
			cmds = append(cmds, words)
		}
		words = nil
	}
	s := script
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case strings.HasPrefix(s[i:], "${{"):
			j := strings.Index(s[i:], "}}")
			if j < 0 {
				return nil, fmt.Errorf("unterminated ${{ in %q", s)
			}
			cur.WriteString(s[i : i+j+2])
			inWord = true
			i += j + 1
		case c == '\\':
			if i+1 < len(s) && s[i+1] != '\n' {
				cur.WriteByte(s[i+1])
				inWord = true
			}
			i++
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '"':
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) && strings.IndexByte("\"\\$`", s[j+1]) >= 0 {
					j++
				}
				cur.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated \" in %q", s)
			}
			inWord = true
			i = j
		case c == '#' && !inWord:
			for i < len(s) && s[i] != '\n' {
				i++
			}
			i--
		case c == ' ' || c == '\t':
			flush()
		case c == '\n' || c == ';' || c == '|' || c == '&':
			end()
		case c == '>' || c == '<':
			flush()
			if i+1 < len(s) && s[i+1] == c {
				i++
			}
			redirect = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	end()
	return cmds, nil
}

var assignRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// program strips VAR=value prefixes and sudo, and names the program run.
func program(words []string) (string, []string) {
	for len(words) > 0 && (assignRE.MatchString(words[0]) || words[0] == "sudo") {
		words = words[1:]
	}
	if len(words) == 0 {
		return "", nil
	}
	return filepath.Base(words[0]), words
}

func TestInitShellCommands(t *testing.T) {
	got, err := shellCommands("echo \"${{ secrets.T }}\" | ecc login ghcr.io -u \"${{ github.actor }}\" --password-stdin\n" +
		"ecc push --format json build \\\n  ghcr.io/${{ github.repository }}:${{ github.ref_name }} # comment\n" +
		"echo \"$(go env GOPATH)/bin\" >> \"$GITHUB_PATH\" && X=1 sudo ecc build 'a b'.c")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"echo", "${{ secrets.T }}"},
		{"ecc", "login", "ghcr.io", "-u", "${{ github.actor }}", "--password-stdin"},
		{"ecc", "push", "--format", "json", "build", "ghcr.io/${{ github.repository }}:${{ github.ref_name }}"},
		{"echo", "$(go env GOPATH)/bin"},
		{"X=1", "sudo", "ecc", "build", "a b.c"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// checkEcc checks one ecc command line against its --help (readCLI): the
// command (and subcommand) exists, every flag exists on it, flags that take
// values have one, and the number of arguments fits its ArgsUsage. It
// returns the command's name.
func checkEcc(app *command, words []string) (string, error) {
	line := strings.Join(words, " ")
	cmds := app.subs
	var cmd *command
	var names []string
	i := 1
	for i < len(words) {
		var next *command
		for _, c := range cmds {
			if c.hasName(words[i]) {
				next = c
			}
		}
		if next == nil {
			break
		}
		cmd, cmds = next, next.subs
		names = append(names, next.names[0])
		i++
	}
	if cmd == nil {
		return "", fmt.Errorf("%q: ecc has no command %q", line, words[min(1, len(words)-1)])
	}
	takesValue := map[string]bool{}
	maps.Copy(takesValue, app.flags)
	maps.Copy(takesValue, cmd.flags)
	var args []string
	var used []string
	for j := i; j < len(words); j++ {
		w := words[j]
		if w == "--" {
			args = append(args, words[j+1:]...)
			break
		}
		if len(w) < 2 || w[0] != '-' {
			args = append(args, w)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
		tv, ok := takesValue[name]
		if !ok {
			return "", fmt.Errorf("%q: ecc %s has no flag %s", line, strings.Join(names, " "), w)
		}
		used = append(used, name)
		if strings.HasPrefix(w, "--") != (len(name) > 1) {
			return "", fmt.Errorf("%q: flag %s: one dash for one letter, two for names", line, w)
		}
		if tv && !hasValue {
			if j+1 >= len(words) {
				return "", fmt.Errorf("%q: flag %s needs a value", line, w)
			}
			j++
		}
	}
	lo, hi, ok := argRange(cmd.args)
	for _, u := range used {
		// ecc build --wasm GUEST finds the BPF source itself (see build.go).
		if cmd.names[0] == "build" && u == "wasm" {
			lo = 0
		}
	}
	if ok && (len(args) < lo || (hi >= 0 && len(args) > hi)) {
		return "", fmt.Errorf("%q: ecc %s takes %s, got %d arguments %q", line, strings.Join(names, " "), cmd.args, len(args), args)
	}
	return strings.Join(names, " "), nil
}

// argRange reads "SOURCE.bpf.c [EXPORT_HEADER.h]" as 1 to 2 arguments; -1:
// no limit.
func argRange(usage string) (lo, hi int, ok bool) {
	if strings.TrimSpace(usage) == "" {
		return 0, 0, false
	}
	opt := regexp.MustCompile(`\[[^\]]*\]`)
	for _, o := range opt.FindAllString(usage, -1) {
		if strings.Contains(o, "...") {
			hi = -1 << 30
		}
		hi++
	}
	for _, w := range strings.Fields(opt.ReplaceAllString(usage, "")) {
		lo++
		hi++
		if strings.Contains(w, "...") {
			hi = -1 << 30
		}
	}
	if hi < 0 {
		hi = -1
	}
	return lo, hi, true
}

func TestInitCheckEcc(t *testing.T) {
	app := readCLI(t, eccBin)
	good := [][]string{
		{"ecc", "build", "--arch", "x86_64,arm64", "-o", "build", "a.bpf.c", "a.h"},
		{"ecc", "login", "ghcr.io", "-u", "me", "--password-stdin"},
		{"ecc", "push", "--format", "json", "build", "ghcr.io/o/r:v1"},
		{"ecc", "gen", "vmlinux", "-o", "v.h"},
		{"ecc", "init", "x", "--template=xdp"},
		{"ecc", "build", "-o", "build", "--wasm", "main.c"},
	}
	for _, w := range good {
		if _, err := checkEcc(app, w); err != nil {
			t.Error(err)
		}
	}
	bad := map[string][]string{
		"no such command": {"ecc", "publish", "build"},
		"no flag":         {"ecc", "build", "--target", "arm64", "a.bpf.c"},
		"flag of another": {"ecc", "push", "--arch", "arm64", "build", "r"},
		"missing value":   {"ecc", "push", "build", "r", "--format"},
		"too many args":   {"ecc", "build", "a.bpf.c", "a.h", "b.h"},
		"too few args":    {"ecc", "push", "build"},
		"one dash name":   {"ecc", "build", "-arch", "arm64", "a.bpf.c"},
	}
	for what, w := range bad {
		if _, err := checkEcc(app, w); err == nil {
			t.Errorf("%s: %q accepted", what, w)
		}
	}
}

// workflow is the part of a GitHub Actions workflow the test reads.
type workflow struct {
	Name        string
	On          map[string]any    `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Jobs        map[string]struct {
		RunsOn string `yaml:"runs-on"`
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
			if len(wf.Jobs) != 1 {
				t.Fatalf("jobs: %v", wf.Jobs)
			}
			seen := map[string][]string{}
			var uses []string
			for _, job := range wf.Jobs {
				if job.RunsOn != "ubuntu-latest" {
					t.Errorf("runs-on %q", job.RunsOn)
				}
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
						switch prog {
						case "ecc":
							cmd, err := checkEcc(app, words)
							if err != nil {
								t.Errorf("step %q: %v", st.Name, err)
							}
							seen[cmd] = words
							t.Logf("step %q: %s: ok", st.Name, line)
						case "apt-get":
							if strings.Contains(line, "install") {
								seen["apt-get install"] = words
							}
						case "go":
							seen["go "+words[1]] = words
						}
					}
				}
			}
			if len(uses) < 2 || !strings.HasPrefix(uses[0], "actions/checkout@") || !strings.HasPrefix(uses[1], "actions/setup-go@") {
				t.Errorf("steps use %v: want checkout, then setup-go", uses)
			}
			d, _ := templates.ScaffoldFor(s.Name, name)
			apt, build := "apt-get install -y clang llvm libbpf-dev", "ecc build --arch x86_64,arm64 -o build "+d.Sources
			if isWasm(d.Sources) {
				// A Wasm program embeds one object: one architecture, and
				// the wasm32 toolchain.
				apt, build = apt+" lld wasi-libc libclang-rt-dev-wasm32", "ecc build -o build "+d.Sources
			}
			wantLines := map[string]string{
				"apt-get install": apt,
				"go install":      "go install github.com/ecc-bpf/ecc/cmd/ecc@latest",
				"build":           build,
				"login":           "ecc login ghcr.io -u ${{ github.actor }} --password-stdin",
				"push":            "ecc push --format json build ghcr.io/${{ github.repository }}:${{ github.ref_name }}",
			}
			for k, want := range wantLines {
				if got := strings.Join(seen[k], " "); got != want {
					t.Errorf("%s: got %q, want %q", k, got, want)
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
	for _, job := range readWorkflow(t, dir).Jobs {
		for _, st := range job.Steps {
			if strings.Contains(st.Run, "ecc "+cmd) {
				return st.Run
			}
		}
	}
	return ""
}

// ecliFlags reads ecli run's flags from its help: name → takes a value.
func ecliFlags(t *testing.T) map[string]bool {
	flags := readCLI(t, ecliBin).sub("run").flags
	if !flags["ifname"] || flags["json"] || len(flags) < 10 {
		t.Fatalf("cannot read ecli run's flags from its help: %v", flags)
	}
	return flags
}

var progFlagRE = regexp.MustCompile(`(?m)^\s+(?:-(\w), )?--([\w-]+)`)

// checkEcli checks "ecli run [FLAGS] PACKAGE [PROGRAM FLAGS]": ecli's flags
// exist, and the program flags are among progFlags (when given).
func checkEcli(words []string, flags map[string]bool, progFlags map[string]bool) error {
	line := strings.Join(words, " ")
	if len(words) < 3 || words[1] != "run" {
		return fmt.Errorf("%q: not ecli run PACKAGE", line)
	}
	j := 2
	for ; j < len(words) && strings.HasPrefix(words[j], "-"); j++ {
		name, _, hasValue := strings.Cut(strings.TrimLeft(words[j], "-"), "=")
		tv, ok := flags[name]
		if !ok {
			return fmt.Errorf("%q: ecli run has no flag %s", line, words[j])
		}
		if tv && !hasValue {
			j++
		}
	}
	if j >= len(words) {
		return fmt.Errorf("%q: no PACKAGE", line)
	}
	for _, w := range words[j+1:] {
		if progFlags == nil || !strings.HasPrefix(w, "-") || w == "--help" {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(w, "-"), "=")
		if !progFlags[strings.ReplaceAll(name, "_", "-")] {
			return fmt.Errorf("%q: the program has no flag %s", line, w)
		}
	}
	return nil
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
			name := "docs_" + strings.ReplaceAll(s.Name, "-", "_")
			dir := initProject(t, s.Name, name)
			if out, err := exec.Command(makeBin, "-C", dir, "build", "ECC="+eccBin).CombinedOutput(); err != nil {
				t.Fatalf("make build: %v\n%s", err, out)
			}
			d, _ := templates.ScaffoldFor(s.Name, name)
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
			mk, err := exec.Command(makeBin, "-n", "-C", dir, "build", "run", "push", "SUDO=sudo", "ARCH=x86_64,arm64", "ARGS="+s.Args).Output()
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
			for _, k := range []string{"ecc build", "ecc push", "ecc login", "ecli run"} {
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
			env := append(os.Environ(),
				"PATH="+filepath.Dir(eccBin)+":"+os.Getenv("PATH"),
				"DOCKER_CONFIG="+t.TempDir(), "ECC_STORE_DIR="+t.TempDir(),
				"ECC_REGISTRY_USERNAME=", "ECC_REGISTRY_PASSWORD=")
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
			if ran != 3 {
				t.Errorf("ran %d ecc steps, want 3 (build, login, push)", ran)
			}
			var res struct{ Reference, Digest string }
			if err := json.Unmarshal([]byte(pushOut), &res); err != nil {
				t.Fatalf("push --format json: %v: %q", err, pushOut)
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
			if d, _ := templates.ScaffoldFor(s.Name, name); isWasm(d.Sources) {
				wantPlats = "linux/amd64"
			}
			if idx.MediaType != "application/vnd.oci.image.index.v1+json" || strings.Join(plats, ",") != wantPlats {
				t.Errorf("pushed %s with %v, want an index of %s", idx.MediaType, plats, wantPlats)
			}
			t.Logf("pushed %s (%s): %v", res.Reference, res.Digest[:19], plats)
		})
	}
}

// ---------------------------------------------------------------------------
// Kernel tests: every template, created, built as its Makefile says, and
// run by ecli while real activity happens.

// kernelTests names the test that runs each template in the kernel.
var kernelTests = map[string]string{
	"tracepoint": "TestInitKernelTracepoint",
	"uprobe":     "TestInitKernelUprobe, TestInitKernelUprobeBash",
	"xdp":        "TestInitKernelXDP",
	"tc":         "TestInitKernelTC",
	"histogram":  "TestInitKernelHistogram",
	"profile":    "TestInitKernelProfile",
	"wasm-c":     "TestInitKernelWasm/wasm-c",
	"wasm-go":    "TestInitKernelWasm/wasm-go",
}

// A new template comes with a kernel test.
func TestInitKernelCoverage(t *testing.T) {
	for _, s := range templates.Scaffolds() {
		if kernelTests[s.Name] == "" {
			t.Errorf("template %s has no kernel test: add one (ecc init, make build, ecli run with real activity) and list it in kernelTests", s.Name)
		}
	}
}

// buildProject runs ecc init and make build; it returns the package.
func buildProject(t *testing.T, tmpl, name string) (dir, pkg string) {
	t.Helper()
	testenv.BPFBuild(t)
	testenv.Kernel(t)
	makeBin := testenv.Tool(t, "make")
	dir = initProject(t, tmpl, name)
	if out, err := exec.Command(makeBin, "-C", dir, "build", "ECC="+eccBin).CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	pkg = filepath.Join(dir, "build", "package.json")
	if _, err := os.Stat(pkg); err != nil {
		t.Fatal(err)
	}
	return dir, pkg
}

// compileC builds a helper program with the system C compiler.
func compileC(t *testing.T, name, src string, flags ...string) string {
	t.Helper()
	cc := testenv.Tool(t, "cc")
	dir := t.TempDir()
	c := filepath.Join(dir, name+".c")
	os.WriteFile(c, []byte(src), 0o644)
	bin := filepath.Join(dir, name)
	args := append(append([]string{}, flags...), "-o", bin, c)
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("cc %s: %v\n%s", name, err, out)
	}
	return bin
}

// startBackground starts a helper that runs until the test ends.
func startBackground(t *testing.T, bin string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// ecliRun is ecli run in the background.
type ecliRun struct {
	cmd       *exec.Cmd
	out, errs *testenv.SyncBuffer
	done      chan struct{}
	err       error
	stopOnce  sync.Once
}

// startEcli starts ecli and returns once it has attached everything and
// reads the outputs (ECLI_TRACE marks that step). An interface holds one
// XDP program: while another test (of another package, run in parallel)
// has one on lo, ecli fails with EBUSY, and is started again.
func startEcli(t *testing.T, args ...string) *ecliRun {
	t.Helper()
	busyUntil := time.Now().Add(60 * time.Second)
	for {
		r, busy := tryEcli(t, args)
		if r != nil {
			return r
		}
		if !busy || time.Now().After(busyUntil) {
			t.Fatalf("ecli %s failed to start (see above)", strings.Join(args, " "))
		}
		t.Logf("the interface is busy (another test's XDP program?): trying again")
		time.Sleep(500 * time.Millisecond)
	}
}

func tryEcli(t *testing.T, args []string) (r *ecliRun, busy bool) {
	t.Helper()
	r = &ecliRun{out: &testenv.SyncBuffer{}, errs: &testenv.SyncBuffer{}, done: make(chan struct{})}
	r.cmd = exec.Command(ecliBin, args...)
	r.cmd.Env = append(os.Environ(), "ECLI_TRACE=1")
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.errs
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.err = r.cmd.Wait(); close(r.done) }()
	deadline := time.After(30 * time.Second)
	for !strings.Contains(r.errs.String(), "ecli: trace: outputs") {
		select {
		case <-r.done:
			if strings.Contains(r.errs.String(), "device or resource busy") {
				return nil, true
			}
			t.Errorf("ecli %s ended before attaching: %v\n%s", strings.Join(args, " "), r.err, r.errs.String())
			return nil, false
		case <-deadline:
			r.cmd.Process.Kill()
			<-r.done
			t.Errorf("ecli %s did not attach within 30s\n%s", strings.Join(args, " "), r.errs.String())
			return nil, false
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Cleanup(func() { r.stop(t) })
	return r, false
}

// stop interrupts ecli (it prints @sample maps once more) and checks that
// it exits cleanly without warnings.
func (r *ecliRun) stop(t *testing.T) {
	r.stopOnce.Do(func() {
		r.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-r.done:
		case <-time.After(15 * time.Second):
			r.cmd.Process.Kill()
			<-r.done
			t.Errorf("ecli did not stop within 15s")
		}
		if r.err != nil {
			t.Errorf("ecli: %v\n%s", r.err, r.errs.String())
		}
		for _, l := range strings.Split(r.errs.String(), "\n") {
			if strings.Contains(l, "warning") || strings.Contains(l, "error") {
				t.Errorf("ecli stderr: %s", l)
			}
		}
	})
}

func (r *ecliRun) lines() []map[string]any { return r.out.JSONLines() }

// waitFor calls activity (when not nil) and polls the JSON lines until
// match accepts one, for up to 20s.
func (r *ecliRun) waitFor(t *testing.T, what string, activity func(), match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if activity != nil {
			activity()
		}
		for _, m := range r.lines() {
			if match(m) {
				return m
			}
		}
		select {
		case <-r.done:
			t.Fatalf("ecli ended: %v\n%s", r.err, r.errs.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	out := r.out.String()
	if len(out) > 3000 {
		out = "…" + out[len(out)-3000:]
	}
	t.Fatalf("no %s in ecli's output:\n%s\nstderr: %s", what, out, r.errs.String())
	return nil
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

func strs(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestInitKernelTracepoint(t *testing.T) {
	_, pkg := buildProject(t, "tracepoint", "k_exec")
	bin := namedTrue(t, "ecc-init-exec")
	me := os.Getpid()
	r := startEcli(t, "run", "-j", pkg, "--ppid", strconv.Itoa(me))
	pids := map[int64]bool{}
	ev := r.waitFor(t, "the exec of "+bin, func() {
		c := exec.Command(bin, "mark")
		if c.Run() == nil {
			pids[int64(c.Process.Pid)] = true
		}
	}, func(m map[string]any) bool { return m["filename"] == bin })
	if !pids[num(ev["pid"])] {
		t.Errorf("pid %v is none of the execs %v", ev["pid"], pids)
	}
	if num(ev["ppid"]) != int64(me) || ev["comm"] != "ecc-init-exec" || num(ev["uid"]) != int64(os.Getuid()) {
		t.Errorf("event %v: want ppid %d, comm ecc-init-exec, uid %d", ev, me, os.Getuid())
	}
	r.stop(t)
	// --ppid filtered everything else out.
	for _, m := range r.lines() {
		if num(m["ppid"]) != int64(me) {
			t.Errorf("--ppid %d let through %v", me, m)
		}
	}
	t.Logf("event: %v", ev)
}

// The bare uprobe/uretprobe pair on a function of a C program, through
// ecli run --uprobe BIN:SYM: argument, return value, duration, and the
// --min-us flag filtering out the fast calls.
func TestInitKernelUprobe(t *testing.T) {
	_, pkg := buildProject(t, "uprobe", "k_calls")
	bin := compileC(t, "ecc-target", `
#include <stdlib.h>
#include <unistd.h>
/* even x: slow (2 ms); odd x: fast */
__attribute__((noinline)) long ecc_target(long x) { if (x % 2 == 0) usleep(2000); return 3 * x + 1; }
int main(int argc, char **argv) {
	long n = atol(argv[1]);
	for (;;) { ecc_target(n); ecc_target(n + 1); usleep(10000); }
}`, "-O1")
	target := startBackground(t, bin, "4242")
	r := startEcli(t, "run", "-j", "--uprobe", bin+":ecc_target", pkg, "--min-us", "1000")
	var n int
	ev := r.waitFor(t, "three calls of ecc_target", nil, func(m map[string]any) bool {
		if num(m["pid"]) == int64(target.Process.Pid) {
			n++
		}
		return n >= 3
	})
	r.stop(t)
	if ev["comm"] != "ecc-target" || num(ev["tid"]) != int64(target.Process.Pid) {
		t.Errorf("event %v: want comm ecc-target, tid %d", ev, target.Process.Pid)
	}
	for _, m := range r.lines() {
		if num(m["arg0"]) != 4242 || num(m["ret"]) != 12727 || num(m["duration_ns"]) < 2_000_000 || num(m["duration_ns"]) > 2_000_000_000 {
			t.Errorf("event %v: want arg0 4242, ret 12727, duration ≥ 2 ms (the fast calls of 4243 are below --min-us)", m)
		}
	}
	t.Logf("event: %v", ev)
}

// The template's default target (the Makefile's RUN_FLAGS): bash's
// readline, typed into on a terminal.
func TestInitKernelUprobeBash(t *testing.T) {
	if _, err := os.Stat("/bin/bash"); err != nil {
		testenv.Missing(t, "no /bin/bash")
	}
	_, pkg := buildProject(t, "uprobe", "k_readline")
	d, _ := templates.ScaffoldFor("uprobe", "k_readline")
	r := startEcli(t, append(append([]string{"run", "-j"}, strings.Fields(d.RunFlags)...), pkg)...)
	bash, master := startBash(t)
	typed := 0
	ev := r.waitFor(t, "a readline() return in bash", func() {
		if typed < 20 {
			fmt.Fprintf(master, "true typed-%d\n", typed)
			typed++
		}
	}, func(m map[string]any) bool { return num(m["pid"]) == int64(bash.Process.Pid) })
	if ev["comm"] != "bash" || num(ev["ret"]) == 0 || num(ev["duration_ns"]) <= 0 {
		t.Errorf("event %v: want comm bash, a non-NULL line, a duration", ev)
	}
	t.Logf("event: %v", ev)
}

// startBash starts an interactive bash on a terminal until the test ends;
// it returns the terminal's master side to type into.
func startBash(t *testing.T) (*exec.Cmd, *os.File) {
	t.Helper()
	master, slave := testenv.OpenPTY(t)
	bash := exec.Command("/bin/bash", "--norc", "--noprofile", "-i")
	bash.Stdin, bash.Stdout, bash.Stderr = slave, slave, slave
	bash.Env = []string{"PATH=/usr/bin:/bin", "TERM=dumb", "PS1=$ "}
	bash.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := bash.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	t.Cleanup(func() { master.Close(); bash.Process.Kill(); bash.Wait() })
	go func() { // drain the terminal
		buf := make([]byte, 4096)
		for {
			if _, err := master.Read(buf); err != nil {
				return
			}
		}
	}()
	return bash, master
}

// udpListener is a bound UDP socket on 127.0.0.1.
func udpListener(t *testing.T) (net.PacketConn, int) {
	t.Helper()
	l, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, l.LocalAddr().(*net.UDPAddr).Port
}

func sendUDP(t *testing.T, port, n int) {
	t.Helper()
	c, err := net.Dial("udp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < n; i++ {
		if _, err := c.Write([]byte("ecc init test datagram")); err != nil {
			t.Fatal(err)
		}
	}
}

// received counts the datagrams l gets within wait.
func received(l net.PacketConn, wait time.Duration) int {
	buf := make([]byte, 2048)
	n := 0
	for {
		l.SetReadDeadline(time.Now().Add(wait))
		if _, _, err := l.ReadFrom(buf); err != nil {
			return n
		}
		n++
	}
}

// kvEntries returns the entries of a default_kv JSON line.
func kvEntries(m map[string]any) (keys, values []map[string]any) {
	ents, _ := m["entries"].([]any)
	for _, e := range ents {
		em, _ := e.(map[string]any)
		k, _ := em["key"].(map[string]any)
		v, _ := em["value"].(map[string]any)
		keys, values = append(keys, k), append(values, v)
	}
	return keys, values
}

func TestInitKernelXDP(t *testing.T) {
	_, pkg := buildProject(t, "xdp", "k_xdp")
	testenv.Exclusive(t, "xdp-lo")
	pass, passPort := udpListener(t)
	drop, dropPort := udpListener(t)
	r := startEcli(t, "run", "-j", "--ifname", "lo", pkg, "--drop-udp-port", strconv.Itoa(dropPort))
	sendUDP(t, passPort, 50)
	sendUDP(t, dropPort, 20)
	if got := received(pass, 500*time.Millisecond); got != 50 {
		t.Errorf("the passing port received %d datagrams, want 50", got)
	}
	if got := received(drop, 300*time.Millisecond); got != 0 {
		t.Errorf("the dropped port received %d datagrams, want 0", got)
	}
	var udp map[string]any
	r.waitFor(t, "70 IPv4 UDP packets, 20 dropped", nil, func(m map[string]any) bool {
		keys, vals := kvEntries(m)
		for i, k := range keys {
			if m["map"] == "stats" && num(k["eth_proto"]) == 2048 && num(k["ip_proto"]) == 17 && num(vals[i]["packets"]) >= 70 && num(vals[i]["dropped"]) >= 20 {
				udp = vals[i]
				return true
			}
		}
		return false
	})
	if num(udp["dropped"]) != 20 || num(udp["bytes"]) < 70*(14+20+8+22) {
		t.Errorf("UDP counters %v: want 20 dropped, ≥ %d bytes", udp, 70*(14+20+8+22))
	}
	t.Logf("IPv4/UDP: %v", udp)
}

func TestInitKernelTC(t *testing.T) {
	_, pkg := buildProject(t, "tc", "k_tc")
	l, port := udpListener(t)
	_, other := udpListener(t)
	r := startEcli(t, "run", "-j", "--ifname", "lo", pkg, "--port", strconv.Itoa(port))
	sendUDP(t, other, 30) // not counted: another port
	sendUDP(t, port, 50)
	if got := received(l, 500*time.Millisecond); got != 50 {
		t.Errorf("received %d datagrams, want 50", got)
	}
	dirs := func(m map[string]any) (in, out int64) {
		keys, vals := kvEntries(m)
		for i, k := range keys {
			if num(k["eth_proto"]) != 2048 || num(k["ip_proto"]) != 17 {
				continue
			}
			if num(k["direction"]) == 0 {
				in = num(vals[i]["packets"])
			} else {
				out = num(vals[i]["packets"])
			}
		}
		return in, out
	}
	r.waitFor(t, "50 UDP packets each way", nil, func(m map[string]any) bool {
		in, out := dirs(m)
		return m["map"] == "stats" && in >= 50 && out >= 50
	})
	r.stop(t)
	lines := r.lines()
	last := lines[len(lines)-1]
	in, out := dirs(last)
	if in != 50 || out != 50 {
		t.Errorf("final counts: ingress %d, egress %d; want 50 each (the 30 datagrams to port %d are not for --port %d)", in, out, other, port)
	}
	for _, m := range lines {
		keys, _ := kvEntries(m)
		for _, k := range keys {
			if p := num(k["ip_proto"]); p != 6 && p != 17 {
				t.Errorf("--port counted IP protocol %d: %v", p, m)
			}
		}
	}
	t.Logf("final: %v", last["entries"])
}

func TestInitKernelHistogram(t *testing.T) {
	_, pkg := buildProject(t, "histogram", "k_lat")
	bin := compileC(t, "ecc-sleeper", `
#include <unistd.h>
int main(void) { for (;;) usleep(20000); }`, "-O1")
	sleeper := startBackground(t, bin)
	pid := sleeper.Process.Pid
	r := startEcli(t, "run", "-j", pkg, "--pid", strconv.Itoa(pid), "--per-process")
	var bucket map[string]any
	m := r.waitFor(t, "five 20 ms sleeps in the histogram", nil, func(m map[string]any) bool {
		h, _ := m["hist"].(map[string]any)
		bs, _ := h["buckets"].([]any)
		for _, b := range bs {
			bm, _ := b.(map[string]any)
			if num(bm["low"]) <= 20000 && 20000 <= num(bm["high"]) && num(bm["count"]) >= 5 {
				bucket = bm
				return m["map"] == "hists"
			}
		}
		return false
	})
	if num(m["key"]) != int64(pid) || m["type"] != "log2_hist" {
		t.Errorf("histogram key %v type %v: want the sleeper's pid %d (--per-process), log2_hist", m["key"], m["type"], pid)
	}
	h := m["hist"].(map[string]any)
	if h["unit"] != "usecs" {
		t.Errorf("unit %v", h["unit"])
	}
	// Nearly every system call of the sleeper is a 20 ms sleep.
	var total, most int64
	for _, b := range h["buckets"].([]any) {
		c := num(b.(map[string]any)["count"])
		total += c
		most = max(most, c)
	}
	if most != num(bucket["count"]) {
		t.Errorf("the fullest bucket is not the 20 ms one: %v", h)
	}
	if num(bucket["low"]) != 16384 || num(bucket["high"]) != 32767 {
		t.Errorf("bucket %v: want 16384 -> 32767", bucket)
	}
	t.Logf("key %v: bucket %v of %d calls", m["key"], bucket, total)
}

func TestInitKernelProfile(t *testing.T) {
	_, pkg := buildProject(t, "profile", "k_prof")
	// One thread spins in user space in a named function; another reads
	// /dev/zero, so that samples land in the kernel too. Frame pointers
	// make the user stacks walkable.
	bin := compileC(t, "ecc-spin", `
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
static char buf[1 << 20];
__attribute__((noinline)) void *ecc_read_zero(void *arg) {
	int fd = open("/dev/zero", O_RDONLY);
	for (;;) read(fd, buf, sizeof(buf));
	return arg;
}
__attribute__((noinline)) void ecc_spin_here(void) { volatile unsigned long n = 0; for (;;) n++; }
int main(void) { pthread_t t; pthread_create(&t, 0, ecc_read_zero, 0); ecc_spin_here(); return 0; }`,
		"-O0", "-fno-omit-frame-pointer", "-pthread")
	spin := startBackground(t, bin)
	pid := spin.Process.Pid
	r := startEcli(t, "run", "-j", "--freq", "99", pkg, "--pid", strconv.Itoa(pid))
	user := r.waitFor(t, "a sample in ecc_spin_here", nil, func(m map[string]any) bool {
		us := strs(m["ustack_syms"])
		return len(us) > 0 && strings.HasPrefix(us[0], "ecc_spin_here+0x") && strings.HasSuffix(us[0], "(ecc-spin)")
	})
	if num(user["pid"]) != int64(pid) || user["comm"] != "ecc-spin" || num(user["ustack_len"]) != int64(len(strs(user["ustack_syms"]))) {
		t.Errorf("sample %v: want pid %d, comm ecc-spin, ustack_len frames", user, pid)
	}
	if us := strs(user["ustack_syms"]); len(us) < 2 || !strings.HasPrefix(us[1], "main+0x") {
		t.Errorf("user stack %v: want main below ecc_spin_here", us)
	}
	kern := r.waitFor(t, "a sample in the kernel's read()", nil, func(m map[string]any) bool {
		for _, f := range strs(m["kstack_syms"]) {
			if strings.Contains(f, "read") {
				return true
			}
		}
		return false
	})
	r.stop(t)
	for _, m := range r.lines() {
		ks := strs(m["kstack_syms"])
		if int64(len(ks)) != num(m["kstack_len"]) {
			t.Errorf("%d kernel frames for kstack_len %v", len(ks), m["kstack_len"])
		}
		for _, f := range ks {
			if strings.HasPrefix(f, "0x") || strings.Contains(f, "unknown") {
				t.Errorf("kernel frame not symbolised: %v", ks)
				break
			}
		}
		if num(m["pid"]) != int64(pid) {
			t.Errorf("--pid %d let through %v", pid, m["pid"])
		}
	}
	t.Logf("user sample: %v", strs(user["ustack_syms"]))
	ks := strs(kern["kstack_syms"])
	t.Logf("kernel sample (%d frames): %v", len(ks), ks[:min(6, len(ks))])
}

// The Wasm templates: ecc init, make build (ecc build --wasm), then ecli run
// NAME.wasm while a uniquely named program is exec'd: the guest prints it.
func TestInitKernelWasm(t *testing.T) {
	for _, tmpl := range []string{"wasm-c", "wasm-go"} {
		t.Run(tmpl, func(t *testing.T) {
			name := "k_" + strings.ReplaceAll(tmpl, "-", "_")
			dir, _ := buildProject(t, tmpl, name)
			wasmFile := filepath.Join(dir, "build", name+".wasm")
			if _, err := os.Stat(wasmFile); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(ecliBin, "run", wasmFile)
			var stdout, stderr testenv.SyncBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				cmd.Process.Signal(syscall.SIGINT)
				cmd.Wait()
			}()
			bin := namedTrue(t, "ecc-"+tmpl)
			var pid int
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				c := exec.Command(bin)
				if c.Run() == nil {
					want := fmt.Sprintf("pid=%d ", c.Process.Pid)
					for _, line := range strings.Split(stdout.String(), "\n") {
						if strings.HasPrefix(line, want) && strings.Contains(line, "comm=ecc-"+tmpl) && strings.Contains(line, "file="+bin) {
							pid = c.Process.Pid
						}
					}
				}
				if pid != 0 {
					break
				}
			}
			if pid == 0 {
				t.Fatalf("the guest printed no line for %s\nstdout: %s\nstderr: %s", bin, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), fmt.Sprintf("ppid=%d ", os.Getpid())) {
				t.Errorf("no line with this test as the parent:\n%s", stdout.String())
			}
		})
	}
}

// isWasm reports whether a template builds a Wasm program.
func isWasm(sources string) bool { return strings.Contains(sources, "--wasm") }
