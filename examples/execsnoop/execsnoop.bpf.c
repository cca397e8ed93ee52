// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * execsnoop - report every program started through exec().
 *
 * Hooks the sched:sched_process_exec tracepoint, which fires once the new
 * image is in place, so only successful execs are seen and the task already
 * carries its new name.  The argument vector is copied from the new process'
 * stack (mm->arg_start .. mm->arg_end) and its NUL separators turned into
 * spaces so that the runtime can print it as one string.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ecc.h"
#include "execsnoop.h"

/// Only report programs run by this user id (-1: every user)
/// @cmdarg {"default": -1, "short": "u", "long": "uid"}
const volatile int targ_uid = -1;

/// Only report programs started by children of this process id (0: any parent)
/// @cmdarg {"default": 0, "short": "P", "long": "ppid"}
const volatile int targ_ppid = 0;

/// Capture the command line arguments as well
/// @cmdarg {"default": true, "short": "a", "long": "args"}
const volatile bool capture_args = true;

/// One record per successful exec(), see struct event in execsnoop.h
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* keep struct event in the object's BTF even without the export header */
ECC_EXPORT(events, struct event);

/* Copy argv of the freshly exec'ed process and join it with spaces. */
static __always_inline int read_args(struct event *e, struct task_struct *task)
{
	unsigned long start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long end = BPF_CORE_READ(task, mm, arg_end);
	unsigned long len;
	unsigned int i;

	e->args[0] = '\0';
	if (end <= start)
		return 0;
	len = end - start;
	if (len > EXECSNOOP_ARGS_LEN - 1)
		len = EXECSNOOP_ARGS_LEN - 1;
	if (bpf_probe_read_user(e->args, len, (const void *)start) < 0) {
		e->args[0] = '\0';
		return 0;
	}
	/*
	 * argv strings are stored back to back, each NUL terminated.  Replace
	 * every separator but the final one; when the copy was cut short the
	 * last byte of the buffer becomes the terminator.
	 */
	for (i = 0; i < EXECSNOOP_ARGS_LEN - 1; i++) {
		if (i + 1 >= len)
			break;
		if (e->args[i] == '\0')
			e->args[i] = ' ';
	}
	if (len == EXECSNOOP_ARGS_LEN - 1)
		e->args[EXECSNOOP_ARGS_LEN - 1] = '\0';
	return (int)len;
}

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

	/* filename is a __data_loc field: low 16 bits hold its offset */
	fname_off = ctx->__data_loc_filename & 0xFFFF;
	if (bpf_probe_read_kernel_str(e->filename, sizeof(e->filename),
				      (void *)ctx + fname_off) < 0)
		e->filename[0] = '\0';

	if (capture_args)
		e->args_len = read_args(e, task);
	else {
		e->args_len = 0;
		e->args[0] = '\0';
	}

	bpf_ringbuf_submit(e, 0);
	return 0;
}

/// @brief Trace new programs started with exec()
/// @details Prints pid, parent pid, uid, command name, executable path and
/// the argument list of every successful exec() on the system.
/// @version 0.1.0
char LICENSE[] SEC("license") = "Dual BSD/GPL";
