// A tool in libbpf-tools' style: static zero values, bpf_printk, a header
// with two structs, the same hook three times (tp_btf, raw_tp, tp) for
// user space to keep one, a counter map nobody annotated, records of
// variable length, IPv4 addresses and a __be16 port.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcpexec.h"

#define AF_INET 2
#define TCP_SYN_SENT 2

const volatile __u16 targ_dport = 0;
const volatile pid_t targ_ppid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} execs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 0); /* sized by user space */
	__type(key, pid_t);
	__type(value, struct exec_event);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u16);
	__type(value, u64);
} conn_count SEC(".maps");

static __always_inline int on_state(const struct sock *sk, int newstate, u8 hook)
{
	static const struct conn_event empty = {};
	struct conn_event *e;
	u16 family, dport;
	u64 *cnt, one = 1;

	if (newstate != TCP_SYN_SENT)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family != AF_INET || (targ_dport && dport != targ_dport))
		return 0;

	e = bpf_ringbuf_reserve(&conns, sizeof(*e), 0);
	if (!e)
		return 0;
	__builtin_memcpy(e, &empty, sizeof(*e));
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->af = family;
	e->dport = BPF_CORE_READ(sk, __sk_common.skc_dport);
	e->saddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
	e->daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->hook = hook;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);

	cnt = bpf_map_lookup_elem(&conn_count, &dport);
	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	else
		bpf_map_update_elem(&conn_count, &dport, &one, BPF_NOEXIST);
	bpf_printk("connect to port %d", dport);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(state_btf, const struct sock *sk, int oldstate, int newstate)
{
	return on_state(sk, newstate, HOOK_TP_BTF);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(state_raw, const struct sock *sk, int oldstate, int newstate)
{
	return on_state(sk, newstate, HOOK_RAW_TP);
}

SEC("tp/sock/inet_sock_set_state")
int state_tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	return on_state((const struct sock *)ctx->skaddr, ctx->newstate, HOOK_TP);
}

SEC("tp/syscalls/sys_enter_execve")
int enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	static const struct exec_event empty_event = {};
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	pid_t pid = bpf_get_current_pid_tgid() >> 32;
	const char *argp;
	struct exec_event *e;

	if (targ_ppid && BPF_CORE_READ(task, real_parent, tgid) != targ_ppid)
		return 0;
	if (bpf_map_update_elem(&pending, &pid, &empty_event, BPF_NOEXIST))
		return 0;
	e = bpf_map_lookup_elem(&pending, &pid);
	if (!e)
		return 0;
	e->pid = pid;
	bpf_probe_read_user(&argp, sizeof(argp), (const void *)ctx->args[1]);
	e->args_size = bpf_probe_read_user_str(e->args, ARGS_LEN, argp);
	return 0;
}

SEC("tp/syscalls/sys_exit_execve")
int exit_execve(struct trace_event_raw_sys_exit *ctx)
{
	pid_t pid = bpf_get_current_pid_tgid() >> 32;
	struct exec_event *e = bpf_map_lookup_elem(&pending, &pid);
	unsigned int len;

	if (!e)
		return 0;
	if (e->args_size > 0) {
		len = e->args_size & (ARGS_LEN - 1);
		bpf_perf_event_output(ctx, &execs, BPF_F_CURRENT_CPU, e,
				      __builtin_offsetof(struct exec_event, args) + len);
	}
	bpf_map_delete_elem(&pending, &pid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
