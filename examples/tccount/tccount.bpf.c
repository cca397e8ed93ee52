// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tccount - count packets and bytes per interface, direction and protocol at
 * the tc (traffic control) hook.
 *
 * Section "tc" gives a BPF_PROG_TYPE_SCHED_CLS program, which libbpf 1.1
 * understands and which the kernel can attach either through a clsact qdisc
 * (classic tc, direct-action) or through a TCX link (kernel >= 6.6,
 * BPF_TCX_INGRESS / BPF_TCX_EGRESS).  The program does not need to know
 * where it was attached: a packet is counted as ingress when it was received
 * by the device it is seen on (skb->ingress_ifindex == skb->ifindex), and as
 * egress otherwise (locally sent or forwarded).
 *
 * The verdict is TC_ACT_UNSPEC (-1), which is also TCX_NEXT: the packet
 * continues to the next program/filter, or passes when there is none.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#define TCCOUNT_ETH_P_IP   0x0800
#define TCCOUNT_ETH_P_IPV6 0x86DD
#define TCCOUNT_ACT_UNSPEC (-1)	/* == TCX_NEXT */

#define TCCOUNT_INGRESS 0
#define TCCOUNT_EGRESS  1

/* Counter key: interface, direction, EtherType (host order), IP protocol. */
struct flow_key {
	__u32 ifindex;    /* interface the packet was seen on */
	__u32 direction;  /* 0 = ingress, 1 = egress */
	__u32 eth_proto;  /* e.g. 2048 = IPv4, 34525 = IPv6, 2054 = ARP */
	__u32 ip_proto;   /* e.g. 1 = ICMP, 6 = TCP, 17 = UDP, or 0 */
};

struct flow_count {
	__u64 packets;
	__u64 bytes;
};

/// Split IPv4/IPv6 counts by IP protocol (false: by EtherType only)
/// @cmdarg {"default": true, "short": "i", "long": "ip-proto"}
const volatile bool by_ip_proto = true;

/// Split counts by direction (false: ingress and egress add up together)
/// @cmdarg {"default": true, "short": "d", "long": "direction"}
const volatile bool by_direction = true;

/// Packets and bytes by interface, direction and protocol
/// @sample {"interval": 1000, "type": "default_kv", "clear_map": false}
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct flow_key);
	__type(value, struct flow_count);
} flow_stats SEC(".maps");

static __always_inline void account(struct flow_key *key, __u64 len)
{
	struct flow_count *c, init = { .packets = 1, .bytes = len };

	c = bpf_map_lookup_elem(&flow_stats, key);
	if (c) {
		__sync_fetch_and_add(&c->packets, 1);
		__sync_fetch_and_add(&c->bytes, len);
		return;
	}
	if (bpf_map_update_elem(&flow_stats, key, &init, BPF_NOEXIST)) {
		c = bpf_map_lookup_elem(&flow_stats, key);
		if (c) {
			__sync_fetch_and_add(&c->packets, 1);
			__sync_fetch_and_add(&c->bytes, len);
		}
	}
}

/// @tchook {"ifindex": 1, "attach_point": "BPF_TC_INGRESS"}
/// @tcopts {"handle": 1, "priority": 1}
SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	struct flow_key key = {};
	__u8 ip_proto = 0;

	key.ifindex = skb->ifindex;
	if (by_direction && skb->ingress_ifindex != skb->ifindex)
		key.direction = TCCOUNT_EGRESS;
	key.eth_proto = bpf_ntohs((__u16)skb->protocol);

	/* offsets are relative to the network header: no L2 assumptions */
	if (by_ip_proto) {
		if (key.eth_proto == TCCOUNT_ETH_P_IP) {
			if (!bpf_skb_load_bytes_relative(skb, offsetof(struct iphdr, protocol),
							 &ip_proto, 1, BPF_HDR_START_NET))
				key.ip_proto = ip_proto;
		} else if (key.eth_proto == TCCOUNT_ETH_P_IPV6) {
			if (!bpf_skb_load_bytes_relative(skb, offsetof(struct ipv6hdr, nexthdr),
							 &ip_proto, 1, BPF_HDR_START_NET))
				key.ip_proto = ip_proto;
		}
	}

	account(&key, skb->len);
	return TCCOUNT_ACT_UNSPEC;
}

/// @brief Count packets and bytes per interface, direction and protocol with tc
/// @details A tc classifier (clsact or TCX) that never changes the verdict and
/// keeps packet/byte counters keyed by interface, direction, EtherType and IP
/// protocol, printed every second.
/// @version 0.1.0
char LICENSE[] SEC("license") = "Dual BSD/GPL";
