// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * [[.Name]] - trace calls of a user-space function: its first argument,
 * its return value and how long it took.
 *
 * The two programs use bare `SEC("uprobe")` / `SEC("uretprobe")` sections,
 * which name no target: ecli attaches both to the function given at run
 * time,
 *
 *     sudo ecli run --uprobe /bin/bash:readline build/package.json
 *     sudo ecli run --uprobe /usr/lib/x86_64-linux-gnu/libc.so.6:malloc --pid 4242 build/package.json
 *
 * To fix the target in the program instead, name it in the section, e.g.
 * SEC("uretprobe//bin/bash:readline") (path, then symbol).
 *
 * Doc comments (`///`) above globals become metadata in the package: the
 * text describes the global, `@cmdarg` turns a `const volatile` global into
 * a flag of `ecli run`, and `@brief`/`@details`/`@version` above LICENSE
 * document the tool (`ecli run build/package.json --help`).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <ecc.h>

#define EVENT_COMM_LEN 16

/* One completed call. */
struct event {
	int pid;                         /* process id */
	int tid;                         /* thread id */
	char comm[EVENT_COMM_LEN];       /* task name */
	unsigned long long arg0;         /* first argument, as an integer */
	long long ret;                   /* return value, as an integer */
	unsigned long long duration_ns;  /* time from entry to return */
};

/* What the entry probe leaves for the return probe, per thread. */
struct call {
	unsigned long long start_ns;
	unsigned long long arg0;
};

/// Only report calls that took at least this many microseconds (0: all)
/// @cmdarg {"default": 0, "short": "m", "long": "min-us"}
const volatile unsigned long long min_us = 0;

/// Calls in progress, by thread id
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, struct call);
} calls SEC(".maps");

/// One record per completed call
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/*
 * Tell ecc that `events` carries struct event (it goes into the package's
 * export types, so ecli decodes each record). The other way: move the struct
 * into [[.Name]].h and run `ecc build [[.Name]].bpf.c [[.Name]].h`.
 */
ECC_EXPORT(events, struct event);

SEC("uprobe")
int BPF_UPROBE(func_entry, unsigned long long arg0)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct call c = {
		.start_ns = bpf_ktime_get_ns(),
		.arg0 = arg0,
	};

	bpf_map_update_elem(&calls, &tid, &c, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(func_return, long long ret)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = (u32)id;
	struct call *c;
	struct event *e;
	u64 delta;

	c = bpf_map_lookup_elem(&calls, &tid);
	if (!c)
		return 0;	/* entered before we attached */
	delta = bpf_ktime_get_ns() - c->start_ns;
	if (delta < min_us * 1000)
		goto out;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		goto out;
	e->pid = id >> 32;
	e->tid = tid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->arg0 = c->arg0;
	e->ret = ret;
	e->duration_ns = delta;
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&calls, &tid);
	return 0;
}

/// @brief Trace calls of a user-space function
/// @details Attach with ecli run --uprobe BINARY:SYMBOL; prints pid, thread,
/// command, first argument, return value and duration of every call.
/// @version 0.1.0
char LICENSE[] SEC("license") = "Dual BSD/GPL";
