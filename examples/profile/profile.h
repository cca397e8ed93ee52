/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * profile.h - record exported by profile through the `events` ring buffer.
 * Plain C types only (compiled without vmlinux.h).
 */
#ifndef __PROFILE_H
#define __PROFILE_H

#define PROFILE_COMM_LEN 16
#define PROFILE_MAX_STACK_DEPTH 127	/* kernel default perf_event_max_stack */

/*
 * One CPU sample.  kstack/ustack hold raw instruction pointers, innermost
 * frame first; only the first kstack_len/ustack_len entries are valid (0
 * when that stack was not requested or could not be taken).  Kernel
 * addresses resolve against /proc/kallsyms, user addresses against
 * /proc/<pid>/maps and the mapped ELF files' symbol tables.
 */
struct event {
	int pid;                                       /* process id (0: idle) */
	int tid;                                       /* thread id */
	int cpu;                                       /* CPU the sample hit */
	int kstack_len;                                /* valid kernel frames */
	int ustack_len;                                /* valid user frames */
	char comm[PROFILE_COMM_LEN];                   /* task name */
	unsigned long long kstack[PROFILE_MAX_STACK_DEPTH]; /* kernel stack */
	unsigned long long ustack[PROFILE_MAX_STACK_DEPTH]; /* user stack */
};

#endif /* __PROFILE_H */
