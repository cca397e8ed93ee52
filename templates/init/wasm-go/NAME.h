/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * [[.Name]].h - the record the BPF program sends through the `events` ring
 * buffer.  Plain C types: the Wasm guest does not include this file but the
 * generated [[.Name]].wasm.h, which re-declares the struct with fixed-width
 * types and checks its layout against the BPF object's BTF.
 */
#ifndef __EXECSNOOP_H
#define __EXECSNOOP_H

#define EXECSNOOP_COMM_LEN 16
#define EXECSNOOP_FILENAME_LEN 128

/* One successful exec(). */
struct event {
	int pid;                               /* process id */
	int ppid;                              /* parent's process id */
	unsigned int uid;                      /* real user id */
	unsigned long long ts_ns;              /* CLOCK_MONOTONIC of the exec */
	char comm[EXECSNOOP_COMM_LEN];         /* task name after the exec */
	char filename[EXECSNOOP_FILENAME_LEN]; /* path handed to execve() */
};

#endif /* __EXECSNOOP_H */
