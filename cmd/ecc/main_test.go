package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

var eccBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ecc-cli-test-")
	if err != nil {
		panic(err)
	}
	eccBin = filepath.Join(dir, "ecc")
	if out, err := exec.Command("go", "build", "-o", eccBin, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	os.Setenv("ECC_CACHE_DIR", filepath.Join(dir, "cache"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func ecc(t *testing.T, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	return (&session{t: t}).run(args...)
}

// Every bad input: one line on stderr naming the thing, no output files,
// and exit status 1, or 2 for a command line ecc does not take.
func TestBadInput(t *testing.T) {
	testenv.BPFBuild(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	good := write("good.bpf.c", "#include \"vmlinux.h\"\nint x = 1;\n")
	syntax := write("broken.bpf.c", "#include \"vmlinux.h\"\nint x = ;\n")
	noStruct := write("none.h", "#define NOTHING\n")
	// An arm64 vmlinuz without a BTF blob: a gzip of an Image header.
	var img bytes.Buffer
	zw := gzip.NewWriter(&img)
	zw.Write(append(make([]byte, 0x38), "ARM\x64\x00\x00\x00\x00"...))
	zw.Write(make([]byte, 4096))
	zw.Close()
	noBTF := write("vmlinuz-6.1.0-arm64", img.String())
	cases := []struct {
		name  string
		args  []string
		wants []string
		lines int // expected stderr lines (0: any, for clang diagnostics)
	}{
		{"missing source", []string{"build", filepath.Join(dir, "missing.bpf.c")}, []string{"missing.bpf.c", "no such file"}, 1},
		{"directory", []string{"build", dir}, []string{"is a directory"}, 1},
		{"not C", []string{"build", write("notes.txt", "hi")}, []string{"notes.txt", "not a C file"}, 1},
		{"syntax error", []string{"build", syntax}, []string{"broken.bpf.c:2:9: error", "ecc: clang failed to compile"}, 0},
		{"unknown arch", []string{"build", "--arch", "x86_64,vax", good}, []string{`"vax"`, "arm64"}, 1},
		{"no clang", []string{"build", "--clang", "/nonexistent/clang", good}, []string{"/nonexistent/clang", "apt-get install clang-19"}, 1},
		{"bad btf", []string{"build", "--btf", write("bad.btf", "garbage"), good}, []string{"bad.btf", "--btf"}, 1},
		{"btf bad arch", []string{"build", "--btf", "mips=x.btf", good}, []string{"--btf mips=x.btf", "unknown --arch"}, 1},
		{"too many args", []string{"build", good, noStruct, noStruct}, []string{"ecc build: expects SOURCE.bpf.c", "got 3 arguments", "see 'ecc build --help'"}, 1},
		{"no args", []string{"build"}, []string{"ecc build: expects SOURCE.bpf.c", "got no arguments"}, 1},
		{"misspelt flag", []string{"build", "--ouput", dir, good}, []string{"ecc build: unknown flag --ouput (did you mean --output?); see 'ecc build --help'"}, 1},
		{"flag without value", []string{"build", good, "-o"}, []string{"ecc build: flag -o needs a value"}, 1},
		{"misspelt command", []string{"bulid", good}, []string{`ecc: unknown command "bulid" (did you mean "build"?)`}, 1},
		{"bad cflags", []string{"build", "--cflags", `-DX="unterminated`, good}, []string{"--cflags", "unterminated"}, 1},
		{"inspect missing", []string{"inspect", filepath.Join(dir, "nope.json")}, []string{"nope.json", "no such file"}, 1},
		{"inspect not a package", []string{"inspect", write("junk.json", `{"x":1}`)}, []string{"junk.json", "bpf_object"}, 1},
		{"btfgen not a kernel", []string{"build", "--btfgen", write("k.txt", "some text, no kernel"), good}, []string{"--btfgen", "k.txt", "not a kernel image"}, 1},
		{"btfgen image without BTF", []string{"build", "--btfgen", noBTF, good}, []string{"--btfgen " + noBTF, "arm64 Image", "ecc: hint: pass that kernel's vmlinux"}, 2},
		{"gen bad btf", []string{"gen", "vmlinux", "--btf", filepath.Join(dir, "none.btf"), "-o", filepath.Join(dir, "out.h")}, []string{"none.btf"}, 1},
	}
	usage := map[string]bool{"too many args": true, "no args": true, "misspelt flag": true, "flag without value": true, "misspelt command": true}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := listFiles(dir)
			_, stderr, status := ecc(t, c.args...)
			want := 1
			if usage[c.name] {
				want = 2
			}
			if status != want {
				t.Errorf("exit status %d, want %d", status, want)
			}
			for _, w := range c.wants {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, stderr)
				}
			}
			if n := strings.Count(strings.TrimSpace(stderr), "\n") + 1; c.lines > 0 && n != c.lines {
				t.Errorf("stderr has %d lines, want %d:\n%s", n, c.lines, stderr)
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
				t.Errorf("panicked:\n%s", stderr)
			}
			if after := listFiles(dir); !reflect.DeepEqual(before, after) {
				t.Errorf("files changed: before %v after %v", before, after)
			}
		})
	}
}

func listFiles(dir string) []string {
	var out []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestBuildAndInspect(t *testing.T) {
	testenv.BPFBuild(t)
	out := t.TempDir()
	stdout, stderr, status := ecc(t, "build", "--json", "-o", out, "../../examples/runqlat/runqlat.bpf.c")
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	var res struct {
		Name    string
		Outputs []struct {
			Arch, Package string
			Cached        bool
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout)
	}
	if res.Name != "runqlat" || len(res.Outputs) != 1 || res.Outputs[0].Package != filepath.Join(out, "package.json") {
		t.Fatalf("result %+v", res)
	}
	// Again: served from the cache, and it says so.
	_, stderr, _ = ecc(t, "build", "-o", out, "../../examples/runqlat/runqlat.bpf.c")
	if !strings.Contains(stderr, "cached") {
		t.Errorf("second build does not say it was cached: %s", stderr)
	}
	stdout, stderr, status = ecc(t, "inspect", out)
	if status != 0 {
		t.Fatalf("inspect: %s", stderr)
	}
	for _, want := range []string{"runqlat_bpf 0.1.0", "raw_tp/sched_switch", "hists", "log2_hist every 1000 ms", "-p, --pid", "int", "targ_per_process",
		"attach (ecli run on this machine, without flags)", "raw tracepoint sched_switch"} {
		if want == "targ_per_process" {
			continue
		}
		if !strings.Contains(stdout, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, stdout)
		}
	}
	stdout, _, _ = ecc(t, "inspect", "--format", "json", filepath.Join(out, "runqlat.skel.json"))
	var meta map[string]any
	if err := json.Unmarshal([]byte(stdout), &meta); err != nil || meta["bpf_skel"] == nil {
		t.Fatalf("inspect --format json: %v\n%s", err, stdout)
	}
}

func TestGenVmlinux(t *testing.T) {
	testenv.BPFBuild(t)
	p := filepath.Join(t.TempDir(), "vmlinux.h")
	if _, stderr, status := ecc(t, "gen", "vmlinux", "-o", p); status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"struct task_struct {", "preserve_access_index", "#ifndef __VMLINUX_H__"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("vmlinux.h lacks %q", want)
		}
	}
}

func TestHelpHasExamples(t *testing.T) {
	for _, cmd := range [][]string{{"--help"}, {"build", "--help"}, {"inspect", "--help"}, {"gen", "vmlinux", "--help"}} {
		stdout, _, status := ecc(t, cmd...)
		if status != 0 || !strings.Contains(stdout, "Examples:") {
			t.Errorf("ecc %s: status %d, no examples:\n%s", strings.Join(cmd, " "), status, stdout)
		}
	}
}

func TestSplitFlags(t *testing.T) {
	got, err := splitFlags(`-DX=1  -I"/a b" '-DMSG="hi there"' -Wall`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-DX=1", "-I/a b", `-DMSG="hi there"`, "-Wall"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q", got)
	}
}

func TestVersionAndCompletion(t *testing.T) {
	stdout, _, status := ecc(t, "version", "--format", "json")
	var m map[string]any
	if status != 0 || json.Unmarshal([]byte(stdout), &m) != nil {
		t.Fatalf("version: %d %s", status, stdout)
	}
	if g, _ := m["go"].(string); !strings.HasPrefix(g, "go1.") {
		t.Errorf("version fields: %v", m)
	}
	if c, _ := m["cilium_ebpf"].(string); !strings.HasPrefix(c, "v0.") || m["version"] == "" {
		t.Errorf("version fields: %v", m)
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		out, _, st := ecc(t, "completion", sh)
		if st != 0 || !strings.Contains(out, "ecc") {
			t.Errorf("completion %s: %d %q", sh, st, out)
		}
	}
	// The completion scripts ask the binary: it must answer with commands.
	out, _, _ := ecc(t, "--generate-bash-completion")
	for _, c := range []string{"build", "push", "pull", "login", "images", "inspect", "version"} {
		if !strings.Contains(out, c+"\n") {
			t.Errorf("completion candidates lack %s: %q", c, out)
		}
	}
}

// Every command and subcommand explains itself and shows examples.
func TestEveryCommandHasExamples(t *testing.T) {
	var walk func(prefix string, cmds []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			name := strings.TrimSpace(prefix + " " + c.Name)
			if len(c.Subcommands) > 0 && len(c.Flags) == 0 && c.ArgsUsage == "" {
				walk(name, c.Subcommands) // a group: its commands have the examples
				continue
			}
			if c.Usage == "" || !strings.Contains(c.Description, "Examples:") {
				t.Errorf("ecc %s: usage %q, no Examples: in its description", name, c.Usage)
			}
			walk(name, c.Subcommands)
		}
	}
	walk("", newApp().Commands)
}

// No placeholder leaks into help text.
func TestHelpHasNoPlaceholders(t *testing.T) {
	var walk func(cmds []*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			if strings.Contains(c.Description, "PROG") {
				t.Errorf("%s: PROG left in the description", c.Name)
			}
			walk(c.Subcommands)
		}
	}
	walk(newApp().Commands)
}

// The bash completion script, run by bash against the binary: commands,
// flags of a subcommand, template names after --template, file names after
// a flag that takes a file.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script, _, status := ecc(t, "completion", "bash")
	if status != 0 {
		t.Fatalf("completion bash: status %d", status)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "probe.bpf.c"), nil, 0o644)
	for _, c := range []struct{ words, want string }{
		{"ecc ''", "build gen init push ecli-image copy cp sign verify key test deploy pull login logout images tag inspect version completion"},
		{"ecc bu", "build"},
		{"ecc init --template ''", "histogram profile tc tracepoint uprobe wasm-c wasm-go xdp"},
		{"ecc init -t x", "xdp"},
		{"ecc init --o", "--output"},
		{"ecc init my-probe --", "--template --output --list --help"},
		{"ecc build -o out pro", "probe.bpf.c"},
		{"ecc build -o ''", "probe.bpf.c"},
		{"ecc gen ''", "vmlinux"},
		{"ecc completion ''", "bash zsh fish"},
		{"ecc inspect --format ''", "text json"},
	} {
		cmd := exec.Command(bash, "--norc", "-c", script+`
COMP_WORDS=(`+c.words+`); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_ecc_complete
echo "${COMPREPLY[*]}"`)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(eccBin)+":"+os.Getenv("PATH"))
		out, err := cmd.Output()
		if got := strings.TrimSpace(string(out)); err != nil || got != c.want {
			t.Errorf("complete %s: %q (%v), want %q", c.words, got, err, c.want)
		}
	}
}
