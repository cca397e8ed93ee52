package runtime

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/source"
)

// buildWithHeader compiles a C source and its export header written by
// the test, as `ecc build NAME.bpf.c NAME.h` does.
func buildWithHeader(t *testing.T, name, code, header string) *source.Source {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, name+".bpf.c")
	hdr := filepath.Join(dir, name+".h")
	os.WriteFile(src, []byte(code), 0o644)
	os.WriteFile(hdr, []byte(header), 0o644)
	return buildPackage(t, src, hdr)
}

// checkStamp checks that a -j line starts with a timestamp key holding
// RFC 3339 time with nanoseconds, close to now.
func checkStamp(t *testing.T, line, key string) {
	t.Helper()
	prefix := `{"` + key + `":"`
	if !strings.HasPrefix(line, prefix) {
		t.Fatalf("line does not start with %s: %s", prefix, line)
	}
	v := line[len(prefix):]
	v = v[:strings.IndexByte(v, '"')]
	ts, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		t.Fatalf("%s %q: %v", key, v, err)
	}
	if d := time.Since(ts); d < 0 || d > time.Minute {
		t.Errorf("%s %s is %v away from now", key, v, d)
	}
}

// rawLines returns the output lines that contain s.
func rawLines(out, s string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			lines = append(lines, l)
		}
	}
	return lines
}

const netHeader = `#include <ecc.h>
struct event {
	__u32 saddr;		/* IPv4 as the kernel stores it */
	__u32 daddr;
	union {
		__u32 src_ip_v4;
		__u8 src_ip_v6[16];
	};
	union {
		__u32 dst_ip_v4;
		__u8 dst_ip_v6[16];
	};
	ecc_ip_t peer;
	/// @format ipv6
	__u8 raw6[16];
	/// @format be
	__u16 lport_be;
	__u16 af;
	__be16 dport_be;
	__u16 sport;		/* host order, as the tracepoint gives it */
	__u16 dport;
	__u32 pid;
	char comm[16];
};
`

const netSource = prelude + `#include <bpf/bpf_endian.h>
#include "net.h"
#define AF_INET 2
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 20); } events SEC(".maps");

SEC("tp/sock/inet_sock_set_state")
int on_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol != IPPROTO_TCP || ctx->oldstate != TCP_SYN_SENT || ctx->newstate != TCP_ESTABLISHED)
		return 0;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	bpf_probe_read_kernel(&e->saddr, 4, ctx->saddr);
	bpf_probe_read_kernel(&e->daddr, 4, ctx->daddr);
	e->af = ctx->family;
	if (ctx->family == AF_INET) {
		e->src_ip_v4 = e->saddr;
		e->dst_ip_v4 = e->daddr;
		e->peer.v4 = e->daddr;
	} else {
		bpf_probe_read_kernel(e->src_ip_v6, 16, ctx->saddr_v6);
		bpf_probe_read_kernel(e->dst_ip_v6, 16, ctx->daddr_v6);
		bpf_probe_read_kernel(e->peer.v6, 16, ctx->daddr_v6);
	}
	bpf_probe_read_kernel(e->raw6, 16, ctx->daddr_v6);
	e->lport_be = bpf_htons(ctx->sport);
	e->dport_be = bpf_htons(ctx->dport);
	e->sport = ctx->sport;
	e->dport = ctx->dport;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}
`

// connectTo opens a listener on addr, connects to it and returns the
// listening and the local (client) port.
func connectTo(t *testing.T, network, addr string) (port, local int) {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		testenv.Missing(t, "listen on %s: %v", addr, err)
	}
	defer ln.Close()
	c, err := net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return ln.Addr().(*net.TCPAddr).Port, c.LocalAddr().(*net.TCPAddr).Port
}

// A libbpf-tools-style TCP tracer: addresses print as text (by member
// name, by <ecc.h> type, by @format), __be16 ports in host order, __u16
// ports as they are; the family member picks v4 or v6.
func TestNetAddresses(t *testing.T) {
	src := buildWithHeader(t, "net", netSource, netHeader)
	for _, et := range src.Package.Meta.ExportTypes {
		for _, m := range et.Members {
			if m.Name == "raw6" && m.Format != "ipv6" || m.Name == "lport_be" && m.Format != "be" {
				t.Errorf("member %s: format %q in the metadata", m.Name, m.Format)
			}
		}
	}
	r := start(t, src, nil, Options{JSON: true})

	port, local := connectTo(t, "tcp4", "127.0.0.1:0")
	ev := r.waitFor(t, "IPv4 connect", func(m map[string]any) bool { return num(m["dport"]) == int64(port) })
	want := map[string]any{
		"saddr": "127.0.0.1", "daddr": "127.0.0.1", "src_ip_v4": "127.0.0.1", "dst_ip_v4": "127.0.0.1",
		"peer": "127.0.0.1", "raw6": "::ffff:127.0.0.1", "af": float64(2),
		"dport_be": float64(port), "dport": float64(port), "sport": float64(local), "lport_be": float64(local),
		"pid": float64(os.Getpid()),
	}
	for k, v := range want {
		if ev[k] != v {
			t.Errorf("IPv4 %s = %v (%T), want %v", k, ev[k], ev[k], v)
		}
	}
	for _, k := range []string{"src_ip_v6", "dst_ip_v6"} {
		if _, ok := ev[k]; ok {
			t.Errorf("IPv4 event has %s: %v", k, ev)
		}
	}
	line := rawLines(r.out.String(), fmt.Sprintf(`"dport":%d,`, port))[0]
	checkStamp(t, line, "timestamp")

	port6, local6 := connectTo(t, "tcp6", "[::1]:0")
	ev = r.waitFor(t, "IPv6 connect", func(m map[string]any) bool { return num(m["dport"]) == int64(port6) })
	want = map[string]any{
		"src_ip_v6": "::1", "dst_ip_v6": "::1", "peer": "::1", "raw6": "::1", "af": float64(10),
		"dport_be": float64(port6), "sport": float64(local6), "lport_be": float64(local6),
	}
	for k, v := range want {
		if ev[k] != v {
			t.Errorf("IPv6 %s = %v, want %v", k, ev[k], v)
		}
	}
	for _, k := range []string{"src_ip_v4", "dst_ip_v4"} {
		if _, ok := ev[k]; ok {
			t.Errorf("IPv6 event has %s: %v", k, ev)
		}
	}
	r.stop(t)

	// Text: one column per address pair, values as in JSON.
	r = start(t, src, nil, Options{})
	port, local = connectTo(t, "tcp4", "127.0.0.1:0")
	port6, _ = connectTo(t, "tcp6", "[::1]:0")
	rows := map[int]map[string]string{}
	var header []string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && (rows[port] == nil || rows[port6] == nil) {
		time.Sleep(50 * time.Millisecond)
		lines := strings.Split(r.out.String(), "\n")
		header = strings.Fields(lines[0])
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			if len(f) != len(header) {
				continue
			}
			row := map[string]string{}
			for i, h := range header {
				row[h] = f[i]
			}
			p, _ := strconv.Atoi(row["DPORT"])
			rows[p] = row
		}
	}
	if got := strings.Join(header, " "); got != "TIME SADDR DADDR SRC_IP DST_IP PEER RAW6 LPORT_BE AF DPORT_BE SPORT DPORT PID COMM" {
		t.Fatalf("header %q", got)
	}
	if rows[port] == nil || rows[port6] == nil {
		t.Fatalf("no rows for ports %d and %d:\n%s", port, port6, tail(r.out.String(), 3000))
	}
	for k, v := range map[string]string{"SADDR": "127.0.0.1", "SRC_IP": "127.0.0.1", "DST_IP": "127.0.0.1", "PEER": "127.0.0.1",
		"RAW6": "::ffff:127.0.0.1", "DPORT_BE": strconv.Itoa(port), "SPORT": strconv.Itoa(local), "LPORT_BE": strconv.Itoa(local)} {
		if rows[port][k] != v {
			t.Errorf("text IPv4 %s = %q, want %q", k, rows[port][k], v)
		}
	}
	for k, v := range map[string]string{"SRC_IP": "::1", "DST_IP": "::1", "PEER": "::1", "RAW6": "::1", "DPORT_BE": strconv.Itoa(port6)} {
		if rows[port6][k] != v {
			t.Errorf("text IPv6 %s = %q, want %q", k, rows[port6][k], v)
		}
	}
}

const varlenHeader = `#define ARGSZ 128
#define MAXARGS 4
struct event {
	__u64 time;
	int pid;
	int args_count;
	unsigned int args_size;
	char comm[16];
	char args[ARGSZ * MAXARGS];
};
`

const varlenSource = prelude + `#include "varlen.h"
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 1); __type(key, u32); __type(value, struct event); } heap SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 20); } events SEC(".maps");

SEC("tp/syscalls/sys_enter_execve")
int on_exec(struct trace_event_raw_sys_enter *ctx)
{
	u32 zero = 0;
	struct event *e = bpf_map_lookup_elem(&heap, &zero);
	if (!e)
		return 0;
	e->time = bpf_ktime_get_ns();
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	const char **argv = (const char **)ctx->args[1];
	unsigned int size = 0;
	e->args_count = 0;
	for (int i = 0; i < MAXARGS; i++) {
		const char *arg = 0;
		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			break;
		if (size > ARGSZ * (MAXARGS - 1))
			break;
		long n = bpf_probe_read_user_str(&e->args[size], ARGSZ, arg);
		if (n <= 0)
			break;
		size += n;
		e->args_count++;
	}
	e->args_size = size;
	/* libbpf-tools' execsnoop: only the arguments there are. */
	size += __builtin_offsetof(struct event, args);
	if (size > sizeof(*e))
		return 0;
	bpf_ringbuf_output(&events, e, size, 0);
	return 0;
}
`

// Variable-length records (offsetof(args) + args_size, as libbpf-tools'
// execsnoop sends them) decode as far as they go: one event per exec, the
// run goes on. A member named time replaces ecli's TIME column in text;
// -j lines carry a timestamp.
func TestVariableLengthRecords(t *testing.T) {
	src := buildWithHeader(t, "varlen", varlenSource, varlenHeader)
	dir := t.TempDir()
	bin := filepath.Join(dir, "ecc-varlen-"+strconv.Itoa(os.Getpid()))
	data, _ := os.ReadFile("/bin/true")
	os.WriteFile(bin, data, 0o755)

	r := start(t, src, nil, Options{JSON: true})
	const n = 5
	for i := range n {
		if err := exec.Command(bin, "arg-"+strconv.Itoa(i)).Run(); err != nil {
			t.Fatal(err)
		}
	}
	count := func() (int, map[string]any) {
		c := 0
		var last map[string]any
		for _, m := range r.out.JSONLines() {
			if m["args"] == bin {
				c++
				last = m
			}
		}
		return c, last
	}
	r.waitFor(t, "exec of "+bin, func(m map[string]any) bool { c, _ := count(); return c >= n })
	time.Sleep(300 * time.Millisecond)
	c, ev := count()
	if c != n {
		t.Errorf("%d events for %d execs of %s", c, n, bin)
	}
	if num(ev["args_count"]) != 2 || num(ev["args_size"]) != int64(len(bin)+1+len("arg-4")+1) {
		t.Errorf("event %v", ev)
	}
	if num(ev["time"]) == 0 {
		t.Errorf("no time member: %v", ev)
	}
	line := rawLines(r.out.String(), `"args":"`+bin+`"`)[0]
	checkStamp(t, line, "timestamp")
	select {
	case err := <-r.done:
		r.done <- err
		t.Fatalf("the run ended: %v\nstderr: %s", err, r.errs.String())
	default:
	}
	r.stop(t)
	if strings.Contains(r.errs.String(), "shorter than the first member") {
		t.Errorf("stderr: %s", r.errs.String())
	}

	// Text: the struct's time member is the only TIME column.
	r = start(t, src, nil, Options{})
	exec.Command(bin, "text").Run()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && len(rawLines(r.out.String(), bin)) == 0 {
		time.Sleep(50 * time.Millisecond)
	}
	lines := strings.Split(r.out.String(), "\n")
	if got := strings.Join(strings.Fields(lines[0]), " "); got != "TIME PID ARGS_COUNT ARGS_SIZE COMM ARGS" {
		t.Errorf("header %q", lines[0])
	}
	rows := rawLines(r.out.String(), bin)
	if len(rows) != 1 {
		t.Fatalf("rows for %s: %q\n%s", bin, rows, tail(r.out.String(), 2000))
	}
	f := strings.Fields(rows[0])
	if len(f) != 6 || f[5] != bin || f[2] != "2" {
		t.Errorf("row %q", rows[0])
	}
	if _, err := strconv.ParseUint(f[0], 10, 64); err != nil {
		t.Errorf("row does not start with the time member: %q", rows[0])
	}
}

const iterHeader = `struct task_rec {
	__u32 pid;
	char comm[16];
};
`

const iterSource = prelude + `#include "iter.h"
SEC("iter/task")
int dump_task(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct task_rec r = {};
	if (!task || task->pid != task->tgid)
		return 0;
	r.pid = task->tgid;
	bpf_probe_read_kernel_str(r.comm, sizeof(r.comm), task->comm);
	bpf_seq_write(seq, &r, sizeof(r));
	return 0;
}
`

// An iterator that writes structs with bpf_seq_write prints them decoded,
// one per record.
func TestIteratorRecords(t *testing.T) {
	src := buildWithHeader(t, "iter", iterSource, iterHeader)
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	me := strings.TrimSpace(string(comm))
	r := start(t, src, nil, Options{JSON: true})
	ev := r.waitFor(t, "this process", func(m map[string]any) bool { return num(m["pid"]) == int64(os.Getpid()) })
	if ev["comm"] != me {
		t.Errorf("comm %q, want %q", ev["comm"], me)
	}
	lines := r.out.JSONLines()
	if len(lines) < 3 {
		t.Errorf("%d records", len(lines))
	}
	for _, m := range lines {
		if m["comm"] == "" || num(m["pid"]) <= 0 {
			t.Errorf("record %v", m)
		}
	}
	checkStamp(t, strings.SplitN(r.out.String(), "\n", 2)[0], "timestamp")
	r.stop(t)

	r = start(t, src, nil, Options{})
	r.stop(t)
	out := r.out.String()
	if !strings.HasPrefix(out, "TIME     ") || !strings.Contains(strings.SplitN(out, "\n", 2)[0], "PID") {
		t.Fatalf("text header: %q", tail(out, 500))
	}
	found := false
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && f[1] == strconv.Itoa(os.Getpid()) && f[2] == me {
			found = true
		}
	}
	if !found {
		t.Errorf("no row for pid %d (%s):\n%s", os.Getpid(), me, tail(out, 2000))
	}
}
