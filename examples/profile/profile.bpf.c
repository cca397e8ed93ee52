// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * profile - sample on-CPU stacks at a fixed rate.
 *
 * The program runs from a perf event (the runtime opens a software
 * cpu-clock event per CPU) and captures, for the interrupted task, its
 * kernel and user call stacks with bpf_get_stack() straight into a ring
 * buffer record.  Shipping raw addresses in the record keeps it
 * self-contained: no stack-id map to look up later and no lost stacks from
 * hash collisions, so a generic runtime only needs kallsyms and the
 * process' memory maps to symbolise it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ecc.h"
#include "profile.h"

/// Sample only this process id (0: every process)
/// @cmdarg {"default": 0, "short": "p", "long": "pid"}
const volatile int targ_pid = 0;

/// Capture user-space stacks
/// @cmdarg {"default": true, "short": "U", "long": "user-stacks"}
const volatile bool user_stacks = true;

/// Capture kernel stacks
/// @cmdarg {"default": true, "short": "K", "long": "kernel-stacks"}
const volatile bool kernel_stacks = true;

/// Also record samples that hit the idle task (pid 0)
/// @cmdarg {"default": false, "short": "I", "long": "idle"}
const volatile bool include_idle = false;

/// Stack samples, see struct event in profile.h
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} events SEC(".maps");

ECC_EXPORT(events, struct event);

SEC("perf_event")
int do_sample(struct bpf_perf_event_data *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	int pid = id >> 32;
	long n;
	struct event *e;

	if (pid == 0 && !include_idle)
		return 0;
	if (targ_pid && pid != targ_pid)
		return 0;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;

	e->pid = pid;
	e->tid = (u32)id;
	e->cpu = bpf_get_smp_processor_id();
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	/*
	 * bpf_get_stack() zeroes the unused tail of the buffer (all of it on
	 * error); a stack that is not taken is zeroed here, so records never
	 * carry stale ring buffer contents.
	 */
	e->kstack_len = 0;
	if (kernel_stacks) {
		n = bpf_get_stack(ctx, e->kstack, sizeof(e->kstack), 0);
		if (n > 0)
			e->kstack_len = n / sizeof(e->kstack[0]);
	} else {
		__builtin_memset(e->kstack, 0, sizeof(e->kstack));
	}

	e->ustack_len = 0;
	/* the idle task (pid 0) has no user stack */
	if (user_stacks && pid != 0) {
		n = bpf_get_stack(ctx, e->ustack, sizeof(e->ustack), BPF_F_USER_STACK);
		if (n > 0)
			e->ustack_len = n / sizeof(e->ustack[0]);
	} else {
		__builtin_memset(e->ustack, 0, sizeof(e->ustack));
	}

	bpf_ringbuf_submit(e, 0);
	return 0;
}

/// @brief Sample on-CPU kernel and user stacks
/// @details Runs on a periodic cpu-clock perf event on every CPU and sends
/// the interrupted task's pid, command name and raw kernel/user stack
/// addresses for symbolisation in user space.
/// @version 0.1.0
char LICENSE[] SEC("license") = "Dual BSD/GPL";
