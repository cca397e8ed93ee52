// Package ctype is C's view of BTF types, shared by metadata extraction
// (packager/extract) and the runtime's messages.
//
//   - [TypeName] and [VarTypeName] spell a type as C does in an abstract
//     declarator ("pid_t", "char[16]", "const char *", "int (*)[4]"), the
//     way eunomia-bpf's metadata writes types.
//
// Following typedefs and qualifiers is cilium/ebpf's: btf.UnderlyingType
// skips both, btf.QualifiedType only qualifiers (const, volatile,
// restrict, type tags). Both give up after 32 levels.
package ctype
