package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Every command of both tools, as their --help lists them, answers a
// command line it does not take with one line on stderr that names the
// command and the flag (and the flag meant), nothing on stdout, and exit
// status 2.
func TestUsageErrorsEveryCommand(t *testing.T) {
	for _, bin := range []string{eccBin, ecliBin} {
		prog := strings.TrimSuffix(bin[strings.LastIndex(bin, "/")+1:], ".exe")
		var walk func(path []string, c *command)
		walk = func(path []string, c *command) {
			name := strings.Join(append([]string{prog}, path...), " ")
			t.Run(name, func(t *testing.T) {
				usageError(t, bin, append(slices.Clone(path), "--no-such-flag"),
					name+": unknown flag --no-such-flag; ")
				if f := longestFlag(c, false); f != "" {
					typo := f[:len(f)-2] + f[len(f)-1:] + f[len(f)-2:len(f)-1]
					usageError(t, bin, append(slices.Clone(path), "--"+typo),
						fmt.Sprintf("%s: unknown flag --%s (did you mean --%s?); see '%s --help'", name, typo, f, name))
				}
				if f := longestFlag(c, true); f != "" {
					usageError(t, bin, append(slices.Clone(path), "--"+f),
						fmt.Sprintf("%s: flag --%s needs a value; see '%s --help'", name, f, name))
				}
			})
			for _, s := range c.subs {
				walk(append(slices.Clone(path), s.names[0]), s)
			}
		}
		walk(nil, readCLI(t, bin))
	}
}

// Misspelt commands, at the top and under a command with subcommands.
func TestUsageErrorsCommands(t *testing.T) {
	usageError(t, eccBin, []string{"bulid", "x.bpf.c"}, `ecc: unknown command "bulid" (did you mean "build"?); see 'ecc --help'`)
	usageError(t, eccBin, []string{"gen", "vmlnux"}, `ecc gen: unknown command "vmlnux" (did you mean "vmlinux"?); see 'ecc gen --help'`)
	usageError(t, ecliBin, []string{"rnu", "pkg"}, `ecli: unknown command "rnu" (did you mean "run"?); see 'ecli --help'`)
	usageError(t, ecliBin, []string{"./probe/package.json"}, `ecli: unknown command "./probe/package.json"; to run a package: ecli run ./probe/package.json`)
	usageError(t, ecliBin, []string{"run", "-p", "1", "pkg"}, "ecli run: unknown flag -p; ecli's flags go before PACKAGE, the program's own after it: ecli run [FLAGS] PACKAGE -p ...")
}

func TestVersionFlag(t *testing.T) {
	for _, bin := range []string{eccBin, ecliBin} {
		flag := run(t, "", nil, "", bin, "--version")
		cmd := run(t, "", nil, "", bin, "version")
		if flag.status != 0 || flag.stderr != "" || flag.stdout != cmd.stdout {
			t.Errorf("%s --version: status %d, stdout %q, stderr %q; want what '%s version' prints: %q", bin, flag.status, flag.stdout, flag.stderr, bin, cmd.stdout)
		}
		prog := bin[strings.LastIndex(bin, "/")+1:]
		if first, _, _ := strings.Cut(flag.stdout, "\n"); !strings.HasPrefix(first, prog+" ") || len(first) <= len(prog)+1 {
			t.Errorf("%s --version: first line %q, want %q and the version", bin, first, prog)
		}
	}
}

// usageError runs bin args and wants status 2, nothing on stdout and one
// line on stderr that begins with want.
func usageError(t *testing.T, bin string, args []string, want string) {
	t.Helper()
	r := run(t, "", nil, "", bin, args...)
	if r.status != 2 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, want) {
		t.Errorf("%s %s: status %d, stdout %q, stderr %q; want status 2, no output and one line that begins with %q",
			bin, strings.Join(args, " "), r.status, tail(r.stdout, 300), r.stderr, want)
	}
}

// longestFlag is c's longest flag name (that takes a value, when value),
// or "": the one a typo is least likely to turn into another's.
func longestFlag(c *command, value bool) string {
	best := ""
	for f, takes := range c.flags {
		if f == "help" || len(f) < 4 || (value && !takes) {
			continue
		}
		if len(f) > len(best) || (len(f) == len(best) && f < best) {
			best = f
		}
	}
	return best
}
