// Package bpfobj reads BPF ELF objects into cilium/ebpf collection specs,
// the one way ecc (metadata, Wasm bindings) and ecli (loading) read them:
// LoadSpec is ebpf.LoadCollectionSpecFromReader after the fixes that
// objects built with libbpf's headers need before cilium/ebpf v0.22
// accepts them, each made in a copy of the bytes:
//
//   - Weak map definitions. libbpf's <bpf/usdt.bpf.h> declares its maps
//     __weak (so that several objects of a static link may each carry
//     them); cilium/ebpf refuses relocations against weak map symbols.
//     Inside one object a weak definition is the definition, so
//     PromoteWeakMaps turns STB_WEAK symbols of map sections into
//     STB_GLOBAL.
//   - Hidden global functions. usdt.bpf.h's bpf_usdt_arg() and friends are
//     __weak __hidden: libbpf gives such functions static linkage in BTF,
//     so the verifier checks them with their caller instead of alone (where
//     "long *res" could be NULL). LoadSpec does the same (HiddenFuncs).
//   - __kconfig externs. cilium/ebpf refuses weak ones while reading the
//     object ("unsupported binding: STB_WEAK") and, when loading, resolves
//     the others more strictly than libbpf (LINUX_KERNEL_VERSION must be a
//     bare 32-bit int, every CONFIG_* must exist, a kernel config file must
//     be found). BTF lists the externs in a data section named ".kconfig";
//     HideKconfig renames it KconfigDatasec, so that cilium/ebpf reads the
//     loads of those externs as plain symbol references
//     (Instruction.Reference is the extern's name) and runtime/loader
//     resolves them the way libbpf does.
package bpfobj
