// Package progscan reads a BPF object's instructions to learn what its
// programs do with their maps and globals, the facts a generic runtime
// needs and that libbpf-based tools keep in their hand-written user space:
// which maps hold results (written, never deleted from), which hold
// transient state (programs delete from them) or scratch space (their
// values are copied out to a buffer), which maps only configure the
// programs (only read), how many bytes each program submits to a ring
// buffer or perf event array, which globals the programs write, and
// whether they call bpf_printk.
//
// The scan is a cheap abstract interpretation of each program (with its
// subprograms): registers and 8-byte stack slots hold map and global
// pointers, map value pointers from bpf_map_lookup_elem and small
// constants; states meet at forward jump targets and loops are followed
// once. It never fails on unusual code: what it cannot follow it does not
// report.
package progscan
