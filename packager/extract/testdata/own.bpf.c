// SPDX-License-Identifier: GPL-2.0
/*
 * A test object for metadata extraction: no export header, no ECC_EXPORT;
 * the buffer carries the one struct of the program whose size it submits
 * (ecc build keeps the program's own structs in BTF for that).
 * Rebuild: go generate ./packager/extract.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct tick_sample {
	__u32 cpu;
	__u64 value;
};

struct own_unused {
	char name[32];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} samples SEC(".maps");

SEC("perf_event")
int on_tick(void *ctx)
{
	struct tick_sample s = {};

	s.cpu = bpf_get_smp_processor_id();
	s.value = bpf_ktime_get_ns();
	bpf_perf_event_output(ctx, &samples, BPF_F_CURRENT_CPU, &s, sizeof(s));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
