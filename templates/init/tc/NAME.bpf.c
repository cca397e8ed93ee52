// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * [[.Name]] - count packets and bytes per direction and IP protocol with a
 * tc (traffic control) classifier, optionally only those of one TCP/UDP
 * port.
 *
 * Two programs share the counting code: one on the ingress hook (packets
 * the interface receives), one on egress (packets it sends). ecli attaches
 * both to the interface given with --ifname, as TCX links (kernel 6.6 and
 * later) or else through a clsact qdisc, like `tc filter add ... bpf da`.
 * They return TC_ACT_UNSPEC (-1, also TCX_NEXT): the packet goes on to the
 * next classifier or passes; return TC_ACT_SHOT (2) to drop it.
 *
 * Doc comments (`///`) above globals become metadata in the package: the
 * text describes the global, `@cmdarg` turns a `const volatile` global into
 * a flag of `ecli run`, `@sample` above a map makes ecli print it every
 * interval (default_kv: a key/value table), and `@brief`/`@details`/
 * `@version` above LICENSE document the tool
 * (`ecli run build/package.json --help`).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* from <linux/if_ether.h> and <linux/pkt_cls.h> (vmlinux.h has no macros) */
#define ETH_P_IP      0x0800
#define ETH_P_IPV6    0x86DD
#define TC_ACT_UNSPEC (-1)

#define DIR_INGRESS 0
#define DIR_EGRESS  1

/* Counter key, in host byte order. */
struct counter_key {
	__u32 direction;  /* 0 = ingress, 1 = egress */
	__u32 eth_proto;  /* e.g. 2048 = IPv4, 34525 = IPv6 */
	__u32 ip_proto;   /* e.g. 1 = ICMP, 6 = TCP, 17 = UDP; 0 if not IP */
};

struct counters {
	__u64 packets;
	__u64 bytes;      /* skb->len: the whole packet as tc sees it */
};

/// Only count TCP and UDP packets from or to this port (0: count all)
/// @cmdarg {"default": 0, "short": "p", "long": "port"}
const volatile __u16 port = 0;

/// Packets and bytes by direction, EtherType and IP protocol
/// @sample {"interval": 1000, "type": "default_kv", "clear_map": false}
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct counter_key);
	__type(value, struct counters);
} stats SEC(".maps");

/* Does the TCP/UDP header at offset l4 (from the network header) use port? */
static __always_inline bool has_port(struct __sk_buff *skb, __u32 l4)
{
	__be16 ports[2];	/* source and destination: first in TCP and UDP */

	if (bpf_skb_load_bytes_relative(skb, l4, ports, sizeof(ports), BPF_HDR_START_NET))
		return false;
	return bpf_ntohs(ports[0]) == port || bpf_ntohs(ports[1]) == port;
}

static __always_inline int count(struct __sk_buff *skb, __u32 direction)
{
	struct counter_key key = { .direction = direction };
	struct counters *c, init = { .packets = 1, .bytes = skb->len };
	__u32 l4 = 0;

	/* offsets relative to the network header: no assumptions on L2 */
	key.eth_proto = bpf_ntohs((__u16)skb->protocol);
	if (key.eth_proto == ETH_P_IP) {
		struct iphdr ip;

		if (!bpf_skb_load_bytes_relative(skb, 0, &ip, sizeof(ip), BPF_HDR_START_NET)) {
			key.ip_proto = ip.protocol;
			l4 = ip.ihl * 4;
		}
	} else if (key.eth_proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (!bpf_skb_load_bytes_relative(skb, 0, &ip6, sizeof(ip6), BPF_HDR_START_NET)) {
			key.ip_proto = ip6.nexthdr;	/* extension headers are not walked */
			l4 = sizeof(ip6);
		}
	}
	if (port) {
		if (key.ip_proto != IPPROTO_TCP && key.ip_proto != IPPROTO_UDP)
			return TC_ACT_UNSPEC;
		if (!l4 || !has_port(skb, l4))
			return TC_ACT_UNSPEC;
	}

	c = bpf_map_lookup_elem(&stats, &key);
	if (!c) {
		if (!bpf_map_update_elem(&stats, &key, &init, BPF_NOEXIST))
			return TC_ACT_UNSPEC;
		c = bpf_map_lookup_elem(&stats, &key);	/* another CPU was first */
		if (!c)
			return TC_ACT_UNSPEC;
	}
	__sync_fetch_and_add(&c->packets, 1);
	__sync_fetch_and_add(&c->bytes, skb->len);
	return TC_ACT_UNSPEC;
}

SEC("tc/ingress")
int tc_ingress(struct __sk_buff *skb)
{
	return count(skb, DIR_INGRESS);
}

SEC("tc/egress")
int tc_egress(struct __sk_buff *skb)
{
	return count(skb, DIR_EGRESS);
}

/// @brief Count packets per direction and protocol with tc
/// @details Classifiers on the ingress and egress hooks of --ifname keep
/// packet and byte counters by direction, EtherType and IP protocol, printed
/// every second; --port restricts them to one TCP/UDP port. Packets are
/// never changed or dropped.
/// @version 0.1.0
char LICENSE[] SEC("license") = "Dual BSD/GPL";
