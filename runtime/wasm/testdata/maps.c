/*
 * A C guest driving maps through wasm_bpf_map_operate. argv: COMM NCPUS.
 * It waits (pull mode on the ring buffer) for an exec of a program named
 * COMM, reads that process's count in execs (a hash) and the total in
 * total (a per-CPU array of NCPUS values), then exercises scratch: update,
 * NOEXIST, iteration with get_next_key, delete, lookup of a deleted key;
 * and finally closes the object. Each step prints one line.
 */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "wasm_bpf.h"
#include "exec_bpf.h"

struct event {
	int pid;
	char comm[16];
};

int main(int argc, char **argv)
{
	uint64_t obj;
	int rb, execs, total, scratch, ncpus, i, n, r;
	struct event e;
	uint32_t pid = 0, key, next, zero = 0;
	uint64_t count = 0, value, sum, *vals;

	if (argc != 3)
		return 10;
	ncpus = atoi(argv[2]);
	obj = wasm_load_bpf_object(exec_bpf_o, sizeof(exec_bpf_o));
	if (!obj)
		return 1;
	if ((r = wasm_attach_bpf_program(obj, "tp/sched/sched_process_exec", NULL))) {
		fprintf(stderr, "attach: %d\n", r);
		return 2;
	}
	rb = wasm_bpf_map_fd_by_name(obj, "rb");
	execs = wasm_bpf_map_fd_by_name(obj, "execs");
	total = wasm_bpf_map_fd_by_name(obj, "total");
	scratch = wasm_bpf_map_fd_by_name(obj, "scratch");
	printf("fds rb=%d execs=%d total=%d scratch=%d nope=%d\n", rb > 0, execs > 0, total > 0,
	       scratch > 0, wasm_bpf_map_fd_by_name(obj, "nope"));
	printf("ready\n");
	fflush(stdout);

	for (i = 0; i < 300; i++) { /* 30 s */
		n = wasm_bpf_buffer_poll(obj, rb, 0, 0, &e, sizeof(e), 100);
		if (n < 0) {
			fprintf(stderr, "poll: %d\n", n);
			return 3;
		}
		if (n == sizeof(e) && strncmp(e.comm, argv[1], sizeof(e.comm)) == 0) {
			pid = e.pid;
			break;
		}
	}
	if (!pid) {
		fprintf(stderr, "no exec of %s seen\n", argv[1]);
		return 4;
	}
	r = wasm_bpf_map_operate(execs, BPF_MAP_LOOKUP_ELEM, &pid, &count, NULL, 0);
	printf("execs pid=%u count=%llu ret=%d\n", pid, (unsigned long long)count, r);

	vals = calloc(ncpus, sizeof(*vals));
	r = wasm_bpf_map_operate(total, BPF_MAP_LOOKUP_ELEM, &zero, vals, NULL, 0);
	for (sum = 0, i = 0; i < ncpus; i++)
		sum += vals[i];
	printf("total ok=%d ret=%d\n", sum >= 1, r);

	for (key = 1; key <= 5; key++) {
		value = key * 100;
		r = wasm_bpf_map_operate(scratch, BPF_MAP_UPDATE_ELEM, &key, &value, NULL, 0 /* BPF_ANY */);
		if (r)
			printf("update %u ret=%d\n", key, r);
	}
	key = 1;
	value = 7;
	printf("noexist ret=%d\n",
	       wasm_bpf_map_operate(scratch, BPF_MAP_UPDATE_ELEM, &key, &value, NULL, 1 /* BPF_NOEXIST */));

	n = 0;
	sum = 0;
	r = wasm_bpf_map_operate(scratch, BPF_MAP_GET_NEXT_KEY, NULL, NULL, &next, 0);
	while (r == 0) {
		value = 0;
		if (wasm_bpf_map_operate(scratch, BPF_MAP_LOOKUP_ELEM, &next, &value, NULL, 0) == 0)
			sum += value;
		n++;
		key = next;
		r = wasm_bpf_map_operate(scratch, BPF_MAP_GET_NEXT_KEY, &key, NULL, &next, 0);
	}
	printf("iter count=%d sum=%llu end=%d\n", n, (unsigned long long)sum, r);

	key = 3;
	printf("delete ret=%d\n", wasm_bpf_map_operate(scratch, BPF_MAP_DELETE_ELEM, &key, NULL, NULL, 0));
	printf("lookup deleted ret=%d\n",
	       wasm_bpf_map_operate(scratch, BPF_MAP_LOOKUP_ELEM, &key, &value, NULL, 0));
	printf("delete again ret=%d\n",
	       wasm_bpf_map_operate(scratch, BPF_MAP_DELETE_ELEM, &key, NULL, NULL, 0));

	printf("close ret=%d\n", wasm_close_bpf_object(obj));
	key = 1;
	printf("after close ret=%d\n",
	       wasm_bpf_map_operate(scratch, BPF_MAP_LOOKUP_ELEM, &key, &value, NULL, 0));
	printf("close again ret=%d\n", wasm_close_bpf_object(obj));
	return 0;
}
