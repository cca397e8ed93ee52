// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * [[.Name]] - report every program started with exec().
 *
 * The sched:sched_process_exec tracepoint fires once the new program image
 * is in place, so only successful execs are seen and the task already has
 * its new name. Each exec becomes one `struct event` ([[.Name]].h) in the
 * `events` ring buffer, which ecli decodes and prints.
 *
 * Doc comments (`///`) above globals become metadata that ecc puts in the
 * package: the text describes the global, `@cmdarg` turns a `const volatile`
 * global into a flag of `ecli run`, `@sample` makes ecli print a map
 * periodically, and `@brief`/`@details`/`@version` above LICENSE document the
 * tool itself (`ecli run build/package.json --help` shows them all).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "[[.Name]].h"

/// Only report programs run by this user id (-1: every user)
/// @cmdarg {"default": -1, "short": "u", "long": "uid"}
const volatile int targ_uid = -1;

/// Only report programs started by children of this process (0: any parent)
/// @cmdarg {"default": 0, "short": "P", "long": "ppid"}
const volatile int targ_ppid = 0;

/// One record per successful exec(), see struct event in [[.Name]].h
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("tp/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	u32 uid = (u32)bpf_get_current_uid_gid();
	unsigned int fname_off;
	struct event *e;
	int ppid;

	if (targ_uid >= 0 && uid != (u32)targ_uid)
		return 0;
	ppid = BPF_CORE_READ(task, real_parent, tgid);
	if (targ_ppid > 0 && ppid != targ_ppid)
		return 0;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ppid = ppid;
	e->uid = uid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	/* filename is a __data_loc field: its low 16 bits are an offset */
	fname_off = ctx->__data_loc_filename & 0xFFFF;
	if (bpf_probe_read_kernel_str(e->filename, sizeof(e->filename),
				      (void *)ctx + fname_off) < 0)
		e->filename[0] = '\0';
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/// @brief Trace new programs started with exec()
/// @details Prints the pid, parent pid, uid, command name and executable
/// path of every successful exec() on the system.
/// @version 0.1.0
char LICENSE[] SEC("license") = "Dual BSD/GPL";
