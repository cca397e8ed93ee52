// Programs of every family, to see which this kernel accepts: the kernel
// test loads each one on its own and reports those the kernel refuses.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("tp/syscalls/sys_enter_getpid")
int tp_prog(void *ctx) { return 0; }

SEC("raw_tp/sys_enter")
int raw_tp_prog(void *ctx) { return 0; }

SEC("tp_btf/sched_switch")
int BPF_PROG(tp_btf_prog, bool preempt, struct task_struct *prev, struct task_struct *next) { return 0; }

SEC("kprobe/do_nanosleep")
int BPF_KPROBE(kprobe_prog) { return 0; }

SEC("fentry/do_nanosleep")
int BPF_PROG(fentry_prog) { return 0; }

SEC("lsm/file_open")
int BPF_PROG(lsm_prog, struct file *file) { return 0; }

SEC("perf_event")
int perf_prog(void *ctx) { return 0; }

char LICENSE[] SEC("license") = "GPL";
