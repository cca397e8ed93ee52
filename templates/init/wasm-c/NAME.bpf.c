// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * [[.Name]] (Wasm template) - one ring buffer record per successful exec(),
 * read by a Wasm guest (main.c or main.go) instead of ecli's own printer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "ecc.h"
#include "[[.Name]].h"

/// One record per exec, see struct event in [[.Name]].h
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

ECC_EXPORT(events, struct event);

SEC("tp/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	unsigned int fname_off = ctx->__data_loc_filename & 0xFFFF;
	struct event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (u32)bpf_get_current_uid_gid();
	e->ts_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)ctx + fname_off);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/// @brief Print every program started through exec(), from a Wasm guest
/// @version 0.1.0
char LICENSE[] SEC("license") = "Dual BSD/GPL";
