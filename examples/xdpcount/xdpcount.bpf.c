// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * xdpcount - count packets and bytes per protocol at the XDP hook.
 *
 * Every frame is classified by EtherType (after up to two VLAN tags) and,
 * for IPv4/IPv6, by the IP protocol number (the IPv6 next header, extension
 * headers are not walked).  Counters live in a hash map that the runtime
 * prints every second.  Frames are always passed on (XDP_PASS), so it is safe
 * to attach anywhere, generic (skb) mode included.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#define XDPCOUNT_ETH_P_IP     0x0800
#define XDPCOUNT_ETH_P_IPV6   0x86DD
#define XDPCOUNT_ETH_P_8021Q  0x8100
#define XDPCOUNT_ETH_P_8021AD 0x88A8
#define XDPCOUNT_MAX_VLANS    2

/* 802.1Q / 802.1ad tag as it follows the MAC addresses */
struct vlan_tag {
	__be16 tci;
	__be16 encap_proto;
};

/* Counter key: EtherType (host byte order) and IP protocol (or 0). */
struct proto_key {
	__u32 eth_proto;  /* e.g. 2048 = IPv4, 34525 = IPv6, 2054 = ARP */
	__u32 ip_proto;   /* e.g. 1 = ICMP, 6 = TCP, 17 = UDP, 58 = ICMPv6 */
};

struct proto_count {
	__u64 packets;
	__u64 bytes;
};

/// Split IPv4/IPv6 counts by IP protocol (false: count by EtherType only)
/// @cmdarg {"default": true, "short": "i", "long": "ip-proto"}
const volatile bool by_ip_proto = true;

/// Packets and bytes seen, by EtherType and IP protocol
/// @sample {"interval": 1000, "type": "default_kv", "clear_map": false}
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct proto_key);
	__type(value, struct proto_count);
} proto_stats SEC(".maps");

static __always_inline void account(struct proto_key *key, __u64 len)
{
	struct proto_count *c, init = { .packets = 1, .bytes = len };

	c = bpf_map_lookup_elem(&proto_stats, key);
	if (c) {
		__sync_fetch_and_add(&c->packets, 1);
		__sync_fetch_and_add(&c->bytes, len);
		return;
	}
	/* another CPU may have created it meanwhile: then add to that one */
	if (bpf_map_update_elem(&proto_stats, key, &init, BPF_NOEXIST)) {
		c = bpf_map_lookup_elem(&proto_stats, key);
		if (c) {
			__sync_fetch_and_add(&c->packets, 1);
			__sync_fetch_and_add(&c->bytes, len);
		}
	}
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct proto_key key = {};
	struct ethhdr *eth = data;
	void *cursor;
	__u16 proto;
	int i;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	proto = bpf_ntohs(eth->h_proto);
	cursor = eth + 1;

	for (i = 0; i < XDPCOUNT_MAX_VLANS; i++) {
		struct vlan_tag *tag = cursor;

		if (proto != XDPCOUNT_ETH_P_8021Q && proto != XDPCOUNT_ETH_P_8021AD)
			break;
		if ((void *)(tag + 1) > data_end)
			return XDP_PASS;
		proto = bpf_ntohs(tag->encap_proto);
		cursor = tag + 1;
	}
	key.eth_proto = proto;

	if (by_ip_proto) {
		if (proto == XDPCOUNT_ETH_P_IP) {
			struct iphdr *ip = cursor;

			if ((void *)(ip + 1) <= data_end)
				key.ip_proto = ip->protocol;
		} else if (proto == XDPCOUNT_ETH_P_IPV6) {
			struct ipv6hdr *ip6 = cursor;

			if ((void *)(ip6 + 1) <= data_end)
				key.ip_proto = ip6->nexthdr;
		}
	}

	account(&key, (__u64)(data_end - data));
	return XDP_PASS;
}

/// @brief Count packets and bytes per protocol with XDP
/// @details Classifies each received frame by EtherType and IP protocol and
/// keeps packet and byte counters in a map printed every second.  Never
/// drops anything (always XDP_PASS).
/// @version 0.1.0
char LICENSE[] SEC("license") = "Dual BSD/GPL";
