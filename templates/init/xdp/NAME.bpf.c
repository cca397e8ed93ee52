// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * [[.Name]] - count received packets and bytes per protocol with XDP, and
 * optionally drop UDP datagrams to one port.
 *
 * An XDP program sees every frame a network interface receives before the
 * kernel allocates anything for it. This one reads the Ethernet header and
 * the IPv4/IPv6 header, adds the frame to a counter keyed by EtherType and
 * IP protocol, and returns XDP_PASS (let it through) or XDP_DROP. ecli
 * attaches it to the interface given with --ifname (native mode when the
 * driver supports it, else generic mode, as on `lo`).
 *
 * Doc comments (`///`) above globals become metadata in the package: the
 * text describes the global, `@cmdarg` turns a `const volatile` global into
 * a flag of `ecli run`, `@sample` above a map makes ecli print it every
 * interval (default_kv: a key/value table; log2_hist, linear_hist:
 * histograms), and `@brief`/`@details`/`@version` above LICENSE document the
 * tool (`ecli run build/package.json --help`).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* from <linux/if_ether.h> (vmlinux.h has types, not macros) */
#define ETH_P_IP   0x0800
#define ETH_P_IPV6 0x86DD

/* Counter key: EtherType and IP protocol, in host byte order. */
struct counter_key {
	__u32 eth_proto;  /* e.g. 2048 = IPv4, 34525 = IPv6, 2054 = ARP */
	__u32 ip_proto;   /* e.g. 1 = ICMP, 6 = TCP, 17 = UDP; 0 if not IP */
};

struct counters {
	__u64 packets;    /* frames seen */
	__u64 bytes;      /* their length, Ethernet header included */
	__u64 dropped;    /* frames dropped by --drop-udp-port */
};

/// Drop UDP datagrams sent to this port (0: drop nothing)
/// @cmdarg {"default": 0, "short": "d", "long": "drop-udp-port"}
const volatile __u16 drop_udp_port = 0;

/// Packets, bytes and drops by EtherType and IP protocol
/// @sample {"interval": 1000, "type": "default_kv", "clear_map": false}
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct counter_key);
	__type(value, struct counters);
} stats SEC(".maps");

static __always_inline void count(struct counter_key *key, __u64 len, bool drop)
{
	struct counters *c, init = { .packets = 1, .bytes = len, .dropped = drop };

	c = bpf_map_lookup_elem(&stats, key);
	if (!c) {
		if (!bpf_map_update_elem(&stats, key, &init, BPF_NOEXIST))
			return;
		/* another CPU created it meanwhile: add to that one */
		c = bpf_map_lookup_elem(&stats, key);
		if (!c)
			return;
	}
	__sync_fetch_and_add(&c->packets, 1);
	__sync_fetch_and_add(&c->bytes, len);
	if (drop)
		__sync_fetch_and_add(&c->dropped, 1);
}

/* Is the UDP header at l4 for the port we drop? */
static __always_inline bool drop_udp(void *l4, void *data_end)
{
	struct udphdr *udp = l4;

	if ((void *)(udp + 1) > data_end)
		return false;
	return bpf_ntohs(udp->dest) == drop_udp_port;
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct counter_key key = {};
	bool drop = false;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	key.eth_proto = bpf_ntohs(eth->h_proto);

	if (key.eth_proto == ETH_P_IP) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end)
			goto out;
		key.ip_proto = ip->protocol;
		if (drop_udp_port && ip->protocol == IPPROTO_UDP && ip->ihl >= 5)
			drop = drop_udp((void *)ip + ip->ihl * 4, data_end);
	} else if (key.eth_proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			goto out;
		key.ip_proto = ip6->nexthdr;	/* extension headers are not walked */
		if (drop_udp_port && ip6->nexthdr == IPPROTO_UDP)
			drop = drop_udp(ip6 + 1, data_end);
	}
out:
	count(&key, data_end - data, drop);
	return drop ? XDP_DROP : XDP_PASS;
}

/// @brief Count packets per protocol with XDP
/// @details Counts the frames an interface receives by EtherType and IP
/// protocol, printed every second, and drops UDP datagrams to
/// --drop-udp-port when it is set.
/// @version 0.1.0
char LICENSE[] SEC("license") = "Dual BSD/GPL";
