// Package ctype is C's view of BTF types, for the packages that each
// needed it: metadata extraction (packager/extract), value decoding
// (decode), program flags (runtime/progflags) and Wasm bindings
// (compiler/wasmgen).
//
//   - [TypeName] and [VarTypeName] spell a type as C does in an abstract
//     declarator ("pid_t", "char[16]", "const char *", "int (*)[4]"), the
//     way eunomia-bpf's metadata writes types.
//   - [CharOf] says which C character type a 1-byte integer is, with
//     qualifiers skipped but not typedefs, so each caller can state its
//     rule for strings: decode prints char[N] and unsigned char[N] as
//     strings (not __u8[N], a typedef); progflags also takes signed
//     char[N] as a string.
//
// Following typedefs and qualifiers is cilium/ebpf's: btf.UnderlyingType
// skips both, btf.QualifiedType only qualifiers (const, volatile,
// restrict, type tags). Both give up after 32 levels.
package ctype
