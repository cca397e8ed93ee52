package runtime

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

// A program calls kfuncs that only the generated vmlinux.h declares
// (bpf_task_from_pid, bpf_task_release), from a tp_btf program (tracing
// programs may call the task kfuncs), and reports what it read through the
// task the kfunc returned.
func TestKfuncsFromVmlinuxHeader(t *testing.T) {
	testenv.Kernel(t)
	kernel, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	var fn *btf.Func
	if err := kernel.TypeByName("bpf_task_from_pid", &fn); err != nil || !slices.Contains(fn.Tags, "bpf_kfunc") {
		testenv.Missing(t, "this kernel's BTF does not tag bpf_task_from_pid as a kfunc (Linux < 6.11 or pahole < 1.27)")
	}
	src := buildSource(t, "kfunc", prelude+`
#include <ecc.h>

struct kf_event {
	int pid;       /* the pid passed to bpf_task_from_pid */
	int tgid;      /* read through the task it returned */
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} events SEC(".maps");
ECC_EXPORT(events, struct kf_event);

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	s32 pid = p->tgid;
	struct task_struct *t = bpf_task_from_pid(pid);
	if (!t)
		return 0;
	struct kf_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->pid = pid;
		e->tgid = t->tgid;
		bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), t->comm);
		bpf_ringbuf_submit(e, 0);
	}
	bpf_task_release(t);
	return 0;
}
`)
	r := start(t, src, nil, Options{JSON: true})
	bin := filepath.Join(t.TempDir(), "ecc-kfunc-probe")
	data, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	ev := r.waitFor(t, "an event of ecc-kfunc-probe", func(m map[string]any) bool { return m["comm"] == "ecc-kfunc-probe" })
	t.Logf("event %v for pid %d", ev, cmd.Process.Pid)
	if got, want := num(ev["tgid"]), int64(cmd.Process.Pid); got != want {
		t.Errorf("tgid %d through bpf_task_from_pid's task, want the exec'd process's pid %d", got, want)
	}
	if num(ev["pid"]) != num(ev["tgid"]) {
		t.Errorf("bpf_task_from_pid(%v) returned the task of tgid %v", ev["pid"], ev["tgid"])
	}
}

// Programs written for headers without kfunc declarations declare the
// kfuncs they call themselves, without __weak: they still build with ecc's
// vmlinux.h and load.
func TestKfuncsDeclaredByTheProgram(t *testing.T) {
	src := buildSource(t, "kfunc_own", prelude+`
extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p)
{
	struct task_struct *t = bpf_task_from_pid(p->tgid);
	if (t)
		bpf_task_release(t);
	return 0;
}
`)
	r := start(t, src, nil, Options{JSON: true})
	r.stop(t)
}
