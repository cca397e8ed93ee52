// SPDX-License-Identifier: GPL-2.0
/*
 * A test object for metadata extraction: no export header; ECC_EXPORT
 * binds each buffer to its struct. Rebuild: go generate ./packager/extract.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ecc.h"

struct open_event {
	int pid;
	int ret;
	char fname[64];
};

struct exit_event {
	int pid;
	int code;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} opens SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} exits SEC(".maps");

ECC_EXPORT(opens, struct open_event);
ECC_EXPORT(exits, struct exit_event);

SEC("tp/syscalls/sys_exit_openat")
int handle_open(void *ctx)
{
	struct open_event *e = bpf_ringbuf_reserve(&opens, sizeof(*e), 0);

	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ret = 0;
	e->fname[0] = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp/sched/sched_process_exit")
int handle_exit(void *ctx)
{
	struct exit_event e = {};

	e.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_perf_event_output(ctx, &exits, BPF_F_CURRENT_CPU, &e, sizeof(e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
