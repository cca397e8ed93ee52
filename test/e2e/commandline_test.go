package e2e

import (
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

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

// command is a command of ecc or ecli as its --help describes it: what the
// tests check documented command lines against, the way a user reads it.
type command struct {
	names []string        // the name, then the aliases
	flags map[string]bool // every name of every flag → takes a value
	args  string          // ArgsUsage: "SOURCE.bpf.c [EXPORT_HEADER.h]"
	subs  []*command
}

func (c *command) hasName(name string) bool { return slices.Contains(c.names, name) }

func (c *command) sub(name string) *command {
	for _, s := range c.subs {
		if s.hasName(name) {
			return s
		}
	}
	return nil
}

var (
	cliMu   sync.Mutex
	cliDefs = map[string]*command{}
)

// readCLI reads the commands of bin (ecc or ecli), their subcommands and
// flags from `bin [COMMAND...] --help`, once per binary.
func readCLI(t *testing.T, bin string) *command {
	t.Helper()
	cliMu.Lock()
	defer cliMu.Unlock()
	if c := cliDefs[bin]; c != nil {
		return c
	}
	c := readHelp(t, bin, nil)
	cliDefs[bin] = c
	return c
}

func readHelp(t *testing.T, bin string, path []string) *command {
	t.Helper()
	out, err := exec.Command(bin, append(slices.Clone(path), "--help")...).Output()
	if err != nil {
		t.Fatalf("%s %s --help: %v", bin, strings.Join(path, " "), err)
	}
	c := &command{flags: map[string]bool{}}
	if len(path) > 0 {
		c.names = []string{path[len(path)-1]}
	}
	section := ""
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" && l[0] != ' ' && strings.HasSuffix(l, ":") {
			section = strings.TrimSuffix(l, ":")
			continue
		}
		text := strings.TrimSpace(l)
		spec, _, _ := strings.Cut(text, "  ")
		switch section {
		case "USAGE":
			// PROG COMMAND... [command options] ARGS (urfave/cli's layout).
			if _, rest, ok := strings.Cut(text, "[command options]"); ok {
				c.args = strings.TrimSpace(rest)
			}
		case "COMMANDS":
			names := strings.Split(spec, ", ")
			if spec == "" || names[0] == "help" {
				continue
			}
			sub := readHelp(t, bin, append(slices.Clone(path), names[0]))
			sub.names = names
			c.subs = append(c.subs, sub)
		case "OPTIONS", "GLOBAL OPTIONS":
			if !strings.HasPrefix(spec, "-") {
				continue // a wrapped line
			}
			for _, f := range strings.Split(spec, ", ") {
				name, value, _ := strings.Cut(f, " ")
				c.flags[strings.TrimLeft(name, "-")] = value != ""
			}
		}
	}
	return c
}

// What the tests read from --help is the whole command line: a check
// against it can fail.
func TestReadCLI(t *testing.T) {
	ecc := readCLI(t, eccBin)
	build := ecc.sub("build")
	if build == nil || build.args != "SOURCE.bpf.c [EXPORT_HEADER.h]" || !build.flags["arch"] || !build.flags["o"] || build.flags["json"] || build.flags["v"] {
		t.Fatalf("ecc build: %+v", build)
	}
	if ecc.sub("gen") == nil || ecc.sub("gen").sub("vmlinux") == nil || ecc.sub("images").sub("rm").args != "REF..." {
		t.Errorf("ecc's subcommands: %+v", ecc.subs)
	}
	if len(ecc.subs) < 10 || ecc.sub("help") != nil || ecc.sub("run") != nil {
		t.Errorf("ecc's commands: %d", len(ecc.subs))
	}
	run := readCLI(t, ecliBin).sub("run")
	if run == nil || run.args != "PACKAGE [PROGRAM FLAGS...]" || !run.flags["uprobe"] || !run.flags["ifname"] || run.flags["j"] {
		t.Errorf("ecli run: %+v", run)
	}
}
