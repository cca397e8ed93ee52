package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/runtime/attach"
	"github.com/ecc-bpf/ecc/source"
)

// An openat tracer whose event has pid, comm, flags and mode (bit sets,
// printed in hex by @format) and the file name.
const openHeader = `struct open_event {
	int pid;
	char comm[16];
	/// @format hex
	unsigned int flags;
	/// @format hex
	unsigned int mode;
	char fname[64];
};
`

const openSource = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "open_event.h"
char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} rb SEC(".maps");

SEC("tp/syscalls/sys_enter_openat")
int on_open(struct trace_event_raw_sys_enter *ctx)
{
	struct open_event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->flags = ctx->args[2];
	e->mode = ctx->args[3];
	bpf_probe_read_user_str(e->fname, sizeof(e->fname), (void *)ctx->args[1]);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
`

func buildOpenTracer(t *testing.T) *source.Source {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "open_event.h"), []byte(openHeader), 0o644)
	os.WriteFile(filepath.Join(dir, "opens.bpf.c"), []byte(openSource), 0o644)
	return buildPackage(t, filepath.Join(dir, "opens.bpf.c"), filepath.Join(dir, "open_event.h"))
}

// openActivity opens files of known names in dir from this process (a:
// created, mode 0600, then opened read only; b: created for writing, mode
// 0640) and from a child cat (c, created by a shell), and returns the
// flags b was opened with.
func openActivity(t *testing.T, dir string) (flagsB int) {
	t.Helper()
	a := filepath.Join(dir, "ecc-fld-a")
	os.WriteFile(a, nil, 0o600)
	if f, err := os.Open(a); err == nil {
		f.Close()
	}
	flagsB = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	f, err := os.OpenFile(filepath.Join(dir, "ecc-fld-b"), flagsB, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	c := filepath.Join(dir, "ecc-fld-c")
	if out, err := exec.Command("sh", "-c", `echo c > "$1" && cat "$1"`, "sh", c).CombinedOutput(); err != nil {
		t.Fatalf("cat: %v %s", err, out)
	}
	// Go adds O_CLOEXEC to every open.
	return flagsB | syscall.O_CLOEXEC
}

// runOpens runs the tracer with o while openActivity runs and returns its
// output once drained.
func runOpens(t *testing.T, src *source.Source, o Options) (out string, flagsB int) {
	t.Helper()
	// A short folder: the event holds 63 bytes of the path.
	dir, err := os.MkdirTemp("", "ecc")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	r := start(t, src, nil, o)
	flagsB = openActivity(t, dir)
	r.stop(t)
	return r.out.String(), flagsB
}

// lines returns the lines of out that mention ecc-fld-, and a header.
func ours(out string) []string {
	var ls []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "ecc-fld-") {
			ls = append(ls, l)
		}
	}
	return ls
}

func TestFieldsAndFilters(t *testing.T) {
	src := buildOpenTracer(t)
	pid := os.Getpid()

	t.Run("json fields order, filters on numbers and strings", func(t *testing.T) {
		out, flagsB := runOpens(t, src, Options{JSON: true,
			Fields:  []string{"fname,pid", "flags"},
			Filters: []string{fmt.Sprintf("pid==%d", pid), "fname~ecc-fld-b$"}})
		got := ours(out)
		if len(got) != 1 {
			t.Fatalf("want one event, for b:\n%s", out)
		}
		// Keys in the order asked, no timestamp, flags in hex (@format).
		want := fmt.Sprintf(`^\{"fname":"/[^"]*/ecc-fld-b","pid":%d,"flags":"0x%x"\}$`, pid, flagsB)
		if !regexp.MustCompile(want).MatchString(got[0]) {
			t.Errorf("event %s, want %s", got[0], want)
		}
	})

	t.Run("pid != and comm == pass the child only", func(t *testing.T) {
		out, _ := runOpens(t, src, Options{JSON: true,
			Fields:  []string{"timestamp,comm,fname"},
			Filters: []string{fmt.Sprintf("pid!=%d", pid), "fname~ecc-fld-", "comm==cat"}})
		got := ours(out)
		if len(got) == 0 {
			t.Fatalf("no event of cat:\n%s", out)
		}
		for _, l := range got {
			if !regexp.MustCompile(`^\{"timestamp":"[^"]+Z","comm":"cat","fname":"/[^"]*/ecc-fld-c"\}$`).MatchString(l) {
				t.Errorf("event %s: want cat's open of c, with timestamp, comm and fname only", l)
			}
		}
	})

	t.Run("text columns, hex, comm != and !~", func(t *testing.T) {
		out, flagsB := runOpens(t, src, Options{
			Fields:  []string{"mode,FLAGS,fname"},
			Filters: []string{"comm!=cat", "fname!~ecc-fld-a", "fname~ecc-fld-", "mode<=0x1a0"}})
		header, _, _ := strings.Cut(out, "\n")
		if !regexp.MustCompile(`^MODE +FLAGS +FNAME$`).MatchString(header) {
			t.Errorf("header %q: want MODE FLAGS FNAME and no TIME", header)
		}
		got := ours(out)
		want := fmt.Sprintf(`^0x1a0 +0x%x +/\S*/ecc-fld-b$`, flagsB)
		if len(got) != 1 || !regexp.MustCompile(want).MatchString(got[0]) {
			t.Errorf("rows %q, want one matching %s", got, want)
		}
	})

	t.Run("relative fields", func(t *testing.T) {
		out, _ := runOpens(t, src, Options{
			Fields:  []string{"-comm,-timestamp", "+pid"},
			Filters: []string{fmt.Sprintf("pid==%d", pid), "fname~ecc-fld-a$"}})
		header, _, _ := strings.Cut(out, "\n")
		if !regexp.MustCompile(`^ +PID +FLAGS +MODE +FNAME$`).MatchString(header) {
			t.Errorf("header %q: want the default columns without TIME and COMM", header)
		}
		got := ours(out)
		if len(got) != 2 {
			t.Errorf("rows %q: want two, a created and a read", got)
		}
		for _, l := range got {
			if !strings.HasSuffix(l, "ecc-fld-a") || !strings.HasPrefix(strings.TrimSpace(l), fmt.Sprint(pid)+" ") {
				t.Errorf("row %q: want our pid first, a last", l)
			}
		}
	})
}

// -o writes the events to a file (truncated first), stdout stays empty.
func TestOutputFile(t *testing.T) {
	src := buildOpenTracer(t)
	file := filepath.Join(t.TempDir(), "events.json")
	os.WriteFile(file, []byte("old content that must go\n"), 0o600)
	out, _ := runOpens(t, src, Options{JSON: true, OutputFile: file, Filters: []string{fmt.Sprintf("pid==%d", os.Getpid()), "fname~ecc-fld-"}})
	if out != "" {
		t.Errorf("stdout has %q, want nothing", out)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if strings.Contains(string(data), "old content") || len(lines) != 3 {
		t.Fatalf("file holds %q: want three JSON lines, a twice and b", data)
	}
	var buf testenv.SyncBuffer
	buf.Write(data)
	evs := buf.JSONLines()
	if len(evs) != 3 {
		t.Fatalf("%d JSON objects in %q", len(evs), data)
	}
	for i, want := range []string{"ecc-fld-a", "ecc-fld-a", "ecc-fld-b"} {
		if name, _ := evs[i]["fname"].(string); !strings.HasSuffix(name, want) || evs[i]["timestamp"] == nil || num(evs[i]["pid"]) != int64(os.Getpid()) {
			t.Errorf("event %v: want %s, our pid and a timestamp", evs[i], want)
		}
	}
	// Stat after the run: the mode asked for is 0644 (before umask);
	// the file is new when it did not exist.
	fresh := filepath.Join(t.TempDir(), "new.txt")
	runOpens(t, src, Options{OutputFile: fresh, Filters: []string{"fname~nothing-opens-this"}})
	st, err := os.Stat(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&^0o644 != 0 || st.Mode().Perm()&0o600 != 0o600 {
		t.Errorf("mode %v, want 0644 less the umask", st.Mode().Perm())
	}
	if data, _ := os.ReadFile(fresh); !strings.HasPrefix(string(data), "TIME ") {
		t.Errorf("text file %q: want the header", data)
	}
}

// Bad --fields and --filter values stop the run before anything loads,
// with one line naming the flag and the fields.
func TestFieldsErrors(t *testing.T) {
	src := buildOpenTracer(t)
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Fields: []string{"pid,pidd"}}, `--fields pidd: no field "pidd": struct open_event of map rb has timestamp, pid, comm, flags, mode, fname`},
		{Options{Fields: []string{"pid,-comm"}}, "--fields pid,-comm: name the fields to print (pid,comm) or change the default ones (+pid,-comm), not both"},
		{Options{Filters: []string{"uid==0"}}, `--filter uid==0: no field "uid": struct open_event of map rb has pid, comm, flags, mode, fname`},
		{Options{Filters: []string{"pid"}}, "--filter pid: want FIELD==VALUE"},
		{Options{Filters: []string{"pid==bash"}}, `--filter pid==bash: pid is an integer; "bash" is not one`},
		{Options{Filters: []string{"comm>a"}}, "--filter comm>a: > compares numbers, and comm is not one"},
		{Options{Filters: []string{"fname~[a"}}, "--filter fname~[a: bad regular expression"},
		{Options{OutputFile: filepath.Join(t.TempDir(), "no", "such", "dir")}, "--output "},
	} {
		c.o.Stdout, c.o.Stderr = &testenv.SyncBuffer{}, &testenv.SyncBuffer{}
		err := Run(t.Context(), src.Name, src.Package, nil, &c.o)
		var fe *OutputFlagError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: error %v, want one line with %q", c.o, err, c.want)
		}
	}
}

// Text rows leave out stack addresses (printed as frames under the row)
// and their length members; --fields shows a length member and chooses
// whether frames print.
func TestFieldsStacks(t *testing.T) {
	src := buildExample(t, "profile")
	spin := func(r *running) {
		stop := time.Now().Add(400 * time.Millisecond)
		for time.Now().Before(stop) {
		}
		r.stop(t)
	}
	args := []string{"--pid", fmt.Sprint(os.Getpid()), "--kernel-stacks=false"}
	o := Options{Attach: attach.Options{Freq: 99}}

	r := start(t, src, args, o)
	spin(r)
	header, rows, _ := strings.Cut(r.out.String(), "\n")
	if !regexp.MustCompile(`^TIME +PID +TID +CPU COMM$`).MatchString(header) {
		t.Errorf("default header %q: want no stack or length columns", header)
	}
	if !strings.Contains(rows, "    [user]\n") {
		t.Errorf("no user frames under the rows:\n%s", tail(rows, 2000))
	}

	o.Fields = []string{"pid,ustack_len,ustack"}
	r = start(t, src, args, o)
	spin(r)
	header, rows, _ = strings.Cut(r.out.String(), "\n")
	if !regexp.MustCompile(`^ +PID USTACK_LEN$`).MatchString(header) {
		t.Errorf("header %q: want PID USTACK_LEN", header)
	}
	if !regexp.MustCompile(`(?m)^ +\d+ +[1-9]\d*\n    \[user\]$`).MatchString(rows) {
		t.Errorf("want rows with a frame count and the frames under them:\n%s", tail(rows, 2000))
	}

	o.Fields = []string{"pid,comm"}
	r = start(t, src, args, o)
	spin(r)
	if out := r.out.String(); strings.Contains(out, "[user]") || strings.Count(out, "\n") < 2 {
		t.Errorf("frames printed, or no rows, without ustack in --fields:\n%s", tail(out, 2000))
	}
}
