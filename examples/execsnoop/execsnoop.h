/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * execsnoop.h - record exported by execsnoop through the `events` ring buffer.
 *
 * Plain C types only: ecc compiles this header on its own (without vmlinux.h)
 * to describe the record to the runtime.
 */
#ifndef __EXECSNOOP_H
#define __EXECSNOOP_H

#define EXECSNOOP_COMM_LEN 16
#define EXECSNOOP_FILENAME_LEN 256
#define EXECSNOOP_ARGS_LEN 256

/* One successful exec(): the new program image of process `pid`. */
struct event {
	int pid;                               /* process (thread group) id */
	int ppid;                              /* parent's process id */
	unsigned int uid;                      /* real user id */
	int args_len;                          /* bytes of argv captured, 0 if off */
	char comm[EXECSNOOP_COMM_LEN];         /* task name after the exec */
	char filename[EXECSNOOP_FILENAME_LEN]; /* path handed to execve() */
	char args[EXECSNOOP_ARGS_LEN];         /* argv joined by spaces, maybe cut */
};

#endif /* __EXECSNOOP_H */
