// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * counter (Wasm example) - count system calls per process in a hash map
 * that the Wasm guest (main.c) reads, resets and prunes every second.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "counter.h"

/// System calls per process id
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, struct counter);
} counts SEC(".maps");

SEC("tp/raw_syscalls/sys_enter")
int count_syscall(void *ctx)
{
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct counter *c, init = {.syscalls = 1};

	c = bpf_map_lookup_elem(&counts, &pid);
	if (c) {
		__sync_fetch_and_add(&c->syscalls, 1);
		return 0;
	}
	bpf_get_current_comm(init.comm, sizeof(init.comm));
	bpf_map_update_elem(&counts, &pid, &init, BPF_NOEXIST);
	return 0;
}

/// @brief Top processes by system calls per second, from a Wasm guest
/// @version 0.1.0
char LICENSE[] SEC("license") = "Dual BSD/GPL";
