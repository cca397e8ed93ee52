// Package usdt reads the USDT probes (SystemTap SDT notes) of executables
// and shared libraries and turns them into what libbpf's <bpf/usdt.bpf.h>
// reads at run time, as libbpf's usdt.c does:
//
//   - Open reads the .note.stapsdt notes (provider, name, probe address,
//     .stapsdt.base address, semaphore address, argument string), adjusts
//     the addresses when the binary was prelinked (its .stapsdt.base moved),
//     and keeps the PT_LOAD segments to translate addresses to file offsets.
//   - File.Sites returns the sites of one probe (inlined probes have
//     several): the uprobe file offset, the semaphore's file offset (the
//     uprobe ref_ctr_offset) and the parsed arguments.
//   - ParseArgs parses argument strings for x86_64 ("-4@%eax",
//     "8@-8(%rbp)", "-4@$5", "8@sym(%rip)") and arm64 ("-4@x0",
//     "8@[sp, 8]", "-4@5") into struct __bpf_usdt_arg_spec values, with
//     offsetof(struct pt_regs, reg) from a table per architecture.
//   - Spec.MarshalBinary encodes struct __bpf_usdt_spec.
//
// It touches no kernel state; runtime/attach attaches the uprobes.
// Malformed binaries give errors, never panics.
package usdt
