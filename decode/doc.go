// Package decode formats binary values, usually the events BPF programs
// send through ring buffers and perf event arrays, using their BTF type.
//
// [New] compiles a [btf.Type] once into a plan; [Decoder.AppendJSON] and
// [Decoder.AppendText] then format any number of events by appending to a
// caller's buffer, without allocating, reflection or map lookups.
//
//	dec, err := decode.New(eventType, nil)
//	...
//	buf = buf[:0]
//	buf, err = dec.AppendJSON(buf, record.RawSample)
//
// # Formats
//
// JSON gives one value per event, an object for a struct, with the C
// member names as keys in declaration order. The text format gives one
// table row per event: the top-level members as cells separated by a
// space, each padded to its [Column] width (numbers right-aligned, the
// rest left-aligned; the last cell is not padded on the right), with
// nested structs, unions and arrays written compactly as {a=1 b=2} and
// [1,2,3]. [Decoder.AppendHeader] writes the matching header line.
//
// Values are printed as follows. Text prints them as JSON does, except
// that strings, enumerator names, pointers and non-finite floats are not
// quoted and strings are escaped differently (see char[N]).
//
//   - Integers of 1, 2, 4 and 8 bytes, and __int128 of 16 bytes, in full
//     decimal, signed as their BTF encoding says. JSON numbers beyond 2^53
//     are exact in the output, whatever JavaScript makes of them.
//   - A lone char (or signed/unsigned char, __u8, ...) is a number, as
//     eunomia-bpf's ecli prints it: it is usually a small integer, not a
//     letter.
//   - __be16, __be32 and __be64 (the typedef names, as vmlinux.h and
//     linux/types.h spell them) hold integers in network byte order: they
//     print in host order, whatever the program's byte order (a port 8080
//     prints 8080, not 36895). __le16, __le32 and __le64 are read as
//     little-endian.
//   - bool (the BTF Bool encoding): true or false; any non-zero byte is
//     true.
//   - char[N] and unsigned char[N] are strings: the type of their
//     elements, with const/volatile skipped but not typedefs, must be the
//     1-byte int named "char" or "unsigned char" (or with the Char
//     encoding). So char comm[16] and unsigned char comm[16] are "bash",
//     while __u8 buf[16] (and vmlinux.h's u8, a typedef too) and signed
//     char buf[16] are arrays of numbers. A string stops at the first NUL
//     or at the end of the array.
//     In JSON, quotes, backslashes, control characters and DEL are escaped and
//     bytes that are not valid UTF-8 become U+FFFD, so the output is
//     always valid JSON. In text, strings are not quoted; backslashes,
//     control characters, unprintable runes and invalid bytes appear as
//     \\, \n, \r, \t and \xNN.
//   - Other arrays, including multi-dimensional ones (arrays of arrays;
//     char[4][16] is an array of 4 strings) and arrays of structs, are
//     JSON arrays.
//   - Structs are objects. A union is an object with all its members, each
//     read from the same bytes. Members of anonymous structs and unions
//     appear in their parent, as C accesses them; other anonymous members
//     (padding bitfields such as int :3) are left out.
//   - Enums print the name of the enumerator with the value, a JSON
//     string; values without one, flag combinations included, print as
//     numbers. Enums of 1, 2, 4 and 8 bytes, signed or not.
//   - Bitfields of any offset and size up to 128 bits, of integer, bool or
//     enum type, print like their type; signed ones are sign-extended.
//     For big-endian data, bit offsets count from the most significant
//     bit of the first byte, as compilers lay them out.
//   - Floats of 2, 4 and 8 bytes print with the fewest digits that read
//     back as the same value, with an exponent only below 1e-6 and from
//     1e21 up. NaN and infinities, which JSON numbers cannot express, are
//     the strings "NaN", "Infinity" and "-Infinity" (unquoted in text).
//     Floats of other sizes, which BPF programs do not have (long double
//     is 8 bytes there), print their bytes in hex, "0x…", in memory order.
//   - Pointers are hex strings, "0x7ffd5e2a1c40", "0x0" for NULL; they are
//     not followed.
//   - Typedefs, const, volatile, restrict and type tags are transparent.
//   - A zero-length array that is the last member of the top-level struct
//     (a C flexible array member, char data[] or __u64 ips[]) holds what
//     the event brings beyond the member's offset: as many whole elements
//     as fit, or a string up to the first NUL or the end of the event.
//     Since perf event arrays pad records to 8 bytes, the padding may show
//     up there. Zero-length arrays elsewhere print as [] or "".
//   - A datasec (a .data, .bss or .rodata section) prints like a struct of
//     its variables.
//
// # Addresses
//
// IPv4 addresses print as 127.0.0.1 and IPv6 addresses in RFC 5952 text
// as net/netip prints them (::1, fe80::1, 2001:db8::2; IPv4-mapped ones
// as ::ffff:127.0.0.1), JSON strings. Their bytes are read in memory
// order (network order, as the kernel stores addresses), whatever the
// integer type that holds them. A value is an address when:
//
//   - its type is one of <ecc.h>'s typedefs: ecc_ipv4_t (4 bytes, IPv4),
//     ecc_ipv6_t (16 bytes, IPv6) or ecc_ip_t (a union of unsigned int v4
//     and unsigned char v6[16]: IPv4 in the first 4 bytes when the
//     family member says AF_INET, IPv6 otherwise);
//   - [Options.Formats] gives its member a format (an @format doc comment
//     in the export header; see [Format]);
//   - or, as libbpf-tools name them, its member is named saddr, daddr,
//     src_ip, dst_ip, src_addr, dst_addr, laddr, raddr, local_addr or
//     remote_addr, optionally followed by _v4 or _v6, and its type
//     holds an address: an integer of 4 bytes (__u32, __be32: IPv4) or of
//     16 (unsigned __int128), an array of integers of 4 or 16 bytes
//     (__u8[16], unsigned char[16], __u32[4]; not char[N], which may hold
//     the address as text), struct in_addr, struct in6_addr, or a union
//     of such integers and arrays. Members of 4 bytes are IPv4. Members of
//     16 bytes are IPv6 when named _v6; otherwise the family member
//     chooses: the first 4 bytes as IPv4 for AF_INET, IPv6 for anything
//     else, and IPv6 when the struct has no family member.
//
// The family member is the first member of the same struct (members of
// anonymous structs and unions count as its own) named af, family or
// ending in _family, an integer or enum of 1, 2, 4 or 8 bytes; AF_INET is
// 2 and AF_INET6 10, as Linux numbers them. When a struct has a family
// member and both a 4-byte X_v4 and a 16-byte X_v6 member of the same
// name X (saddr_v4 and saddr_v6, usually an anonymous union), only one of
// them prints: X_v6 when the family is AF_INET6, X_v4 otherwise. In JSON
// the other one is left out (the keys stay the C names: "saddr_v4" or
// "saddr_v6"); in text the pair is one column named X (SADDR). Ports are
// not converted by name: libbpf-tools store __u16 ports in host order
// already; only __be16 ones are swapped.
//
// [Options.Plain] turns all of this off (and the __be typedefs): values
// print as their C types say.
//
// # Member formats
//
// [Options.Formats] gives members of named structs a [Format], as an
// `/// @format NAME` doc comment above the member in an export header
// does (ecc carries it in the package as export_types[].members[].format):
//
//   - ipv4: 4 bytes as an IPv4 address;
//   - ipv6: 16 bytes as an IPv6 address;
//   - ip: 16 bytes chosen by the family member as above (4 bytes: IPv4);
//   - be: an integer of 2, 4 or 8 bytes in network order, as __be16;
//   - string: an array of 1-byte integers (__u8 name[16]) as a string;
//   - hex: an integer of 1, 2, 4 or 8 bytes as 0x and its value in hex
//     (0x1f), any other value as 0x and its bytes in memory order; a JSON
//     string;
//   - raw: as the C type says, without the conventions above.
//
// A format replaces the member-name conventions. The address formats
// apply to any value of the right size but floats, pointers, bools and
// bitfields.
//
// # Short events
//
// An event shorter than [Decoder.Size] (libbpf-tools' execsnoop sends
// offsetof(struct event, args) + args_size bytes; perf event arrays and
// iterators may cut records) prints as far as it goes, and never fails:
// members wholly past the end are left out of JSON objects and print as
// blank cells in text; a struct, union or array cut short prints the
// members and elements it holds; a string cut short stops at the end of
// the data (so a char args[N] member holds what was sent); a scalar cut
// short is left out like a missing member (an event of a scalar type
// prints null). [Decoder.MinSize] tells how many bytes the first member
// needs. Reading a short event does not allocate either.
//
// # Choosing members and filtering
//
// [Decoder.Select] returns a decoder that prints some top-level members,
// in a given order, in both formats ([Decoder.Fields] lists the names it
// takes); [Decoder.NewMatcher] compiles [Filter]s ([ParseFilter] reads
// pid==42, comm~^ba, ret<0) into a [Matcher] that tells from the event
// data, before anything is formatted, whether an event passes. Integers,
// enums and bools compare as values, char[N] as bytes, other members by
// their text. Neither allocates per event.
//
// # Text column widths
//
// [Decoder.Columns] suggests widths from each member's type, at least the
// length of its name: 3/4 for unsigned/signed 1-byte integers, 5/6 for
// 2-byte, 7 for 4-byte (pids, uids, error codes), 16 for 8-byte and 20
// for 16-byte integers; for bitfields the digits of their largest value up
// to 7, or 16 above 32 bits; 5 for bools; the longest enumerator (4 to
// 24); 10 for float, 12 for double; 18 for pointers; N up to 32 for
// char[N]; 15 for IPv4 addresses, addresses chosen by family and address
// pairs, 25 for IPv6 addresses; 2 + 2 × size for hex; nothing for
// structs, unions and arrays. Wider values push the rest of the row to the
// right. Padding counts characters, not bytes.
//
// # Errors
//
// New fails, with an error wrapping [ErrUnsupportedType], for types
// without a value (void, functions, forward declarations), types of size
// 0, self-containing or too deeply nested types, members that lie outside
// their struct, types that expand to more values than Options.MaxValues,
// and formats that are unknown or do not fit their member. The Append
// methods do not fail on event data of any length (shorter events print
// as far as they go, longer ones print their extra bytes only in a
// flexible array member) and never panic; AppendCell fails only for a
// column that does not exist.
package decode
