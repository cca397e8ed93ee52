// One program of each kind the test VM's kernel (Debian 6.1) attaches and
// this machine's kernel refuses: each sends an event naming its kind when
// ecc test's default activity (exec, open, unlink, TCP connect) fires it.
// fentry/do_sys_openat2 and kprobe/do_sys_openat2 are twins: only the
// fentry one must run.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "kinds.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static __always_inline int send(enum kind k)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->kind = k;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink_kprobe) { return send(KPROBE); }

SEC("kretprobe/do_mkdirat")
int BPF_KRETPROBE(on_mkdir_kretprobe) { return send(KRETPROBE); }

SEC("ksyscall/unlinkat")
int BPF_KSYSCALL(on_unlinkat_ksyscall) { return send(KSYSCALL); }

SEC("kretsyscall/connect")
int BPF_KRETPROBE(on_connect_kretsyscall) { return send(KRETSYSCALL); }

SEC("fentry/tcp_v4_connect")
int BPF_PROG(on_connect_fentry) { return send(FENTRY); }

SEC("fexit/do_unlinkat")
int BPF_PROG(on_unlink_fexit) { return send(FEXIT); }

SEC("fmod_ret/security_file_open")
int BPF_PROG(on_open_fmod_ret) { send(FMOD_RET); return 0; }

SEC("lsm/file_open")
int BPF_PROG(on_open_lsm) { send(LSM); return 0; }

SEC("fentry/do_sys_openat2")
int BPF_PROG(on_open_fentry) { return send(TWIN_FENTRY); }

SEC("kprobe/do_sys_openat2")
int BPF_KPROBE(on_open_kprobe) { return send(TWIN_KPROBE); }

char LICENSE[] SEC("license") = "GPL";
