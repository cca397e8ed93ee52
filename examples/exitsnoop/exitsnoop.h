/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * exitsnoop.h - record exported by exitsnoop through the `events` ring buffer.
 * Plain C types only (ecc compiles this header without vmlinux.h).
 */
#ifndef __EXITSNOOP_H
#define __EXITSNOOP_H

#define EXITSNOOP_COMM_LEN 16

/* One task exit. */
struct event {
	int pid;                        /* process (thread group) id */
	int tid;                        /* thread id (== pid for the leader) */
	int ppid;                       /* parent's process id */
	int exit_code;                  /* exit status passed to exit() */
	int sig;                        /* signal that killed the task, or 0 */
	int core_dumped;                /* 1 if a core dump was written */
	unsigned long long duration_ns; /* time since the task started */
	char comm[EXITSNOOP_COMM_LEN];  /* task name */
};

#endif /* __EXITSNOOP_H */
