/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * [[.Name]].h - the sample [[.Name]] sends through its `events` ring buffer.
 *
 * `ecc build [[.Name]].bpf.c [[.Name]].h` exports every struct defined here,
 * so ecli decodes the records. (Without a header, bind the type to the map
 * in the source instead: ECC_EXPORT(events, struct event) from <ecc.h>.)
 * Plain C types only: ecc compiles this header without vmlinux.h.
 *
 * Member names matter: ecli symbolises arrays named `kstack` and `ustack`
 * (the first `kstack_len`/`ustack_len` entries) against /proc/kallsyms and
 * the ELF symbols of the files process `pid` has mapped, and prints the
 * frames (JSON: "kstack_syms", "ustack_syms").
 */
#ifndef __[[.Upper]]_H
#define __[[.Upper]]_H

#define EVENT_COMM_LEN 16
#define EVENT_STACK_DEPTH 64

/* One CPU sample: the interrupted task and its call stacks, innermost first. */
struct event {
	int pid;                                        /* process id */
	int tid;                                        /* thread id */
	int cpu;                                        /* CPU the sample hit */
	int kstack_len;                                 /* valid kernel frames */
	int ustack_len;                                 /* valid user frames */
	char comm[EVENT_COMM_LEN];                      /* task name */
	unsigned long long kstack[EVENT_STACK_DEPTH];   /* kernel addresses */
	unsigned long long ustack[EVENT_STACK_DEPTH];   /* user addresses */
};

#endif /* __[[.Upper]]_H */
