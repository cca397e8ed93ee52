// Results kept in maps and globals with no annotation, in libbpf-tools'
// style: a start map keyed by thread id (state), a histogram map whose
// value holds slots[], a counter map, a counter global, an array of
// histogram globals, and static zero values.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define MAX_SLOTS 26

struct hist {
	__u32 slots[MAX_SLOTS];
	char comm[16];
};

const volatile pid_t targ_tid = 0;
const volatile bool targ_ms = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, struct hist);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} counts SEC(".maps");

__u64 calls = 0;
struct hist by_parity[2] = {};

static struct hist zero;

static __always_inline u64 log2l(u64 v)
{
	u64 r = 0;
	for (int i = 0; i < 63 && v > 1; i++) {
		v >>= 1;
		r++;
	}
	return r;
}

SEC("tp/syscalls/sys_enter_clock_nanosleep")
int enter(void *ctx)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	u64 ts = bpf_ktime_get_ns();

	if (targ_tid && tid != targ_tid)
		return 0;
	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
	return 0;
}

SEC("tp/syscalls/sys_exit_clock_nanosleep")
int exit_(void *ctx)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	u32 tgid = bpf_get_current_pid_tgid() >> 32;
	static const u64 one = 1;
	u64 *tsp, *cnt, slot;
	struct hist *h;

	tsp = bpf_map_lookup_elem(&start, &tid);
	if (!tsp)
		return 0;
	slot = (bpf_ktime_get_ns() - *tsp) / 1000;
	if (targ_ms)
		slot /= 1000;
	slot = log2l(slot);
	bpf_map_delete_elem(&start, &tid);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;

	h = bpf_map_lookup_elem(&hists, &tgid);
	if (!h) {
		bpf_map_update_elem(&hists, &tgid, &zero, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, &tgid);
		if (!h)
			return 0;
		bpf_get_current_comm(&h->comm, sizeof(h->comm));
	}
	__sync_fetch_and_add(&h->slots[slot], 1);

	cnt = bpf_map_lookup_elem(&counts, &tgid);
	if (cnt)
		*cnt += 1;
	else
		bpf_map_update_elem(&counts, &tgid, &one, BPF_NOEXIST);

	__sync_fetch_and_add(&calls, 1);
	__sync_fetch_and_add(&by_parity[tid & 1].slots[slot], 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
