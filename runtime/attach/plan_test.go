package attach

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/ecc-bpf/ecc/packager/section"
)

// planCase is one section form: the ProgramSpec cilium/ebpf makes of it
// (Type, AttachType, AttachTo as elf_sections.go sets them), the options,
// and the expected plan or error.
type planCase struct {
	sec    string
	typ    ebpf.ProgramType
	at     ebpf.AttachType
	to     string // AttachTo as cilium/ebpf sets it
	opts   Options
	want   Plan   // Program, Section and Type are filled in from the spec
	errHas string // if set, PlanFor must fail with an error containing it
	skip   bool   // with errHas: the error is a *PlanError with Skip (the others run)
	noTgt  string // if set, the plan is Manual, its reason says the section names no valid target and contains this
}

const testCgroup = "/sys/fs/cgroup/test.slice"

var (
	cgOpts = Options{Cgroup: testCgroup}
	ifOpts = Options{IfName: "eth0"}
)

func planCases(t *testing.T) []planCase {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("no sh on PATH: %v", err)
	}
	sh, _ = filepath.Abs(sh)
	sysPrefix := SyscallPrefix(runtime.GOARCH)
	up := func(kind Kind, bin, sym string, off uint64, pid int) Plan {
		return Plan{Kind: kind, Binary: bin, Symbol: sym, Offset: off, PID: pid}
	}
	manual := func(reason string) Plan { return Plan{Kind: Manual, Reason: reason} }
	cg := func(at ebpf.AttachType) Plan { return Plan{Kind: Cgroup, Attach: at, Cgroup: testCgroup} }

	return []planCase{
		// Tracepoints.
		{sec: "tracepoint/syscalls/sys_enter_openat", typ: ebpf.TracePoint, to: "syscalls/sys_enter_openat",
			want: Plan{Kind: Tracepoint, Group: "syscalls", Name: "sys_enter_openat"}},
		{sec: "tp/sched/sched_switch", typ: ebpf.TracePoint, to: "sched/sched_switch",
			want: Plan{Kind: Tracepoint, Group: "sched", Name: "sched_switch"}},
		{sec: "?tp/sched/sched_switch", typ: ebpf.TracePoint, to: "sched/sched_switch",
			want: Plan{Kind: Tracepoint, Group: "sched", Name: "sched_switch"}},
		{sec: "tracepoint/sys_enter_openat", typ: ebpf.TracePoint, to: "sys_enter_openat", noTgt: "malformed tracepoint"},
		{sec: "tp/a/b/c", typ: ebpf.TracePoint, to: "a/b/c", noTgt: "malformed tracepoint"},
		{sec: "tp/syscalls/", typ: ebpf.TracePoint, to: "syscalls/", noTgt: "malformed tracepoint"},
		{sec: "tracepoint", typ: ebpf.TracePoint, want: manual(fmt.Sprintf(reasonNoTarget, "tracepoint"))},

		// Raw tracepoints.
		{sec: "raw_tracepoint/sched_switch", typ: ebpf.RawTracepoint, to: "sched_switch",
			want: Plan{Kind: RawTracepoint, Name: "sched_switch"}},
		{sec: "raw_tp/sys_enter", typ: ebpf.RawTracepoint, to: "sys_enter",
			want: Plan{Kind: RawTracepoint, Name: "sys_enter"}},
		{sec: "raw_tp.w/bpf_test_finish", typ: ebpf.RawTracepointWritable, to: "bpf_test_finish",
			want: Plan{Kind: RawTracepoint, Name: "bpf_test_finish"}},
		{sec: "raw_tracepoint.w/nbd_send_request", typ: ebpf.RawTracepointWritable, to: "nbd_send_request",
			want: Plan{Kind: RawTracepoint, Name: "nbd_send_request"}},
		{sec: "raw_tp", typ: ebpf.RawTracepoint, want: manual(fmt.Sprintf(reasonNoTarget, "raw_tp"))},

		// BTF-based tracing and LSM.
		{sec: "tp_btf/sched_switch", typ: ebpf.Tracing, at: ebpf.AttachTraceRawTp, to: "sched_switch",
			want: Plan{Kind: TracingBTF, Attach: ebpf.AttachTraceRawTp, Name: "sched_switch"}},
		{sec: "fentry/do_unlinkat", typ: ebpf.Tracing, at: ebpf.AttachTraceFEntry, to: "do_unlinkat",
			want: Plan{Kind: TracingBTF, Attach: ebpf.AttachTraceFEntry, Name: "do_unlinkat"}},
		{sec: "fexit/do_unlinkat", typ: ebpf.Tracing, at: ebpf.AttachTraceFExit, to: "do_unlinkat",
			want: Plan{Kind: TracingBTF, Attach: ebpf.AttachTraceFExit, Name: "do_unlinkat"}},
		{sec: "fmod_ret/security_task_alloc", typ: ebpf.Tracing, at: ebpf.AttachModifyReturn, to: "security_task_alloc",
			want: Plan{Kind: TracingBTF, Attach: ebpf.AttachModifyReturn, Name: "security_task_alloc"}},
		{sec: "fentry.s/__x64_sys_openat", typ: ebpf.Tracing, at: ebpf.AttachTraceFEntry, to: "__x64_sys_openat",
			want: Plan{Kind: TracingBTF, Attach: ebpf.AttachTraceFEntry, Name: "__x64_sys_openat"}},
		{sec: "fexit.s/__x64_sys_openat", typ: ebpf.Tracing, at: ebpf.AttachTraceFExit, to: "__x64_sys_openat",
			want: Plan{Kind: TracingBTF, Attach: ebpf.AttachTraceFExit, Name: "__x64_sys_openat"}},
		{sec: "lsm/file_open", typ: ebpf.LSM, at: ebpf.AttachLSMMac, to: "file_open",
			want: Plan{Kind: TracingBTF, Attach: ebpf.AttachLSMMac, Name: "file_open"}},
		{sec: "lsm.s/bprm_committed_creds", typ: ebpf.LSM, at: ebpf.AttachLSMMac, to: "bprm_committed_creds",
			want: Plan{Kind: TracingBTF, Attach: ebpf.AttachLSMMac, Name: "bprm_committed_creds"}},
		{sec: "fentry", typ: ebpf.Tracing, at: ebpf.AttachTraceFEntry, noTgt: "want fentry/NAME"},

		// Kernel probes.
		{sec: "kprobe/do_sys_openat2", typ: ebpf.Kprobe, to: "do_sys_openat2",
			want: Plan{Kind: Kprobe, Symbol: "do_sys_openat2"}},
		{sec: "kprobe/do_sys_openat2+0x10", typ: ebpf.Kprobe, to: "do_sys_openat2+0x10",
			want: Plan{Kind: Kprobe, Symbol: "do_sys_openat2", Offset: 16}},
		{sec: "kprobe/udp_send_skb.isra.52", typ: ebpf.Kprobe, to: "udp_send_skb.isra.52",
			want: Plan{Kind: Kprobe, Symbol: "udp_send_skb.isra.52"}},
		{sec: "kretprobe/do_sys_openat2", typ: ebpf.Kprobe, to: "do_sys_openat2",
			want: Plan{Kind: Kretprobe, Symbol: "do_sys_openat2"}},
		{sec: "kretprobe/do_sys_openat2+4", typ: ebpf.Kprobe, to: "do_sys_openat2+4", noTgt: "kretprobes take no offset"},
		{sec: "kprobe/do_sys_openat2+zz", typ: ebpf.Kprobe, to: "do_sys_openat2+zz", noTgt: "malformed kernel probe target"},
		{sec: "kprobe", typ: ebpf.Kprobe, want: manual(fmt.Sprintf(reasonNoTarget, "kprobe"))},
		{sec: "ksyscall/openat", typ: ebpf.Kprobe, to: "openat",
			want: Plan{Kind: Ksyscall, Name: "openat", Symbol: sysPrefix + "sys_openat"}},
		{sec: "kretsyscall/execve", typ: ebpf.Kprobe, to: "execve",
			want: Plan{Kind: Kretsyscall, Name: "execve", Symbol: sysPrefix + "sys_execve"}},
		{sec: "ksyscall/open+4", typ: ebpf.Kprobe, to: "open+4", noTgt: "malformed syscall name"},
		{sec: "kprobe.multi/do_sys_open*", typ: ebpf.Kprobe, at: ebpf.AttachTraceKprobeMulti, to: "do_sys_open*",
			want: Plan{Kind: KprobeMulti, Attach: ebpf.AttachTraceKprobeMulti, Symbol: "do_sys_open*"}},
		{sec: "kretprobe.multi/vfs_*", typ: ebpf.Kprobe, at: ebpf.AttachTraceKprobeMulti, to: "vfs_*",
			want: Plan{Kind: KretprobeMulti, Attach: ebpf.AttachTraceKprobeMulti, Symbol: "vfs_*"}},

		// User probes.
		{sec: "uprobe//bin/sh:main", typ: ebpf.Kprobe, to: "/bin/sh:main",
			want: up(Uprobe, "/bin/sh", "main", 0, 0)},
		{sec: "uretprobe//bin/sh:main", typ: ebpf.Kprobe, to: "/bin/sh:main", opts: Options{PID: 42},
			want: up(Uretprobe, "/bin/sh", "main", 0, 42)},
		{sec: "uprobe//bin/sh:main+0x8", typ: ebpf.Kprobe, to: "/bin/sh:main+0x8",
			want: up(Uprobe, "/bin/sh", "main", 8, 0)},
		{sec: "uprobe//bin/sh:0x1234", typ: ebpf.Kprobe, to: "/bin/sh:0x1234",
			want: up(Uprobe, "/bin/sh", "", 0x1234, 0)},
		{sec: "uprobe/sh:main", typ: ebpf.Kprobe, to: "sh:main",
			want: up(Uprobe, sh, "main", 0, 0)},
		{sec: "uprobe.s//bin/sh:main", typ: ebpf.Kprobe, to: "/bin/sh:main",
			want: up(Uprobe, "/bin/sh", "main", 0, 0)},
		{sec: "uretprobe.s//bin/sh:main", typ: ebpf.Kprobe, to: "/bin/sh:main",
			want: up(Uretprobe, "/bin/sh", "main", 0, 0)},
		{sec: "uprobe", typ: ebpf.Kprobe, opts: Options{Uprobe: []string{"/bin/sh:main+4"}, PID: 7},
			want: up(Uprobe, "/bin/sh", "main", 4, 7)},
		{sec: "uretprobe", typ: ebpf.Kprobe, opts: Options{Uprobe: []string{"sh:main"}},
			want: up(Uretprobe, sh, "main", 0, 0)},
		{sec: "uprobe", typ: ebpf.Kprobe, errHas: "names no target: pass --uprobe prog42=BINARY:SYMBOL[+OFFSET], or --uprobe BINARY:SYMBOL", skip: true},
		{sec: "uretprobe", typ: ebpf.Kprobe, errHas: "names no target: pass --uprobe prog43=BINARY:SYMBOL", skip: true},
		{sec: "uprobe", typ: ebpf.Kprobe, opts: Options{Uprobe: []string{"/bin/sh"}}, errHas: `(--uprobe /bin/sh gives a binary but no function)`, skip: true},
		{sec: "uprobe//bin/sh:main", typ: ebpf.Kprobe, to: "/bin/sh:main", opts: Options{PID: -1}, errHas: "bad --pid -1"},
		{sec: "uprobe//bin/sh", typ: ebpf.Kprobe, to: "/bin/sh", errHas: "want BINARY:SYMBOL", skip: true},
		{sec: "uprobe//bin/sh:", typ: ebpf.Kprobe, to: "/bin/sh:", errHas: "no symbol after ':'", skip: true},
		{sec: "uprobe/:main", typ: ebpf.Kprobe, to: ":main", errHas: "no binary before ':'", skip: true},
		{sec: "uprobe//bin/sh:main+zz", typ: ebpf.Kprobe, to: "/bin/sh:main+zz", errHas: `bad offset "zz"`, skip: true},
		{sec: "uprobe//no/such/binary:main", typ: ebpf.Kprobe, to: "/no/such/binary:main", errHas: "binary /no/such/binary: stat", skip: true},
		{sec: "uprobe/no-such-command-ecc:main", typ: ebpf.Kprobe, to: "no-such-command-ecc:main", errHas: "binary no-such-command-ecc not found on $PATH", skip: true},
		{sec: "uprobe/libno-such-ecc.so.1:f", typ: ebpf.Kprobe, to: "libno-such-ecc.so.1:f", errHas: "library libno-such-ecc.so.1 not found", skip: true},
		{sec: "uprobe.multi//bin/sh:ma*", typ: ebpf.Kprobe, at: ebpf.AttachTraceUprobeMulti, to: "/bin/sh:ma*",
			want: Plan{Kind: UprobeMulti, Attach: ebpf.AttachTraceUprobeMulti, Binary: "/bin/sh", Symbol: "ma*"}},
		{sec: "uretprobe.multi//bin/sh:main", typ: ebpf.Kprobe, at: ebpf.AttachTraceUprobeMulti, to: "/bin/sh:main", opts: Options{PID: 3},
			want: Plan{Kind: UretprobeMulti, Attach: ebpf.AttachTraceUprobeMulti, Binary: "/bin/sh", Symbol: "main", PID: 3}},
		{sec: "uprobe.multi//bin/sh:main+4", typ: ebpf.Kprobe, at: ebpf.AttachTraceUprobeMulti, to: "/bin/sh:main+4", errHas: "without offset", skip: true},

		// Iterators.
		{sec: "iter/task", typ: ebpf.Tracing, at: ebpf.AttachTraceIter, to: "task",
			want: Plan{Kind: Iter, Attach: ebpf.AttachTraceIter, Name: "task"}},
		{sec: "iter.s/task_file", typ: ebpf.Tracing, at: ebpf.AttachTraceIter, to: "task_file",
			want: Plan{Kind: Iter, Attach: ebpf.AttachTraceIter, Name: "task_file"}},
		{sec: "iter/bpf_map", typ: ebpf.Tracing, at: ebpf.AttachTraceIter, to: "bpf_map",
			want: Plan{Kind: Iter, Attach: ebpf.AttachTraceIter, Name: "bpf_map"}},
		{sec: "iter/bpf_map_elem", typ: ebpf.Tracing, at: ebpf.AttachTraceIter, to: "bpf_map_elem",
			want: Plan{Kind: Manual, Name: "bpf_map_elem", Reason: reasonMapIter}},

		// Network devices.
		{sec: "xdp", typ: ebpf.XDP, at: ebpf.AttachXDP, opts: ifOpts,
			want: Plan{Kind: XDP, Attach: ebpf.AttachXDP, IfName: "eth0"}},
		{sec: "xdp.frags", typ: ebpf.XDP, at: ebpf.AttachXDP, opts: ifOpts,
			want: Plan{Kind: XDP, Attach: ebpf.AttachXDP, IfName: "eth0"}},
		{sec: "xdp_prog", typ: ebpf.XDP, at: ebpf.AttachXDP, opts: ifOpts, // cilium/ebpf's prefix match
			want: Plan{Kind: XDP, Attach: ebpf.AttachXDP, IfName: "eth0"}},
		{sec: "xdp", typ: ebpf.XDP, at: ebpf.AttachXDP, errHas: "pass --ifname NAME"},
		{sec: "xdp/devmap", typ: ebpf.XDP, at: ebpf.AttachXDPDevMap, want: manual(section.ReasonDevmap)},
		{sec: "xdp.frags/cpumap", typ: ebpf.XDP, at: ebpf.AttachXDPCPUMap, want: manual(section.ReasonDevmap)},
		{sec: "tc", typ: ebpf.SchedCLS, opts: ifOpts,
			want: Plan{Kind: TC, Attach: ebpf.AttachTCXIngress, IfName: "eth0"}},
		{sec: "classifier", typ: ebpf.SchedCLS, opts: ifOpts,
			want: Plan{Kind: TC, Attach: ebpf.AttachTCXIngress, IfName: "eth0"}},
		{sec: "tc/ingress", typ: ebpf.SchedCLS, at: ebpf.AttachTCXIngress, opts: ifOpts,
			want: Plan{Kind: TC, Attach: ebpf.AttachTCXIngress, IfName: "eth0"}},
		{sec: "tc/egress", typ: ebpf.SchedCLS, at: ebpf.AttachTCXEgress, opts: ifOpts,
			want: Plan{Kind: TC, Attach: ebpf.AttachTCXEgress, IfName: "eth0"}},
		{sec: "tcx/ingress", typ: ebpf.SchedCLS, at: ebpf.AttachTCXIngress, opts: ifOpts,
			want: Plan{Kind: TCX, Attach: ebpf.AttachTCXIngress, IfName: "eth0"}},
		{sec: "tcx/egress", typ: ebpf.SchedCLS, at: ebpf.AttachTCXEgress, opts: ifOpts,
			want: Plan{Kind: TCX, Attach: ebpf.AttachTCXEgress, IfName: "eth0"}},
		{sec: "tc", typ: ebpf.SchedCLS, errHas: "pass --ifname NAME"},
		{sec: "tcx/egress", typ: ebpf.SchedCLS, at: ebpf.AttachTCXEgress, errHas: "pass --ifname NAME"},
		{sec: "socket", typ: ebpf.SocketFilter, opts: ifOpts,
			want: Plan{Kind: SocketFilter, IfName: "eth0"}},
		{sec: "socket1", typ: ebpf.SocketFilter, opts: ifOpts,
			want: Plan{Kind: SocketFilter, IfName: "eth0"}},
		{sec: "socket", typ: ebpf.SocketFilter, errHas: "pass --ifname NAME"},

		// Cgroups.
		{sec: "cgroup_skb/ingress", typ: ebpf.CGroupSKB, at: ebpf.AttachCGroupInetIngress, opts: cgOpts, want: cg(ebpf.AttachCGroupInetIngress)},
		{sec: "cgroup_skb/egress", typ: ebpf.CGroupSKB, at: ebpf.AttachCGroupInetEgress, opts: cgOpts, want: cg(ebpf.AttachCGroupInetEgress)},
		{sec: "cgroup/sock_create", typ: ebpf.CGroupSock, at: ebpf.AttachCGroupInetSockCreate, opts: cgOpts, want: cg(ebpf.AttachCGroupInetSockCreate)},
		{sec: "cgroup/sock", typ: ebpf.CGroupSock, at: ebpf.AttachCGroupInetSockCreate, opts: cgOpts, want: cg(ebpf.AttachCGroupInetSockCreate)},
		{sec: "cgroup/sock_release", typ: ebpf.CGroupSock, at: ebpf.AttachCgroupInetSockRelease, opts: cgOpts, want: cg(ebpf.AttachCgroupInetSockRelease)},
		{sec: "cgroup/post_bind4", typ: ebpf.CGroupSock, at: ebpf.AttachCGroupInet4PostBind, opts: cgOpts, want: cg(ebpf.AttachCGroupInet4PostBind)},
		{sec: "cgroup/connect4", typ: ebpf.CGroupSockAddr, at: ebpf.AttachCGroupInet4Connect, opts: cgOpts, want: cg(ebpf.AttachCGroupInet4Connect)},
		{sec: "cgroup/connect6", typ: ebpf.CGroupSockAddr, at: ebpf.AttachCGroupInet6Connect, opts: cgOpts, want: cg(ebpf.AttachCGroupInet6Connect)},
		{sec: "cgroup/connect_unix", typ: ebpf.CGroupSockAddr, at: ebpf.AttachCgroupUnixConnect, opts: cgOpts, want: cg(ebpf.AttachCgroupUnixConnect)},
		{sec: "cgroup/bind4", typ: ebpf.CGroupSockAddr, at: ebpf.AttachCGroupInet4Bind, opts: cgOpts, want: cg(ebpf.AttachCGroupInet4Bind)},
		{sec: "cgroup/sendmsg4", typ: ebpf.CGroupSockAddr, at: ebpf.AttachCGroupUDP4Sendmsg, opts: cgOpts, want: cg(ebpf.AttachCGroupUDP4Sendmsg)},
		{sec: "cgroup/recvmsg6", typ: ebpf.CGroupSockAddr, at: ebpf.AttachCGroupUDP6Recvmsg, opts: cgOpts, want: cg(ebpf.AttachCGroupUDP6Recvmsg)},
		{sec: "cgroup/getpeername4", typ: ebpf.CGroupSockAddr, at: ebpf.AttachCgroupInet4GetPeername, opts: cgOpts, want: cg(ebpf.AttachCgroupInet4GetPeername)},
		{sec: "cgroup/getsockname6", typ: ebpf.CGroupSockAddr, at: ebpf.AttachCgroupInet6GetSockname, opts: cgOpts, want: cg(ebpf.AttachCgroupInet6GetSockname)},
		{sec: "cgroup/sysctl", typ: ebpf.CGroupSysctl, at: ebpf.AttachCGroupSysctl, opts: cgOpts, want: cg(ebpf.AttachCGroupSysctl)},
		{sec: "cgroup/getsockopt", typ: ebpf.CGroupSockopt, at: ebpf.AttachCGroupGetsockopt, opts: cgOpts, want: cg(ebpf.AttachCGroupGetsockopt)},
		{sec: "cgroup/setsockopt", typ: ebpf.CGroupSockopt, at: ebpf.AttachCGroupSetsockopt, opts: cgOpts, want: cg(ebpf.AttachCGroupSetsockopt)},
		{sec: "cgroup/dev", typ: ebpf.CGroupDevice, at: ebpf.AttachCGroupDevice, opts: cgOpts, want: cg(ebpf.AttachCGroupDevice)},
		{sec: "sockops", typ: ebpf.SockOps, at: ebpf.AttachCGroupSockOps, opts: cgOpts, want: cg(ebpf.AttachCGroupSockOps)},
		{sec: "lsm_cgroup/socket_bind", typ: ebpf.LSM, at: ebpf.AttachLSMCgroup, to: "socket_bind", opts: cgOpts, want: cg(ebpf.AttachLSMCgroup)},
		{sec: "cgroup/skb", typ: ebpf.CGroupSKB, opts: cgOpts, want: manual(section.ReasonCgroupSkb)},

		// Sampling.
		{sec: "perf_event", typ: ebpf.PerfEvent,
			want: Plan{Kind: PerfEvent, Attach: ebpf.AttachPerfEvent, Freq: DefaultFreq}},
		{sec: "perf_event", typ: ebpf.PerfEvent, opts: Options{Freq: 999},
			want: Plan{Kind: PerfEvent, Attach: ebpf.AttachPerfEvent, Freq: 999}},

		// USDT (probes in real binaries: usdt_test.go).
		{sec: "usdt", typ: ebpf.Kprobe, want: Plan{Kind: USDT}},
		{sec: "usdt.s", typ: ebpf.Kprobe, want: Plan{Kind: USDT}},
		{sec: "usdt/libc.so.6:libc:setjmp", typ: ebpf.Kprobe, to: "libc.so.6:libc:setjmp", errHas: "no such USDT probe libc:setjmp", skip: true},
		{sec: "usdt/sh:setjmp", typ: ebpf.Kprobe, to: "sh:setjmp", errHas: "want BINARY:PROVIDER:NAME"},
		{sec: "usdt/no-such-binary-ecc:a:b", typ: ebpf.Kprobe, to: "no-such-binary-ecc:a:b", errHas: "not found on $PATH", skip: true},
		{sec: "usdt", typ: ebpf.Kprobe, opts: Options{USDT: []string{"./no/such/file:a:b"}}, errHas: `--usdt target "./no/such/file:a:b"`},
		{sec: "usdt/sh:a:b", typ: ebpf.Kprobe, to: "sh:a:b", opts: Options{PID: -1}, errHas: "bad --pid"},

		// Known but not attached automatically.
		{sec: "struct_ops/dctcp_init", typ: ebpf.StructOps, want: manual(section.ReasonStructOps)},
		{sec: "struct_ops.s/x", typ: ebpf.StructOps, want: manual(section.ReasonStructOps)},
		{sec: "sk_msg", typ: ebpf.SkMsg, at: ebpf.AttachSkMsgVerdict, want: manual(section.ReasonSockmap)},
		{sec: "sk_skb/stream_verdict", typ: ebpf.SkSKB, at: ebpf.AttachSkSKBStreamVerdict, want: manual(section.ReasonSockmap)},
		{sec: "sk_skb/stream_parser", typ: ebpf.SkSKB, at: ebpf.AttachSkSKBStreamParser, want: manual(section.ReasonSockmap)},
		{sec: "sk_skb", typ: ebpf.SkSKB, want: manual(section.ReasonSockmap)},
		{sec: "sk_reuseport", typ: ebpf.SkReuseport, at: ebpf.AttachSkReuseportSelect, want: manual(section.ReasonReuseport)},
		{sec: "sk_lookup", typ: ebpf.SkLookup, at: ebpf.AttachSkLookup, want: manual(section.ReasonNetns)},
		{sec: "flow_dissector", typ: ebpf.FlowDissector, at: ebpf.AttachFlowDissector, want: manual(section.ReasonNetns)},
		{sec: "freplace/handler", typ: ebpf.Extension, to: "handler", want: manual(section.ReasonFreplace)},
		{sec: "syscall", typ: ebpf.Syscall, want: manual(section.ReasonSyscall)},
		{sec: "kprobe.session/do_sys_open", typ: ebpf.Kprobe, at: ebpf.AttachTraceKprobeSession, to: "do_sys_open", want: manual(section.ReasonSession)},
		{sec: "fsession/do_unlinkat", typ: ebpf.Tracing, at: ebpf.AttachType(58) /* BPF_TRACE_FSESSION, no constant in v0.22 */, to: "do_unlinkat", want: manual(section.ReasonFsession)},
		{sec: "lwt_xmit", typ: ebpf.LWTXmit, want: manual(section.ReasonLWT)},
		{sec: "action", typ: ebpf.SchedACT, want: manual(section.ReasonAction)},
		{sec: "netkit/primary", typ: ebpf.SchedCLS, at: ebpf.AttachNetkitPrimary, want: manual(section.ReasonNetkit)},
		{sec: "lirc_mode2", typ: ebpf.LircMode2, at: ebpf.AttachLircMode2, want: manual(section.ReasonLirc)},
		{sec: "netfilter", typ: ebpf.Netfilter, at: ebpf.AttachNetfilter, want: manual(section.ReasonNetfilter)},

		// Unknown sections.
		{sec: "kprobes/do_sys_open", errHas: `unknown section name "kprobes/do_sys_open"`, skip: true},
		{sec: "my_section", errHas: `unknown section name "my_section"`, skip: true},
		{sec: "tracepoints/a/b", errHas: "unknown section name", skip: true},
		{sec: "tracepont/syscalls/sys_enter_openat", errHas: `(did you mean "tracepoint/syscalls/sys_enter_openat"?)`, skip: true},
	}
}

func specFor(i int, c planCase) *ebpf.ProgramSpec {
	return &ebpf.ProgramSpec{
		Name:        fmt.Sprintf("prog%d", i),
		SectionName: c.sec,
		Type:        c.typ,
		AttachType:  c.at,
		AttachTo:    c.to,
	}
}

func TestPlanFor(t *testing.T) {
	for i, c := range planCases(t) {
		spec := specFor(i, c)
		t.Run(fmt.Sprintf("%03d_%s", i, c.sec), func(t *testing.T) {
			opts := c.opts
			got, err := PlanFor(spec, &opts)
			if c.errHas != "" {
				if err == nil {
					t.Fatalf("PlanFor(%q) = %+v, want an error containing %q", c.sec, got, c.errHas)
				}
				if !strings.Contains(err.Error(), c.errHas) {
					t.Fatalf("PlanFor(%q) error %q, want it to contain %q", c.sec, err, c.errHas)
				}
				// Errors name the program and its section.
				if !strings.Contains(err.Error(), spec.Name) || !strings.Contains(err.Error(), fmt.Sprintf("%q", c.sec)) {
					t.Errorf("error %q names neither program %s nor section %q", err, spec.Name, c.sec)
				}
				var pe *PlanError
				if !errors.As(err, &pe) || pe.Skip != c.skip {
					t.Errorf("error %q: want a *PlanError with Skip %v, got %#v", err, c.skip, pe)
				}
				return
			}
			if err != nil {
				t.Fatalf("PlanFor(%q): %v", c.sec, err)
			}
			if c.noTgt != "" {
				if got.Kind != Manual || !strings.HasPrefix(got.Reason, "the section names no valid target: ") || !strings.Contains(got.Reason, c.noTgt) {
					t.Errorf("PlanFor(%q) = %+v, want Manual with a reason containing %q", c.sec, got, c.noTgt)
				}
				return
			}
			want := c.want
			want.Program, want.Section, want.Type = spec.Name, spec.SectionName, spec.Type
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("PlanFor(%q)\n got %+v\nwant %+v", c.sec, *got, want)
			}
			if s := got.String(); s == "" || strings.HasPrefix(s, "none") {
				t.Errorf("Plan.String() = %q", s)
			}
		})
	}
}

func TestPlanForLibraryOnLibPath(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "libecctest.so.1")
	if err := os.WriteFile(lib, []byte("not really ELF"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LD_LIBRARY_PATH", dir)
	p, err := PlanFor(&ebpf.ProgramSpec{Name: "f", SectionName: "uprobe/libecctest.so.1:f", Type: ebpf.Kprobe}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Binary != lib || p.Symbol != "f" || p.Kind != Uprobe {
		t.Errorf("got %+v, want Binary %s", p, lib)
	}
	// A relative path is made absolute.
	t.Chdir(dir)
	p, err = PlanFor(&ebpf.ProgramSpec{Name: "f", SectionName: "uretprobe", Type: ebpf.Kprobe}, &Options{Uprobe: []string{"./libecctest.so.1:g+0x20"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Binary != lib || p.Symbol != "g" || p.Offset != 0x20 || p.Kind != Uretprobe {
		t.Errorf("got %+v, want %s:g+0x20", p, lib)
	}
}

// Cgroup programs need --cgroup: there is no default, and the error
// says how to attach to the root.
func TestPlanForCgroupNeedsFlag(t *testing.T) {
	mi := filepath.Join(t.TempDir(), "mountinfo")
	t.Cleanup(func() { mountInfo = "/proc/self/mountinfo" })
	mountInfo = mi
	spec := &ebpf.ProgramSpec{Name: "egress", SectionName: "cgroup_skb/egress", Type: ebpf.CGroupSKB, AttachType: ebpf.AttachCGroupInetEgress}

	for _, c := range []struct{ name, mountinfo, errHas string }{
		{"hybrid", `25 30 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
27 25 0:24 / /sys/fs/cgroup/cpu rw,nosuid - cgroup cgroup rw,cpu
`, "or --cgroup /sys/fs/cgroup/unified to attach to the root cgroup"},
		{"unified", `35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate
40 35 0:30 /user.slice /mnt/bound rw - cgroup2 cgroup2 rw
`, "or --cgroup /sys/fs/cgroup to attach to the root cgroup"},
		{"elsewhere", `50 1 0:40 / /run/my\040cgroups rw - cgroup2 none rw
`, "or --cgroup /run/my cgroups to attach"},
		{"none", `25 30 0:22 / /sys/fs/cgroup ro - tmpfs tmpfs ro
`, "no cgroup v2 file system is mounted"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(mi, []byte(c.mountinfo), 0o644); err != nil {
				t.Fatal(err)
			}
			p, err := PlanFor(spec, &Options{})
			var pe *PlanError
			if !errors.As(err, &pe) || pe.Skip || !strings.Contains(err.Error(), c.errHas) ||
				!strings.Contains(err.Error(), "cgroup_skb programs attach to a cgroup: pass --cgroup PATH") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %+v, %v; want a one-line error with %q saying to pass --cgroup", p, err, c.errHas)
			}
			// An explicit --cgroup is used as it is.
			p, err = PlanFor(spec, &Options{Cgroup: "/x"})
			if err != nil || p.Cgroup != "/x" {
				t.Errorf("with --cgroup /x: %+v, %v", p, err)
			}
		})
	}
}

func TestPlanForNil(t *testing.T) {
	if _, err := PlanFor(nil, nil); err == nil {
		t.Error("PlanFor(nil) succeeded")
	}
	// nil options are the zero options.
	p, err := PlanFor(&ebpf.ProgramSpec{Name: "p", SectionName: "perf_event", Type: ebpf.PerfEvent}, nil)
	if err != nil || p.Freq != DefaultFreq {
		t.Errorf("got %+v, %v", p, err)
	}
}

func TestPlanString(t *testing.T) {
	for _, c := range []struct {
		p    Plan
		want string
	}{
		{Plan{Kind: Tracepoint, Group: "syscalls", Name: "sys_enter_openat"}, "tracepoint syscalls/sys_enter_openat"},
		{Plan{Kind: Kprobe, Symbol: "f", Offset: 16}, "kprobe f+0x10"},
		{Plan{Kind: Ksyscall, Name: "openat", Symbol: "__x64_sys_openat"}, "ksyscall openat (__x64_sys_openat)"},
		{Plan{Kind: Uretprobe, Binary: "/bin/bash", Symbol: "readline", PID: 5}, "uretprobe /bin/bash:readline pid 5"},
		{Plan{Kind: Uprobe, Binary: "/bin/x", Offset: 0x40}, "uprobe /bin/x:0x40"},
		{Plan{Kind: TracingBTF, Section: "fentry.s/do_unlinkat", Name: "do_unlinkat"}, "fentry.s do_unlinkat"},
		{Plan{Kind: TC, Attach: ebpf.AttachTCXEgress, IfName: "lo"}, "tc egress on lo"},
		{Plan{Kind: TCX, Attach: ebpf.AttachTCXIngress, IfName: "lo"}, "tcx ingress on lo"},
		{Plan{Kind: Cgroup, Section: "cgroup/connect4", Cgroup: "/sys/fs/cgroup"}, "cgroup/connect4 on cgroup /sys/fs/cgroup"},
		{Plan{Kind: PerfEvent, Freq: 49}, "perf_event cpu-clock at 49 Hz on every CPU"},
		{Plan{Kind: Manual, Reason: "why"}, "not attached automatically: why"},
	} {
		if got := c.p.String(); got != c.want {
			t.Errorf("%+v.String() = %q, want %q", c.p, got, c.want)
		}
	}
}

func TestAttachManual(t *testing.T) {
	p, err := PlanFor(&ebpf.ProgramSpec{Name: "ops", SectionName: "struct_ops/init", Type: ebpf.StructOps}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = attach(nil, p) // Manual plans never reach the kernel
	if !errors.Is(err, ErrManual) {
		t.Fatalf("attach(manual) = %v, want ErrManual", err)
	}
	for _, s := range []string{`section struct_ops/init`, "StructOps", "not attached automatically", "struct_ops map"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	if IsNotSupported(err) {
		t.Errorf("IsNotSupported(%v) = true", err)
	}
}

func TestIsNotSupported(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{ErrNotSupported, true},
		{fmt.Errorf("load: %w", ebpf.ErrNotSupported), true},
		{fmt.Errorf("load program: %w", syscall.EPERM), true},
		{&os.SyscallError{Syscall: "bpf", Err: syscall.EOPNOTSUPP}, true},
		{fmt.Errorf("attach: %w", syscall.Errno(524)), true},
		{fmt.Errorf("attach: %w", syscall.EINVAL), false},
		{fmt.Errorf("verifier: %w", syscall.EACCES), false},
		{os.ErrNotExist, false},
		{ErrManual, false},
		{errors.New("other"), false},
	} {
		if got := IsNotSupported(c.err); got != c.want {
			t.Errorf("IsNotSupported(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestParseCPUList(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []int
		bad  bool
	}{
		{"0", []int{0}, false},
		{"0-3\n", []int{0, 1, 2, 3}, false},
		{"0-1,4,6-7", []int{0, 1, 4, 6, 7}, false},
		{"", nil, true},
		{"a-b", nil, true},
		{"3-1", nil, true},
		{"1,", nil, true},
	} {
		got, err := parseCPUList(c.in)
		if (err != nil) != c.bad || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseCPUList(%q) = %v, %v", c.in, got, err)
		}
	}
}

func TestSyscallPrefix(t *testing.T) {
	if got := SyscallPrefix("amd64"); got != "__x64_" {
		t.Errorf("amd64: %q", got)
	}
	if got := SyscallPrefix("arm64"); got != "__arm64_" {
		t.Errorf("arm64: %q", got)
	}
	if got := SyscallPrefix("wasm"); got != "" {
		t.Errorf("wasm: %q", got)
	}
}

func TestNetlinkAttr(t *testing.T) {
	b := appendAttr(nil, 1, cstr("bpf")) // 4 + 4 bytes, no padding
	if len(b) != 8 || b[0] != 8 || b[2] != 1 || string(b[4:7]) != "bpf" {
		t.Errorf("appendAttr(bpf) = %v", b)
	}
	b = appendAttr(nil, 2, cstr("clsact")) // 4 + 7 bytes, padded to 12
	if len(b) != 12 || b[0] != 11 {
		t.Errorf("appendAttr(clsact) = %v", b)
	}
	if m := tcMsg(3, 0xFFFF0000, tcHClsact, 0); len(m) != sizeofTcMsg {
		t.Errorf("tcMsg: %d bytes", len(m))
	}
}
