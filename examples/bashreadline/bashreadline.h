/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * bashreadline.h - record exported by bashreadline through the `events`
 * perf event array.  Plain C types only (compiled without vmlinux.h).
 */
#ifndef __BASHREADLINE_H
#define __BASHREADLINE_H

#define BASHREADLINE_COMM_LEN 16
#define BASHREADLINE_LINE_LEN 120

/* One command line read by an interactive bash. */
struct event {
	int pid;                           /* bash process id */
	unsigned int uid;                  /* real user id */
	char comm[BASHREADLINE_COMM_LEN];  /* task name, normally "bash" */
	char line[BASHREADLINE_LINE_LEN];  /* text returned by readline() */
};

#endif /* __BASHREADLINE_H */
