// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * exitsnoop - report process exits with their status and lifetime.
 *
 * Uses the BTF-typed tracepoint sched_process_exit (tp_btf), which hands the
 * exiting task_struct to the program.  task->exit_code is already set at that
 * point in do_exit(): bits 8..15 hold the exit status, bits 0..6 the
 * terminating signal and bit 7 the core-dump flag.  The lifetime is measured
 * from task->start_time, which uses the same clock as bpf_ktime_get_ns().
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ecc.h"
#include "exitsnoop.h"

/// Report only this process id (0: every process)
/// @cmdarg {"default": 0, "short": "p", "long": "pid"}
const volatile int targ_pid = 0;

/// Report the exit of every thread, not only of whole processes
/// @cmdarg {"default": false, "short": "t", "long": "threads"}
const volatile bool trace_threads = false;

/// Report only exits with a non-zero status or a signal
/// @cmdarg {"default": false, "short": "x", "long": "failed"}
const volatile bool trace_failed_only = false;

/// One record per exit, see struct event in exitsnoop.h
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* keep struct event in the object's BTF even without the export header */
ECC_EXPORT(events, struct event);

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *task)
{
	int pid = BPF_CORE_READ(task, tgid);
	int tid = BPF_CORE_READ(task, pid);
	int code;
	struct event *e;

	if (!trace_threads && pid != tid)
		return 0;
	if (targ_pid && pid != targ_pid)
		return 0;

	code = BPF_CORE_READ(task, exit_code);
	if (trace_failed_only && code == 0)
		return 0;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;

	e->pid = pid;
	e->tid = tid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->exit_code = (code >> 8) & 0xff;
	e->sig = code & 0x7f;
	e->core_dumped = (code & 0x80) ? 1 : 0;
	e->duration_ns = bpf_ktime_get_ns() - BPF_CORE_READ(task, start_time);
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);

	bpf_ringbuf_submit(e, 0);
	return 0;
}

/// @brief Trace process exits with exit status and lifetime
/// @details Prints pid, tid, parent pid, exit status, terminating signal and
/// age of every exiting process (or thread with --threads).
/// @version 0.1.0
char LICENSE[] SEC("license") = "Dual BSD/GPL";
