// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * [[.Name]] - a sampling CPU profiler: which code is running, how often.
 *
 * `SEC("perf_event")` programs run from a perf event: ecli opens a
 * software cpu-clock event on every CPU at `--freq HZ` (default 49) and
 * attaches the program to each. Every tick, the program records the
 * interrupted task with its kernel and user call stacks (bpf_get_stack())
 * in a ring buffer record; ecli symbolises the addresses. User stacks are
 * only as deep as the program's frame pointers allow: build what you profile
 * with -fno-omit-frame-pointer.
 *
 * Doc comments (`///`) above globals become metadata in the package: the
 * text describes the global, `@cmdarg` turns a `const volatile` global into
 * a flag of `ecli run`, and `@brief`/`@details`/`@version` above LICENSE
 * document the tool (`ecli run build/package.json --help`).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "[[.Name]].h"

/// Only sample this process id (0: every process)
/// @cmdarg {"default": 0, "short": "p", "long": "pid"}
const volatile int targ_pid = 0;

/// Capture kernel stacks
/// @cmdarg {"default": true, "short": "K", "long": "kernel-stacks"}
const volatile bool kernel_stacks = true;

/// Capture user stacks
/// @cmdarg {"default": true, "short": "U", "long": "user-stacks"}
const volatile bool user_stacks = true;

/// Stack samples, see struct event in [[.Name]].h
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} events SEC(".maps");

SEC("perf_event")
int do_sample(struct bpf_perf_event_data *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	int pid = id >> 32;
	struct event *e;
	long n;

	if (pid == 0)	/* the idle task */
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

	/* bpf_get_stack() returns bytes written and zeroes the rest */
	e->kstack_len = 0;
	n = kernel_stacks ? bpf_get_stack(ctx, e->kstack, sizeof(e->kstack), 0) : -1;
	if (n > 0)
		e->kstack_len = n / sizeof(e->kstack[0]);
	else
		__builtin_memset(e->kstack, 0, sizeof(e->kstack));

	e->ustack_len = 0;
	n = user_stacks ? bpf_get_stack(ctx, e->ustack, sizeof(e->ustack), BPF_F_USER_STACK) : -1;
	if (n > 0)
		e->ustack_len = n / sizeof(e->ustack[0]);
	else
		__builtin_memset(e->ustack, 0, sizeof(e->ustack));

	bpf_ringbuf_submit(e, 0);
	return 0;
}

/// @brief Sample on-CPU kernel and user stacks
/// @details Runs on a cpu-clock perf event on every CPU (ecli run --freq HZ)
/// and reports the interrupted task's pid, command and call stacks, which
/// ecli symbolises.
/// @version 0.1.0
char LICENSE[] SEC("license") = "Dual BSD/GPL";
