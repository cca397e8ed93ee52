// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * opensnoop - trace openat() calls with their result.
 *
 * sys_enter_openat remembers the path pointer and flags per thread;
 * sys_exit_openat reads the path (by then the page is surely mapped), adds
 * the returned fd or -errno and sends the record through a perf event array.
 * The record type is bound to the map with ECC_EXPORT, no export header.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ecc.h"

#define OPENSNOOP_COMM_LEN 16
#define OPENSNOOP_PATH_LEN 256

/* One openat() call as seen by user space. */
struct event {
	int pid;                            /* process id */
	int tid;                            /* thread id */
	unsigned int uid;                   /* real user id */
	int ret;                            /* new fd, or -errno on failure */
	int flags;                          /* O_* flags passed to openat() */
	unsigned int mode;                  /* mode passed with O_CREAT */
	char comm[OPENSNOOP_COMM_LEN];      /* task name */
	char fname[OPENSNOOP_PATH_LEN];     /* path as passed, maybe relative */
};

/* State kept between syscall entry and exit. */
struct open_args {
	const char *fname;
	int flags;
	unsigned int mode;
};

/// Trace only this process id (0: every process)
/// @cmdarg {"default": 0, "short": "p", "long": "pid"}
const volatile int targ_pid = 0;

/// Trace only this thread id (0: every thread)
/// @cmdarg {"default": 0, "short": "t", "long": "tid"}
const volatile int targ_tid = 0;

/// Trace only this user id (-1: every user)
/// @cmdarg {"default": -1, "short": "u", "long": "uid"}
const volatile int targ_uid = -1;

/// Show only failed opens
/// @cmdarg {"default": false, "short": "x", "long": "failed"}
const volatile bool targ_failed = false;

/// Trace only tasks with exactly this command name (empty: any)
/// @cmdarg {"default": "", "short": "c", "long": "comm"}
const volatile char targ_comm[OPENSNOOP_COMM_LEN] = {};

/// openat() arguments of threads currently inside the syscall
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, struct open_args);
} start SEC(".maps");

/// Per-CPU scratch space to build a record (too big for the BPF stack)
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct event);
} scratch SEC(".maps");

/// Completed openat() calls
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} events SEC(".maps");

ECC_EXPORT(events, struct event);

static __always_inline bool comm_matches(void)
{
	char comm[OPENSNOOP_COMM_LEN];
	int i;

	if (targ_comm[0] == '\0')
		return true;
	if (bpf_get_current_comm(comm, sizeof(comm)) < 0)
		return false;
	for (i = 0; i < OPENSNOOP_COMM_LEN; i++) {
		if (comm[i] != targ_comm[i])
			return false;
		if (comm[i] == '\0')
			break;
	}
	return true;
}

static __always_inline bool want_task(u32 pid, u32 tid)
{
	if (targ_pid && pid != (u32)targ_pid)
		return false;
	if (targ_tid && tid != (u32)targ_tid)
		return false;
	if (targ_uid >= 0 && (u32)bpf_get_current_uid_gid() != (u32)targ_uid)
		return false;
	return comm_matches();
}

SEC("tp/syscalls/sys_enter_openat")
int handle_openat_enter(struct trace_event_raw_sys_enter *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = (u32)id;
	struct open_args args = {};

	if (!want_task(id >> 32, tid))
		return 0;

	/* openat(int dfd, const char *filename, int flags, umode_t mode) */
	args.fname = (const char *)ctx->args[1];
	args.flags = (int)ctx->args[2];
	args.mode = (unsigned int)ctx->args[3];
	bpf_map_update_elem(&start, &tid, &args, BPF_ANY);
	return 0;
}

SEC("tp/syscalls/sys_exit_openat")
int handle_openat_exit(struct trace_event_raw_sys_exit *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = (u32)id;
	u32 zero = 0;
	struct open_args *args;
	struct event *e;
	int ret;

	args = bpf_map_lookup_elem(&start, &tid);
	if (!args)
		return 0;

	ret = (int)ctx->ret;
	if (targ_failed && ret >= 0)
		goto cleanup;

	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		goto cleanup;

	e->pid = id >> 32;
	e->tid = tid;
	e->uid = (u32)bpf_get_current_uid_gid();
	e->ret = ret;
	e->flags = args->flags;
	e->mode = args->mode;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (bpf_probe_read_user_str(e->fname, sizeof(e->fname), args->fname) < 0)
		e->fname[0] = '\0';

	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, e, sizeof(*e));
cleanup:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

/// @brief Trace file opens (openat) with their result
/// @details Prints pid, tid, uid, command name, return value (fd or -errno),
/// open flags and path of every openat() call, optionally filtered by pid,
/// tid, uid, command name or failure.
/// @version 0.1.0
char LICENSE[] SEC("license") = "Dual BSD/GPL";
