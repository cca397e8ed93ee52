package main

import (
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

// Bad output flags: one line naming the flag and what to do, before
// anything is read or loaded; a --format ecli does not take is a usage
// error (status 2), a field the events do not have is not (status 1).
func TestRunOutputFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--format", "yaml"}, `--format "yaml": use text or json`},
		{[]string{"-j", "--format", "text"}, "--format text and -j/--json disagree"},
	} {
		_, stderr, status := ecli(t, append(append([]string{"run"}, c.args...), "no-such-package")...)
		if status != 2 || !strings.HasPrefix(stderr, "ecli run: "+c.want) || strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, "no-such-package") {
			t.Errorf("%v: status %d, stderr %q; want 2 and one line with %q", c.args, status, stderr, c.want)
		}
	}
	testenv.Kernel(t)
	pkg := buildPkg(t, "execsnoop")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--fields", "pid,commm"}, `ecli: --fields commm: no field "commm": struct event of map events has timestamp, pid, ppid, uid, args_len, comm, filename, args`},
		// A filter keeps its commas; its field is checked like --fields'.
		{[]string{"--filter", "comm==a", "--filter", "cmd~a,b"}, `--filter cmd~a,b: no field "cmd"`},
		{[]string{"--filter", "uid=root"}, `--filter uid=root: uid is an integer; "root" is not one`},
	} {
		_, stderr, status := ecli(t, append(append([]string{"run"}, c.args...), pkg)...)
		if status != 1 || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: status %d, stderr %q; want 1 and one line with %q", c.args, status, stderr, c.want)
		}
	}
}
