/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * counter.h - the value of the `counts` map (keyed by process id).
 * The Wasm guest uses the generated counter.wasm.h instead of this file.
 */
#ifndef __COUNTER_H
#define __COUNTER_H

#define COUNTER_COMM_LEN 16

struct counter {
	unsigned long long syscalls;  /* system calls since the last reset */
	char comm[COUNTER_COMM_LEN];  /* the process' name when first seen */
};

#endif /* __COUNTER_H */
