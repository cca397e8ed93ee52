// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF side of runtime/wasm's tests: every exec is sent to a ring buffer
 * (rb) and a perf buffer (pb), and counted per process (execs, a hash)
 * and in total (total, a per-CPU array). scratch is for the guests' own
 * map operations.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct event {
	int pid;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} pb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} execs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} total SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, u64);
} scratch SEC(".maps");

SEC("tp/sched/sched_process_exec")
int handle_exec(void *ctx)
{
	struct event e = {};
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	u32 zero = 0;
	u64 one = 1, *v;

	e.pid = pid;
	bpf_get_current_comm(&e.comm, sizeof(e.comm));
	bpf_ringbuf_output(&rb, &e, sizeof(e), 0);
	bpf_perf_event_output(ctx, &pb, BPF_F_CURRENT_CPU, &e, sizeof(e));

	v = bpf_map_lookup_elem(&execs, &pid);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&execs, &pid, &one, BPF_NOEXIST);
	v = bpf_map_lookup_elem(&total, &zero);
	if (v)
		*v += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
