// Throughput probe for bench/: one 128-byte event per getppid() of one
// process, through a ring buffer large enough to hold a whole run, so that
// the reader's speed, not the buffer, decides whether events are lost.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <ecc.h>

struct event {
	__u64 ts;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__s32 seq;
	char comm[16];
	char note[80];
	__u64 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 << 20);
} events SEC(".maps");
ECC_EXPORT(events, struct event);

/// Process whose getppid() calls are reported
const volatile __u32 targ_pid = 0;

/// Events the ring buffer had no room for
__u64 dropped = 0;

SEC("tp/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if ((__u32)(id >> 32) != targ_pid)
		return 0;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	e->ts = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->seq = (__s32)(e->ts & 0x7fffffff);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	__builtin_memcpy(e->note, "throughput", 11);
	e->flags = 0x2a;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
