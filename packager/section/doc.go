// Package section knows the program section names of BPF objects: the
// SEC("...") strings libbpf understands, what kind of attachment each
// stands for, and which names neither libbpf nor ecli knows.
//
// The table mirrors libbpf's section_defs (and cilium/ebpf's
// elf_sections.go). It is part of the package format: meta.bpf_skel.progs
// records the full section string of every program, and ecli attaches
// each program by looking its section up here. ecc build looks the same
// table up (Check), so a misspelt SEC("tracepont/...") fails the build
// with a suggestion instead of being skipped by ecli at run time.
//
// This package holds the names and kinds only; runtime/attach turns a
// section into an attachment.
package section
