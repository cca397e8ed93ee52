// SPDX-License-Identifier: GPL-2.0
/*
 * A test object for metadata extraction (not a useful tool): an export
 * header, globals of every data section with defaults, descriptions and
 * @cmdarg, a static the extraction leaves out, a @sample map and doc
 * comments above LICENSE. Rebuild: go generate ./packager/extract.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "events.h"

/// Trace only this process id (0: every process)
/// @cmdarg {"default": 0, "short": "p", "long": "pid"}
const volatile int targ_pid = 0;

/// Report failed calls too
/// @cmdarg {"default": false, "long": "failed"}
const volatile bool targ_failed = false;

/// Name to match
const volatile char targ_comm[COMM_LEN] = "bash";

/// Minimum duration in nanoseconds
const volatile __u64 min_ns = 1000000;

/// Events seen so far
__u64 seen = 0;

/// Mode of operation
int mode = 2;

/* static: the program's own, not a setting */
static volatile int calls = 7;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/// Durations, by slot
/// @sample {"interval": 1000, "type": "log2_hist", "unit": "nsecs"}
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, u64);
} hists SEC(".maps");

SEC("tp/sched/sched_process_exec")
int handle_exec(void *ctx)
{
	struct event *e;
	int pid = bpf_get_current_pid_tgid() >> 32;

	if (targ_pid && pid != targ_pid)
		return 0;
	calls++;
	__sync_fetch_and_add(&seen, 1);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = pid;
	e->flags = mode + targ_failed;
	e->ts_ns = bpf_ktime_get_ns() + min_ns;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (e->comm[0] != targ_comm[0])
		e->flags |= 1;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("raw_tp/sched_switch")
int handle_switch(void *ctx)
{
	u32 key = 0;
	u64 one = 1, *v = bpf_map_lookup_elem(&hists, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&hists, &key, &one, BPF_ANY);
	return 0;
}

/// @brief Extraction test object
/// @version 1.2.3
/// @details Not for running.
char LICENSE[] SEC("license") = "GPL";
