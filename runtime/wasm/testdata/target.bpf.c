// SPDX-License-Identifier: GPL-2.0
/*
 * runtime/wasm's tests of attach targets: a program that takes an
 * interface and one that takes a cgroup. Both let everything pass.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("cgroup_skb/egress")
int egress(struct __sk_buff *skb)
{
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
