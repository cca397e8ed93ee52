// Package vmlinux generates a C header declaring every type of a BTF blob,
// the file eBPF programs include as "vmlinux.h".
//
// The output is meant to be equivalent to what
//
//	bpftool btf dump file /sys/kernel/btf/vmlinux format c
//
// prints: types appear in an order a C compiler accepts (embedded structs
// before their containers, forward declarations for pointer cycles),
// anonymous structs, unions and enums are written inline, bitfields, padding
// and packed layouts reproduce the exact offsets and sizes recorded in BTF,
// and clashing names get a "___N" suffix. Records are wrapped in clang's
// preserve_access_index attribute so that field accesses become CO-RE
// relocations, unless BPF_NO_PRESERVE_ACCESS_INDEX is defined.
//
// Types are read through github.com/cilium/ebpf/btf:
//
//	spec, err := btf.LoadSpec("/sys/kernel/btf/vmlinux")
//	if err != nil { ... }
//	err = vmlinux.WriteFile("vmlinux.h", spec, nil)
//
// Building a btf.Spec of vmlinux costs more than the rest of the work put
// together; WriteFromReader decodes the BTF itself and writes the same
// header several times faster (about twice as fast as bpftool).
//
// Variables, data sections and declaration tags are not emitted, like
// bpftool. Functions are not either, except kfuncs: like recent bpftool
// (7.5 and later), the header ends with an extern __weak __ksym declaration
// of every function BTF tags "bpf_kfunc", sorted by name, in a block that a
// program turns off by defining BPF_NO_KFUNC_PROTOTYPES (Options.NoKfuncs
// leaves it out, with the __ksym/__weak fallbacks it needs).
//
// Where bpftool's output would not reproduce the layout recorded in BTF,
// this package differs from it: one-byte enums get
// __attribute__((mode(byte))), unions BTF records larger than their members
// get an unnamed padding member, and __builtin_va_list (which is not
// written out, being a compiler builtin) is laid out with the BPF target's
// size, 8 bytes, so that records containing a va_list keep their size.
package vmlinux
