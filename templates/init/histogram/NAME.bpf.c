// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * [[.Name]] - how long system calls take, as a power-of-two histogram in
 * microseconds, printed every second.
 *
 * The raw_syscalls:sys_enter tracepoint stores the entry time per thread;
 * raw_syscalls:sys_exit computes the latency and adds one to its slot. The
 * histogram lives in a map that ecli reads and prints on its own: the
 * `@sample` comment above it says how (type log2_hist, every 1000 ms), and
 * the map's value follows ecli's histogram convention, an integer array
 * named `slots` where slots[i] counts values v with 2^i <= v < 2^(i+1).
 *
 * Doc comments (`///`) above globals become metadata in the package: the
 * text describes the global, `@cmdarg` turns a `const volatile` global into
 * a flag of `ecli run`, `@sample` makes ecli print a map periodically
 * (log2_hist, linear_hist or default_kv), and `@brief`/`@details`/`@version`
 * above LICENSE document the tool (`ecli run build/package.json --help`).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define HIST_SLOTS 27
#define HIST_COMM_LEN 16

/* One histogram: slots[i] counts latencies in [2^i, 2^(i+1)) usecs. */
struct hist {
	__u32 slots[HIST_SLOTS];
	char comm[HIST_COMM_LEN];   /* the process, with --per-process */
};

/// Only measure this process id (0: every process)
/// @cmdarg {"default": 0, "short": "p", "long": "pid"}
const volatile int targ_pid = 0;

/// Only measure this system call number (-1: every system call)
/// @cmdarg {"default": -1, "short": "s", "long": "syscall"}
const volatile int targ_syscall = -1;

/// One histogram per process (key: process id) instead of one for all (key 0)
/// @cmdarg {"default": false, "short": "P", "long": "per-process"}
const volatile bool per_process = false;

/// Entry time (ns) of the system call each thread is in, by thread id
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} start SEC(".maps");

/// System call latency histograms, by process id (or 0 for all)
/// @sample {"interval": 1000, "type": "log2_hist", "unit": "usecs", "clear_map": false}
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, struct hist);
} hists SEC(".maps");

/* floor(log2(v)), 0 for v == 0 */
static __always_inline u32 log2_floor(u64 v)
{
	u32 r = 0;

	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8)  { v >>= 8;  r += 8; }
	if (v >> 4)  { v >>= 4;  r += 4; }
	if (v >> 2)  { v >>= 2;  r += 2; }
	if (v >> 1)  { r += 1; }
	return r;
}

SEC("tp/raw_syscalls/sys_enter")
int handle_enter(struct trace_event_raw_sys_enter *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = (u32)id;
	u64 now;

	if (targ_pid && (u32)(id >> 32) != (u32)targ_pid)
		return 0;
	if (targ_syscall >= 0 && ctx->id != targ_syscall)
		return 0;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &now, BPF_ANY);
	return 0;
}

SEC("tp/raw_syscalls/sys_exit")
int handle_exit(struct trace_event_raw_sys_exit *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = (u32)id, key = 0, slot;
	struct hist *h;
	u64 *tsp, delta_us;

	tsp = bpf_map_lookup_elem(&start, &tid);
	if (!tsp)
		return 0;
	delta_us = (bpf_ktime_get_ns() - *tsp) / 1000;
	bpf_map_delete_elem(&start, &tid);

	if (per_process)
		key = id >> 32;
	h = bpf_map_lookup_elem(&hists, &key);
	if (!h) {
		struct hist empty = {};

		bpf_map_update_elem(&hists, &key, &empty, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, &key);
		if (!h)
			return 0;
		if (per_process)
			bpf_get_current_comm(h->comm, sizeof(h->comm));
	}
	slot = log2_floor(delta_us);
	if (slot >= HIST_SLOTS)
		slot = HIST_SLOTS - 1;
	__sync_fetch_and_add(&h->slots[slot], 1);
	return 0;
}

/// @brief Summarize system call latency as a histogram
/// @details Measures the time from entering to leaving every system call and
/// prints a log2 histogram in microseconds every second, for the whole
/// system or per process, optionally for one process or system call.
/// @version 0.1.0
char LICENSE[] SEC("license") = "Dual BSD/GPL";
