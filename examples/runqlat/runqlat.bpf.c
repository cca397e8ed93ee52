// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * runqlat - how long runnable tasks wait for a CPU (run-queue latency).
 *
 * A task becomes runnable when it is woken up (sched_wakeup,
 * sched_wakeup_new) or when it is preempted while still runnable
 * (sched_switch with prev in TASK_RUNNING).  The time until sched_switch
 * picks it as `next` is its run-queue latency, which goes into a power-of-two
 * histogram in microseconds.
 *
 * Histogram layout (the log2_hist convention understood by ecli):
 *   map `hists`: key u32 = 0 for the system-wide histogram, or the process /
 *   thread id with --per-process / --per-thread; value struct hist whose
 *   `slots[i]` counts latencies v with 2^i <= v < 2^(i+1) usecs (slot 0 also
 *   holds v = 0) and whose `comm` names the task for per-task histograms.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define RUNQLAT_MAX_SLOTS 26
#define RUNQLAT_COMM_LEN 16
#define RUNQLAT_MAX_ENTRIES 10240
#define RUNQLAT_TASK_RUNNING 0

/* One histogram: slots[i] counts latencies in [2^i, 2^(i+1)) usecs. */
struct hist {
	__u32 slots[RUNQLAT_MAX_SLOTS];
	char comm[RUNQLAT_COMM_LEN];
};

/// Keep one histogram per process (key: process id)
/// @cmdarg {"default": false, "short": "P", "long": "per-process"}
const volatile bool targ_per_process = false;

/// Keep one histogram per thread (key: thread id)
/// @cmdarg {"default": false, "short": "L", "long": "per-thread"}
const volatile bool targ_per_thread = false;

/// Measure only this process id (0: every process)
/// @cmdarg {"default": 0, "short": "p", "long": "pid"}
const volatile int targ_pid = 0;

/// Enqueue timestamp (ns) of each runnable thread, by thread id
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RUNQLAT_MAX_ENTRIES);
	__type(key, u32);
	__type(value, u64);
} start SEC(".maps");

/// Run-queue latency histograms, by process/thread id or 0 for all tasks
/// @sample {"interval": 1000, "type": "log2_hist", "unit": "usecs", "clear_map": false}
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RUNQLAT_MAX_ENTRIES);
	__type(key, u32);
	__type(value, struct hist);
} hists SEC(".maps");

/* Kernels before 5.14 called task_struct::__state just `state`. */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline unsigned int task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return (unsigned int)BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

/* floor(log2(v)), with 0 for v == 0. */
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

static __always_inline int mark_runnable(struct task_struct *p)
{
	u32 tgid = BPF_CORE_READ(p, tgid);
	u32 tid = BPF_CORE_READ(p, pid);
	u64 now;

	if (tid == 0)	/* the idle task never waits */
		return 0;
	if (targ_pid && tgid != (u32)targ_pid)
		return 0;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &now, BPF_ANY);
	return 0;
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(handle_sched_wakeup, struct task_struct *p)
{
	return mark_runnable(p);
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(handle_sched_wakeup_new, struct task_struct *p)
{
	return mark_runnable(p);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(handle_sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	struct hist *h;
	u64 *tsp, delta_us;
	u32 tid, key, slot;

	/* a preempted task goes straight back onto the run queue */
	if (task_state(prev) == RUNQLAT_TASK_RUNNING)
		mark_runnable(prev);

	tid = BPF_CORE_READ(next, pid);
	tsp = bpf_map_lookup_elem(&start, &tid);
	if (!tsp)
		return 0;
	delta_us = (bpf_ktime_get_ns() - *tsp) / 1000;
	bpf_map_delete_elem(&start, &tid);

	if (targ_per_process)
		key = BPF_CORE_READ(next, tgid);
	else if (targ_per_thread)
		key = tid;
	else
		key = 0;

	h = bpf_map_lookup_elem(&hists, &key);
	if (!h) {
		struct hist empty = {};

		bpf_map_update_elem(&hists, &key, &empty, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, &key);
		if (!h)
			return 0;
		if (key != 0)
			BPF_CORE_READ_STR_INTO(&h->comm, next, comm);
	}

	slot = log2_floor(delta_us);
	if (slot >= RUNQLAT_MAX_SLOTS)
		slot = RUNQLAT_MAX_SLOTS - 1;
	__sync_fetch_and_add(&h->slots[slot], 1);
	return 0;
}

/// @brief Summarize run-queue (scheduler) latency as a histogram
/// @details Measures the time from a task becoming runnable (wakeup or
/// preemption) until it runs on a CPU, and prints a log2 histogram in
/// microseconds every second, system wide or per process/thread.
/// @version 0.1.0
char LICENSE[] SEC("license") = "Dual BSD/GPL";
