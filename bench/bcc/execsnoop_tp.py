#!/usr/bin/python3
# An execsnoop on the sched_process_exec tracepoint, written with BCC for
# bench/: what a BCC user runs on a kernel without kprobes (Debian's
# execsnoop-bpfcc needs them). It prints its header once attached, like
# ecli run does, so both can be timed from launch to header.
from bcc import BPF

PROG = r"""
#include <linux/sched.h>

struct event {
    u32 pid;
    u32 ppid;
    char comm[TASK_COMM_LEN];
};
BPF_PERF_OUTPUT(events);

TRACEPOINT_PROBE(sched, sched_process_exec) {
    struct event e = {};
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    e.pid = bpf_get_current_pid_tgid() >> 32;
    e.ppid = task->real_parent->tgid;
    bpf_get_current_comm(&e.comm, sizeof(e.comm));
    events.perf_submit(args, &e, sizeof(e));
    return 0;
}
"""

b = BPF(text=PROG)
print("%-16s %-7s %-7s" % ("PCOMM", "PID", "PPID"), flush=True)


def on_event(cpu, data, size):
    e = b["events"].event(data)
    print("%-16s %-7d %-7d" % (e.comm.decode(errors="replace"), e.pid, e.ppid), flush=True)


b["events"].open_perf_buffer(on_event)
while True:
    try:
        b.perf_buffer_poll()
    except KeyboardInterrupt:
        break
