// Package attach attaches loaded BPF programs the way libbpf's
// auto-attach does: from their ELF section name (SEC("...")).
//
// It works in two steps. PlanFor reads a program's section name and the
// user's Options (ecli run's --ifname, --cgroup, --uprobe, --usdt, --pid
// and --freq; CheckOptions checks those concerning several programs) and
// returns a Plan: the Kind of attachment and its target. It
// touches no kernel state, so usage errors (a missing --ifname, a bare
// SEC("uprobe") without --uprobe, a malformed target, an unknown section)
// surface before anything is loaded. Attach then performs the plan for the
// loaded *ebpf.Program and returns a Link; closing it detaches the program.
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
//	  (bare uprobe/uretprobe: --uprobe)            uprobe//bin/bash:readline, a command on $PATH, or
//	                                               a library such as libc.so.6); --pid filters
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
//	cgroup_skb/ingress|egress, cgroup/sock_create, Cgroup: link.AttachCgroup on --cgroup (default:
//	  cgroup/connect4, cgroup/sysctl, sockops,     the cgroup v2 root, CgroupRoot)
//	  cgroup/dev, lsm_cgroup/HOOK, ...
//	socket                                         SocketFilter: SO_ATTACH_BPF on an AF_PACKET socket
//	                                               bound to --ifname (it observes, it cannot drop)
//	perf_event                                     PerfEvent: software cpu-clock at --freq Hz
//	                                               (default 49) on every online CPU
//
// Programs that only user space could attach (struct_ops, sk_msg, sk_skb,
// sk_reuseport, sk_lookup, flow_dissector, freplace, xdp/devmap, lwt_*,
// action, netfilter, syscall, *.session, cgroup/skb, iter/bpf_map_elem,
// and sections that name no target such as a bare SEC("kprobe")) get a Plan
// of Kind Manual whose Reason says why; Attach refuses them with ErrManual,
// and the runtime leaves them loaded but unattached. A section no libbpf
// version knows is an error naming it.
//
// Errors meaning "this kernel cannot do that" (CONFIG_KPROBES off, no
// fprobe, fentry/lsm refused with EPERM, no TCX, ...) satisfy
// IsNotSupported; those from Attach also match ErrNotSupported. EnsureFS
// mounts tracefs, debugfs and bpffs where they are missing.
package attach
