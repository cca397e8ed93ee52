// SPDX-License-Identifier: GPL-2.0
/*
 * Programs of every attach kind for runtime/attach's kernel tests. Each
 * counts its runs in one slot of the `hits` array; kernel_test.go lists
 * the programs with their slots (keep both in the same order).
 *
 * TARGET is the path of the uprobe target (testdata/target.c, compiled by
 * the test), passed as -DTARGET='"/path/to/target"'.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#ifndef TARGET
#define TARGET "/nonexistent"
#endif

enum slot {
	S_TP,
	S_TP_SHORT,
	S_RAWTP,
	S_TPBTF,
	S_PERF,
	S_ITER,
	S_XDP,
	S_TC,
	S_TCX_EGRESS,
	S_CLASSIFIER,
	S_CG_SKB,
	S_SOCK_CREATE,
	S_CONNECT4,
	S_SOCKOPS,
	S_SYSCTL,
	S_SOCKET,
	S_UPROBE,
	S_URETPROBE_PID,
	S_UPROBE_PATH,
	S_UPROBE_MULTI,
	S_KPROBE,
	S_KRETPROBE,
	S_KSYSCALL,
	S_KPROBE_MULTI,
	S_FENTRY,
	S_FEXIT,
	S_LSM,
	S_MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, S_MAX);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

/* Set by the test to its own process id. */
const volatile __u32 target_tgid = 0;

static __always_inline void bump(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&hits, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline int mine(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

/* Tracepoints and raw tracepoints: count the test process's syscalls. */
SEC("tracepoint/syscalls/sys_enter_getpid")
int tp_getpid(void *ctx)
{
	if (mine())
		bump(S_TP);
	return 0;
}

SEC("tp/syscalls/sys_enter_getppid")
int tp_getppid(void *ctx)
{
	if (mine())
		bump(S_TP_SHORT);
	return 0;
}

SEC("raw_tp/sys_enter")
int rawtp_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	if (mine())
		bump(S_RAWTP);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(tpbtf_sys_enter, struct pt_regs *regs, long id)
{
	if (mine())
		bump(S_TPBTF);
	return 0;
}

SEC("perf_event")
int perf_sample(struct bpf_perf_event_data *ctx)
{
	bump(S_PERF);
	return 0;
}

SEC("iter/task")
int iter_task(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;

	if (!task)
		return 0;
	bump(S_ITER);
	if (task->pid == task->tgid)
		BPF_SEQ_PRINTF(seq, "%d %s\n", task->tgid, task->comm);
	return 0;
}

/* Network programs: count and let everything through. */
SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	bump(S_XDP);
	return XDP_PASS;
}

SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	bump(S_TC);
	return 0; /* TC_ACT_OK */
}

SEC("tcx/egress")
int tcx_egress_count(struct __sk_buff *skb)
{
	bump(S_TCX_EGRESS);
	return 0; /* TCX_PASS */
}

SEC("classifier")
int classifier_count(struct __sk_buff *skb)
{
	bump(S_CLASSIFIER);
	return 0; /* TC_ACT_OK */
}

SEC("cgroup_skb/egress")
int cg_skb_egress(struct __sk_buff *skb)
{
	bump(S_CG_SKB);
	return 1; /* allow */
}

SEC("cgroup/sock_create")
int cg_sock_create(struct bpf_sock *sk)
{
	bump(S_SOCK_CREATE);
	return 1;
}

SEC("cgroup/connect4")
int cg_connect4(struct bpf_sock_addr *ctx)
{
	bump(S_CONNECT4);
	return 1;
}

SEC("sockops")
int cg_sockops(struct bpf_sock_ops *ctx)
{
	bump(S_SOCKOPS);
	return 1;
}

SEC("cgroup/sysctl")
int cg_sysctl(struct bpf_sysctl *ctx)
{
	bump(S_SYSCTL);
	return 1;
}

SEC("socket")
int socket_count(struct __sk_buff *skb)
{
	bump(S_SOCKET);
	return 0; /* queue nothing */
}

/* User probes on testdata/target.c. */
SEC("uprobe")
int uprobe_bare(struct pt_regs *ctx)
{
	bump(S_UPROBE);
	return 0;
}

SEC("uretprobe")
int uretprobe_pid(struct pt_regs *ctx)
{
	bump(S_URETPROBE_PID);
	return 0;
}

SEC("uprobe/" TARGET ":ecc_target_func")
int uprobe_path(struct pt_regs *ctx)
{
	bump(S_UPROBE_PATH);
	return 0;
}

SEC("uprobe.multi/" TARGET ":ecc_target_*")
int uprobe_multi(struct pt_regs *ctx)
{
	bump(S_UPROBE_MULTI);
	return 0;
}

/* Kernel probes and BTF tracing: not available on every kernel. */
SEC("kprobe/do_sys_openat2")
int kprobe_openat2(struct pt_regs *ctx)
{
	if (mine())
		bump(S_KPROBE);
	return 0;
}

SEC("kretprobe/do_sys_openat2")
int kretprobe_openat2(struct pt_regs *ctx)
{
	if (mine())
		bump(S_KRETPROBE);
	return 0;
}

SEC("ksyscall/getpid")
int ksyscall_getpid(struct pt_regs *ctx)
{
	if (mine())
		bump(S_KSYSCALL);
	return 0;
}

SEC("kprobe.multi/do_sys_open*")
int kprobe_multi_open(struct pt_regs *ctx)
{
	if (mine())
		bump(S_KPROBE_MULTI);
	return 0;
}

SEC("fentry/do_unlinkat")
int BPF_PROG(fentry_unlinkat)
{
	if (mine())
		bump(S_FENTRY);
	return 0;
}

SEC("fexit/do_unlinkat")
int BPF_PROG(fexit_unlinkat)
{
	if (mine())
		bump(S_FEXIT);
	return 0;
}

SEC("lsm/file_open")
int BPF_PROG(lsm_file_open, struct file *file)
{
	if (mine())
		bump(S_LSM);
	return 0; /* allow */
}

char LICENSE[] SEC("license") = "GPL";
