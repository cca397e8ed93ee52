// bpf_printk as the eunomia tutorial's first lessons use it: no maps,
// the output goes to the kernel's trace buffer.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

const volatile int filter_ppid = 0;

SEC("tp/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	int ppid = BPF_CORE_READ(task, real_parent, tgid);
	char comm[16];

	if (filter_ppid && ppid != filter_ppid)
		return 0;
	bpf_get_current_comm(comm, sizeof(comm));
	bpf_printk("exec %s by %d", comm, ppid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
