// The sizes of read(2) calls of one process as a log2 histogram, the
// count of its reads per thread as a key-value map, both cleared every
// 200 ms, and one ring buffer event per read: what ecli run --metrics
// serves (runtime/metrics_kernel_test.go).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define MAX_SLOTS 32

struct hist {
	__u32 slots[MAX_SLOTS];
};

struct event {
	__u32 pid;
	__s64 ret;
};

/// Process to watch
/// @cmdarg {"default": 0, "long": "tgid"}
const volatile __u32 targ_tgid = 0;

/// Bytes each read returned, by process
/// @sample {"interval": 200, "type": "log2_hist", "unit": "bytes", "clear_map": true}
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct hist);
} sizes SEC(".maps");

/// Reads by thread
/// @sample {"interval": 200, "type": "default_kv", "clear_map": true}
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} reads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} rb SEC(".maps");

static struct hist zero;

static __always_inline __u32 log2l(__u64 v)
{
	__u32 r = 0;
	for (int i = 0; i < 63 && v > 1; i++) {
		v >>= 1;
		r++;
	}
	return r;
}

SEC("tp/syscalls/sys_exit_read")
int read_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	__s64 ret = ctx->ret;
	struct event *e;
	struct hist *h;
	__u64 *n, one = 1;
	__u32 slot;

	if (tgid != targ_tgid || ret < 0)
		return 0;
	slot = log2l(ret);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	h = bpf_map_lookup_elem(&sizes, &tgid);
	if (!h) {
		bpf_map_update_elem(&sizes, &tgid, &zero, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&sizes, &tgid);
		if (!h)
			return 0;
	}
	__sync_fetch_and_add(&h->slots[slot], 1);
	n = bpf_map_lookup_elem(&reads, &tid);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&reads, &tid, &one, BPF_NOEXIST);
	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = tgid;
	e->ret = ret;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
