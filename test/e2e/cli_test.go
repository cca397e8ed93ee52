package e2e

import (
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
)

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
