/* Network events as libbpf-tools and <ecc.h> users write them. */
#include <ecc.h>

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u8 u8;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define htons(x) __builtin_bswap16(x)
#define htonl(x) __builtin_bswap32(x)
/* An unsigned __int128 whose first 4 bytes in memory are x in network order. */
#define FIRST4(x) ((unsigned __int128)__builtin_bswap32(x))
#else
#define htons(x) (x)
#define htonl(x) (x)
#define FIRST4(x) ((unsigned __int128)(x) << 96)
#endif

struct conn {
	union {
		__u32 saddr_v4;
		__u8 saddr_v6[16];
	};
	union {
		__u32 daddr_v4;
		__u8 daddr_v6[16];
	};
	unsigned __int128 daddr;
	__u32 af;
	__be16 dport;
	__u16 sport;
	unsigned char comm[16];
	u8 raw[4];
	ecc_ipv4_t a4;
	ecc_ipv6_t a6;
	ecc_ip_t any;
};

struct conn c4 = {
	.saddr_v4 = htonl(0x7f000001),
	.daddr_v4 = htonl(0x0a000102),
	.daddr = FIRST4(0xc0a80001),
	.af = 2,
	.dport = htons(8080),
	.sport = 51234,
	.comm = "curl",
	.raw = {1, 2, 3, 4},
	.a4 = htonl(0x01020304),
	.a6 = {0xfe, 0x80, [15] = 1},
	.any = {.v4 = htonl(0x08080808)},
};

struct conn c6 = {
	.saddr_v6 = {[15] = 1},
	.daddr_v6 = {0x20, 0x01, 0x0d, 0xb8, [15] = 2},
	.daddr = FIRST4(0x20010db8),
	.af = 10,
	.dport = htons(443),
	.sport = 1,
	.comm = "wget",
	.any = {.v6 = {[10] = 0xff, [11] = 0xff, 10, 0, 0, 1}},
};
