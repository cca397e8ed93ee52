// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * main.c - the user-space side of counter as a Wasm guest (wasm32-wasi).
 *
 * Build:  ecc build --wasm examples/wasm-counter/main.c
 * Run:    sudo ecli run examples/wasm-counter/counter.wasm
 *
 * Every second: walk the `counts` map (get_next_key), read each entry
 * (lookup), print the busiest processes, then reset the counters of the
 * processes seen (update) and drop those that made no system call since the
 * last reset (delete), so the map only holds live, active processes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "counter.wasm.h"

#define MAX_ROWS 10240 /* the map's max_entries */
#define TOP 10

struct row {
	u32 pid;
	struct counter value;
};

static struct row rows[MAX_ROWS];

static int busiest_first(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->value.syscalls != y->value.syscalls)
		return x->value.syscalls < y->value.syscalls ? 1 : -1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* Read every entry; deleting while walking would restart the walk. */
static int read_all(int fd)
{
	u32 key, next;
	const void *prev = NULL; /* NULL: start with the first key */
	int n = 0;

	while (n < MAX_ROWS && ecc_map_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (ecc_map_lookup(fd, &key, &rows[n].value) < 0)
			continue; /* the key went away meanwhile */
		rows[n].pid = key;
		n++;
	}
	return n;
}

int main(void)
{
	const char *failed = "";
	ecc_bpf_object obj;
	int fd, err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	obj = ecc_bpf_open();
	if (!obj) {
		fprintf(stderr, "counter: cannot load the BPF object\n");
		return 1;
	}
	err = ecc_bpf_attach_list(obj, ECC_BPF_PROGRAMS, NULL, &failed);
	if (err < 0) {
		fprintf(stderr, "counter: cannot attach %s: error %d\n", failed, err);
		return 1;
	}
	fd = ecc_map_fd(obj, "counts");
	if (fd < 0) {
		fprintf(stderr, "counter: no map called counts: error %d\n", fd);
		return 1;
	}
	for (;;) {
		int n, i, reset = 0, removed = 0;

		sleep(1);
		n = read_all(fd);
		qsort(rows, (size_t)n, sizeof(rows[0]), busiest_first);
		printf("%-8s %-16s %s\n", "PID", "COMM", "SYSCALLS/s");
		for (i = 0; i < n && i < TOP && rows[i].value.syscalls; i++)
			printf("%-8u %-16.*s %llu\n", rows[i].pid,
			       ECC_STR(rows[i].value.comm),
			       (unsigned long long)rows[i].value.syscalls);
		for (i = 0; i < n; i++) {
			struct counter zero = rows[i].value;

			if (rows[i].value.syscalls == 0) {
				/* idle for a whole second: forget it */
				if (ecc_map_delete(fd, &rows[i].pid) == 0)
					removed++;
				continue;
			}
			zero.syscalls = 0;
			if (ecc_map_update(fd, &rows[i].pid, &zero, ECC_EXIST) == 0)
				reset++;
		}
		printf("-- %d processes: %d counters reset, %d idle removed\n\n",
		       n, reset, removed);
	}
}
