/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * [[.Name]].h - the record [[.Name]] sends through its `events` ring buffer.
 *
 * `ecc build [[.Name]].bpf.c [[.Name]].h` exports every struct defined here:
 * ecli decodes each record and prints one column (one JSON key with -j) per
 * member. Use plain C types only: ecc compiles this header on its own,
 * without vmlinux.h. (Without a header, bind the type to the map in the
 * source instead: ECC_EXPORT(events, struct event) from <ecc.h>.)
 */
#ifndef __[[.Upper]]_H
#define __[[.Upper]]_H

#define EVENT_COMM_LEN 16
#define EVENT_FILENAME_LEN 128

/* One successful exec(): process `pid` now runs `filename`. */
struct event {
	int pid;                            /* process id */
	int ppid;                           /* parent's process id */
	unsigned int uid;                   /* real user id */
	char comm[EVENT_COMM_LEN];          /* task name after the exec */
	char filename[EVENT_FILENAME_LEN];  /* path given to execve() */
};

#endif /* __[[.Upper]]_H */
