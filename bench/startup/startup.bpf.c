// Start-up probe for bench/: the same work as the bpftrace one-liner it is
// compared with, counting execs on tracepoint sched:sched_process_exec.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/// @sample {"interval": 1000, "type": "default_kv"}
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} execs SEC(".maps");

SEC("tp/sched/sched_process_exec")
int count_exec(void *ctx)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&execs, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
