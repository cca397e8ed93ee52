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
//   - bool (the BTF Bool encoding): true or false; any non-zero byte is
//     true.
//   - char[N] is a string: the type of its elements, with const/volatile
//     skipped but not typedefs, must be the 1-byte int named "char" (or
//     with the Char encoding). So char comm[16] is "bash", while __u8
//     buf[16], unsigned char buf[16] and signed char buf[16] are arrays of
//     numbers. A string stops at the first NUL or at the end of the array.
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
// # Text column widths
//
// [Decoder.Columns] suggests widths from each member's type, at least the
// length of its name: 3/4 for unsigned/signed 1-byte integers, 5/6 for
// 2-byte, 7 for 4-byte (pids, uids, error codes), 16 for 8-byte and 20
// for 16-byte integers; for bitfields the digits of their largest value up
// to 7, or 16 above 32 bits; 5 for bools; the longest enumerator (4 to
// 24); 10 for float, 12 for double; 18 for pointers; N up to 32 for
// char[N]; nothing for structs, unions and arrays. Wider values push the
// rest of the row to the right. Padding counts characters, not bytes.
//
// # Errors
//
// New fails, with an error wrapping [ErrUnsupportedType], for types
// without a value (void, functions, forward declarations), types of size
// 0, self-containing or too deeply nested types, members that lie outside
// their struct, and types that expand to more values than
// Options.MaxValues. The Append methods fail, with an error wrapping
// [ErrShortData] and dst unchanged, for events shorter than
// [Decoder.Size]; longer events are fine. They never panic.
package decode
