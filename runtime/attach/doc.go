// Package attach attaches loaded BPF programs the way libbpf's
// auto-attach does: from their ELF section name (SEC("...")).
//
// It works in two steps. PlanFor reads a program's section name and the
// user's Options (ecli run's --ifname, --cgroup, --uprobe, --usdt, --pid
// and --freq; CheckOptions checks the --usdt values against the programs)
// and returns a Plan: the Kind of attachment and its target.
// PlanAll does it for a whole object, applying the rules that need every
// program (uprobe targets, twins). Planning touches no kernel state, so
// problems surface before anything is loaded, as *PlanError: those of the
// user's flags (a missing --ifname or --cgroup, a malformed --uprobe value) stop the
// run; those of one program (a bare SEC("uprobe") nobody gave a target, a
// binary its section names that is not installed, a placeholder target,
// an unknown section name) skip that program (PlanError.Skip) while the
// others run. Attach then performs the plan for the loaded *ebpf.Program
// and returns a Link; closing it detaches the program.
//
// Sections and what Attach does with them:
//
//	tracepoint/GROUP/NAME, tp/GROUP/NAME          Tracepoint: link.Tracepoint
//	raw_tracepoint[.w]/NAME, raw_tp[.w]/NAME       RawTracepoint: link.AttachRawTracepoint
//	tp_btf/NAME, fentry/F, fexit/F, fmod_ret/F,    TracingBTF: link.AttachTracing
//	  and their .s (sleepable) variants
//	lsm/HOOK, lsm.s/HOOK                           TracingBTF: link.AttachLSM
//	kprobe/F[+OFF], kretprobe/F                    Kprobe, Kretprobe: link.Kprobe, link.Kretprobe
//	ksyscall/NAME, kretsyscall/NAME                Ksyscall, Kretsyscall: k(ret)probe on the syscall
//	                                               wrapper (__x64_sys_NAME; sys_NAME without wrappers)
//	kprobe.multi/GLOB, kretprobe.multi/GLOB        KprobeMulti, KretprobeMulti: link.KprobeMulti over
//	                                               the matching available_filter_functions
//	uprobe[.s]/BIN:SYM[+OFF], uretprobe[.s]/...    Uprobe, Uretprobe (BIN may be absolute, as in
//	  (SYM alone or bare: --uprobe)                uprobe//bin/bash:readline, relative, a command on
//	                                               $PATH, or a library such as libc.so.6); --pid filters
//	uprobe.multi[.s]/BIN:GLOB, uretprobe.multi...  UprobeMulti, UretprobeMulti
//	usdt[.s]/BIN:PROVIDER:NAME                     USDT: a uprobe per site of the probe (runtime/attach/usdt
//	  (bare usdt: --usdt [PROG=]BIN:P:N)           reads the notes), its spec in __bpf_usdt_specs for
//	                                               <bpf/usdt.bpf.h>, the semaphore as ref_ctr_offset;
//	                                               --pid filters
//	iter[.s]/NAME                                  Iter: link.AttachIter; IterLink.Open reads it
//	xdp, xdp.frags                                 XDP on --ifname: driver mode, else generic mode
//	tc, classifier, tc/ingress, tc/egress          TC on --ifname: TCX (6.6+), else a clsact qdisc
//	                                               and a direct-action bpf filter over netlink
//	tcx/ingress, tcx/egress                        TCX on --ifname: TCX only
//	cgroup_skb/ingress|egress, cgroup/sock_create, Cgroup: link.AttachCgroup on --cgroup (required:
//	  cgroup/connect4, cgroup/sysctl, sockops,     --cgroup /sys/fs/cgroup, CgroupRoot, is the root)
//	  cgroup/dev, lsm_cgroup/HOOK, ...
//	socket                                         SocketFilter: SO_ATTACH_BPF on an AF_PACKET socket
//	                                               bound to --ifname (it observes, it cannot drop)
//	perf_event                                     PerfEvent: software cpu-clock at --freq Hz
//	                                               (default 49) on every online CPU
//
// Programs that only user space could attach (struct_ops, sk_msg, sk_skb,
// sk_reuseport, sk_lookup, flow_dissector, freplace, xdp/devmap, lwt_*,
// action, netfilter, syscall, *.session, cgroup/skb, iter/bpf_map_elem,
// sections that name no target such as a bare SEC("kprobe"), and sections
// that name no valid one such as SEC("tp/unused"), often tail calls) get a
// Plan of Kind Manual whose Reason says why; Attach refuses them with
// ErrManual, and the runtime leaves them loaded but unattached, with a
// note. A section no libbpf version knows is attached by the program type
// cilium/ebpf gave it (XDP on --ifname, SchedCLS as tc, ...); SEC(".xdp")
// and other known names behind leading dots get that section's type
// (SetLegacyTypes); anything else is skipped, naming the section and the
// closest known name. The section table itself is packager/section's,
// which ecc build checks programs against.
// fentry/fexit/fmod_ret/kprobe/kretprobe targets named dummy_* that are no
// kernel function are libbpf-tools' placeholders, retargeted by their user
// space: those programs are skipped with a message saying so.
//
// # Uprobe targets
//
//  1. --uprobe PROG=BINARY:SYMBOL[+OFFSET] (or PROG=BINARY:ADDRESS) gives
//     program PROG its target, whatever its section says; PROG=BINARY gives
//     it a binary for the function its section names.
//  2. A section naming BINARY:SYMBOL (uprobe//bin/bash:readline,
//     uprobe/libc.so.6:malloc, uprobe/./app:main) is used as it is.
//  3. A section naming a function alone (uretprobe/readline, as
//     libbpf-tools write them for their user space to attach) takes its
//     binary from an --uprobe BINARY, or from an --uprobe BINARY:SYMBOL
//     with the same SYMBOL. Of several binaries, the one defining the
//     function is taken. Without one the program is skipped with a warning
//     saying which flag to pass.
//  4. A bare SEC("uprobe") or SEC("uretprobe") takes the --uprobe
//     BINARY:SYMBOL given without PROG= (and not used by rule 3) only when
//     the object's bare programs without PROG= are at most one entry probe
//     and at most one return probe: the entry/return pair of one function,
//     as ecc's uprobe template has. With more (memleak has a dozen), such a
//     value is a usage error listing them: each needs PROG=. A bare program
//     left without target is skipped with a warning.
//
// Binaries are paths (absolute, or relative to the working folder),
// library names containing ".so" (searched in $LD_LIBRARY_PATH, the system
// library folders, then the working folder) or command names (on $PATH,
// then in the working folder). Symbols are resolved by ecli (elfsym.go):
// NAME is the default version of a versioned symbol (NAME@VERSION and
// NAME@@VERSION pick one), GLOBAL wins over WEAK over LOCAL, an ambiguous
// name or an IFUNC is an error, and cilium/ebpf is given the file offset.
//
// # Twins
//
// tp_btf/X, raw_tp/X and tp/GROUP/X hook the same tracepoint; fentry/F,
// kprobe/F and ksyscall/NAME (F its wrapper) the entry of F; fexit/F,
// kretprobe/F and kretsyscall/NAME its return. When an object has programs
// of different kinds on one hook, Twins groups them, preferred kind first
// (tp_btf, raw_tp, tp; fentry, kprobe; fexit, kretprobe), and the runtime
// loads and attaches only the first kind that works. Programs of one kind
// on one hook are all attached.
//
// Errors meaning "this kernel cannot do that" (CONFIG_KPROBES off, no
// fprobe, fentry/lsm refused with EPERM, no TCX, ...) satisfy
// IsNotSupported; those from Attach also match ErrNotSupported. EnsureFS
// mounts tracefs, debugfs and bpffs where they are missing.
package attach
