/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ecc.h - helpers for BPF programs built with `ecc build`.
 *
 * Doc-comment conventions read by ecc's metadata extractor
 * (`///` lines, or a doc block opened with slash-star-star, directly above a
 * global):
 *
 *   /// text                          description of the global (map, flag,
 *                                     program) shown by `ecli run --help`
 *   /// @cmdarg {"default": 0, "short": "p", "long": "pid"}
 *                                     above a `const volatile` global: expose
 *                                     it as a command-line flag; the JSON may
 *                                     also carry "help"; the C initialiser
 *                                     should equal "default"
 *   /// @sample {"interval": 1000, "type": "log2_hist", "unit": "usecs",
 *   ///          "clear_map": false}
 *                                     above a map: dump it every interval ms;
 *                                     type is log2_hist | linear_hist |
 *                                     default_kv
 *   /// @brief ... / @details ... / @version 0.1.0
 *                                     above `char LICENSE[]`: one-line summary,
 *                                     longer text and version of the tool
 *   /// @format ipv4                  above a member of a struct in the export
 *                                     header: how ecli prints it; one of ipv4,
 *                                     ipv6, ip (v4 or v6 by the struct's af or
 *                                     family member), be (network byte order
 *                                     integer), string (a __u8 array as text),
 *                                     hex, raw (as the C type says)
 *
 * Event export: a ring buffer or perf event array map needs to be tied to the
 * C type of the records it carries.  Either pass an export header to
 * `ecc build` (every struct in it is exported), or bind the type here with
 * ECC_EXPORT(map, type) at file scope.
 */
#ifndef __ECC_H
#define __ECC_H

/*
 * ECC_EXPORT(map, type) - declare that records in `map` have C type `type`.
 *
 *     ECC_EXPORT(events, struct event);
 *
 * expands to an unused global pointer,
 *
 *     struct event *__ecc_export__events __attribute__((unused));
 *
 * which keeps the type in the object's BTF even if the program only ever
 * writes raw bytes.  The metadata extractor matches the `__ecc_export__`
 * prefix (and eunomia's `__eunomia_dummy_<struct>_ptr` spelling), takes the
 * map name from the suffix and the record type from the pointee.
 */
#define ECC_EXPORT(map, type) type *__ecc_export__##map __attribute__((unused))

/*
 * Address types.  ecli prints members of these types as addresses, in text
 * and JSON, whatever the members are named:
 *
 *   ecc_ipv4_t  an IPv4 address as the kernel stores it (network order):
 *                   e->saddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
 *               prints 127.0.0.1
 *   ecc_ipv6_t  an IPv6 address, 16 bytes:
 *                   BPF_CORE_READ_INTO(&e->saddr6, sk, __sk_common.skc_v6_rcv_saddr);
 *               prints ::1 (an IPv4-mapped address as ::ffff:1.2.3.4)
 *   ecc_ip_t    either, chosen per event by the struct's address family
 *               member (named af, family or *_family; AF_INET = 2,
 *               AF_INET6 = 10): .v4 prints as IPv4 when it is AF_INET,
 *               the 16 bytes as IPv6 otherwise (and without such a member).
 *                   e->family = family;
 *                   if (family == AF_INET)
 *                       e->daddr.v4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
 *                   else
 *                       BPF_CORE_READ_INTO(&e->daddr.v6, sk, __sk_common.skc_v6_daddr);
 *
 * Members of other types print as addresses too when named as libbpf-tools
 * name them (saddr, daddr, saddr_v4, saddr_v6, ...), and ports of type
 * __be16 print in host order; see ecc's docs/guide.md, "Output".
 */
typedef unsigned int ecc_ipv4_t;
typedef unsigned char ecc_ipv6_t[16];
typedef union {
	unsigned int v4;
	unsigned char v6[16];
} ecc_ip_t;

#endif /* __ECC_H */
