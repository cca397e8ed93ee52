// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bashreadline - print command lines typed into interactive bash shells.
 *
 * A uretprobe on readline() in /bin/bash sees the returned buffer, which is
 * the line the user entered (NULL on end of input).  The section name tells
 * the loader which binary and symbol to probe:
 *     SEC("uretprobe/<path>:<symbol>")
 * If bash on the target links readline dynamically (libreadline.so), build
 * with that library's path in the section instead.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ecc.h"
#include "bashreadline.h"

/// Report only this bash process id (0: every bash)
/// @cmdarg {"default": 0, "short": "p", "long": "pid"}
const volatile int targ_pid = 0;

/// Also report empty lines (the user just pressed Enter)
/// @cmdarg {"default": false, "short": "e", "long": "empty"}
const volatile bool show_empty = false;

/// Command lines, one record per readline() return
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} events SEC(".maps");

/* keep struct event in the object's BTF even without the export header */
ECC_EXPORT(events, struct event);

SEC("uretprobe//bin/bash:readline")
int BPF_URETPROBE(bash_readline_return, const void *ret)
{
	struct event e = {};
	int pid = bpf_get_current_pid_tgid() >> 32;

	if (!ret)
		return 0;
	if (targ_pid && pid != targ_pid)
		return 0;

	if (bpf_probe_read_user_str(e.line, sizeof(e.line), ret) <= 1 &&
	    !show_empty)
		return 0;

	e.pid = pid;
	e.uid = (u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &e, sizeof(e));
	return 0;
}

/// @brief Print commands entered into interactive bash shells
/// @details Attaches a uretprobe to readline() in /bin/bash and prints the
/// pid, uid and text of every command line as bash reads it.
/// @version 0.1.0
char LICENSE[] SEC("license") = "Dual BSD/GPL";
