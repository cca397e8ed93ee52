// Every map and global role progscan tells apart, in the shapes
// libbpf-tools write them.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAX_SLOTS 26

struct hist {
	__u32 slots[MAX_SLOTS];
	char comm[16];
};

struct event {
	__u32 pid;
	__u64 ts;
	char comm[16];
};

struct big_event {
	__u32 pid;
	int args_size;
	char args[256];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct hist);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8);
} filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct big_event);
} heap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} handoff SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} rmw SEC(".maps");

const volatile __u32 targ_pid = 0;
__u64 total = 0;
__u64 unused_flag = 0;
struct hist ghists[4] = {};
static struct hist zero;

static __always_inline __u64 log2l(__u64 v)
{
	__u64 r = 0;
	while (v > 1 && r < 63) {
		v >>= 1;
		r++;
	}
	return r;
}

SEC("tp/sched/sched_wakeup")
int on_wakeup(void *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 ts = bpf_ktime_get_ns();
	__u32 k = 0;
	__u8 *on = bpf_map_lookup_elem(&filter, &k);
	if (on && *on && tid == targ_pid)
		return 0;
	if (unused_flag)
		return 0;
	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
	bpf_map_update_elem(&handoff, &k, &ts, BPF_ANY);
	__u64 *n = bpf_map_lookup_elem(&rmw, &k);
	if (n)
		*n = *n + ts;
	return 0;
}

SEC("tp/sched/sched_switch")
int on_switch(void *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *tsp = bpf_map_lookup_elem(&start, &tid);
	if (!tsp)
		return 0;
	__u64 delta = bpf_ktime_get_ns() - *tsp;
	__u32 zk = 0;
	__u64 *hs = bpf_map_lookup_elem(&handoff, &zk);
	if (hs)
		delta += bpf_ktime_get_ns() - *hs;
	bpf_map_delete_elem(&start, &tid);

	struct hist *h = bpf_map_lookup_elem(&hists, &tid);
	if (!h) {
		bpf_map_update_elem(&hists, &tid, &zero, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, &tid);
		if (!h)
			return 0;
		bpf_get_current_comm(&h->comm, sizeof(h->comm));
	}
	__u64 slot = log2l(delta / 1000);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	__sync_fetch_and_add(&h->slots[slot], 1);
	__sync_fetch_and_add(&ghists[tid & 3].slots[slot], 1);
	__sync_fetch_and_add(&total, 1);

	__u64 *c = bpf_map_lookup_elem(&counts, &tid);
	if (c)
		__sync_fetch_and_add(c, 1);
	else {
		__u64 one = 1;
		bpf_map_update_elem(&counts, &tid, &one, BPF_NOEXIST);
	}

	struct event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = tid;
	e->ts = delta;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	bpf_printk("switch %d", tid);
	return 0;
}

SEC("tp/syscalls/sys_enter_execve")
int on_exec(void *ctx)
{
	__u32 k = 0;
	struct big_event *e = bpf_map_lookup_elem(&heap, &k);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->args_size = bpf_probe_read_user_str(e->args, sizeof(e->args), (void *)ctx);
	if (e->args_size < 0)
		return 0;
	unsigned int len = e->args_size & 255;
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, e,
			      __builtin_offsetof(struct big_event, args) + len);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

/* libbpf-tools' compat.bpf.h: a record from the ring buffer, or from a
 * per-CPU heap on kernels without ring buffers. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 512);
} compat_heap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} compat_events SEC(".maps");

SEC("tp/syscalls/sys_enter_openat")
int on_open(void *ctx)
{
	static const int zero = 0;
	struct event *e;

	if (bpf_ktime_get_ns() & 1)
		e = bpf_ringbuf_reserve(&compat_events, sizeof(*e), 0);
	else
		e = bpf_map_lookup_elem(&compat_heap, &zero);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_ktime_get_ns() & 2)
		bpf_ringbuf_submit(e, 0);
	else
		bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, e, sizeof(*e));
	return 0;
}

/* A per-CPU heap for a long path, copied into the ring buffer record. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[4096]);
} path_heap SEC(".maps");

SEC("tp/syscalls/sys_enter_unlinkat")
int on_unlink(void *ctx)
{
	__u32 zero = 0;
	char *buf = bpf_map_lookup_elem(&path_heap, &zero);
	struct event *e;

	if (!buf)
		return 0;
	bpf_probe_read_user_str(buf, 4096, (void *)ctx);
	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e)
		return 0;
	bpf_probe_read_kernel(e->comm, sizeof(e->comm), buf);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
