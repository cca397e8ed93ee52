// A package the test VM's kernel (Debian 6.1) only partly runs: the
// tracepoint attaches and fires, the kprobe.multi program needs fprobe
// (CONFIG_FPROBE, off there), and the verifier refuses bad_lookup (a map
// value used without a NULL check). ecc test must report each, fail the
// kernel and exit 1.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct event {
	__u32 pid;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct event *unused_event __attribute__((unused));

SEC("tp/sched/sched_process_exec")
int on_exec(void *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("kprobe.multi/do_unlinkat")
int on_unlink_multi(void *ctx)
{
	return 0;
}

SEC("tp/syscalls/sys_enter_unlinkat")
int bad_lookup(void *ctx)
{
	__u32 key = bpf_get_current_pid_tgid() >> 32;
	__u64 *v = bpf_map_lookup_elem(&counts, &key);
	*v += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
