package doccomment_test

import (
	"fmt"

	"github.com/ecc-bpf/ecc/packager/doccomment"
)

func Example() {
	src := []byte(`
/// Trace only this process id
/// @cmdarg {"default": 0, "short": "p", "long": "pid"}
const volatile int targ_pid = 0;

/// Exec events
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} rb SEC(".maps");

SEC("tp/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	return 0;
}

/// @brief Trace exec
char LICENSE[] SEC("license") = "GPL";
`)
	decls, err := doccomment.Scan("exec.bpf.c", src)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range decls {
		fmt.Printf("%d: %s %s %q", d.Line, d.Kind, d.Name, d.Section)
		if d.Doc != nil {
			fmt.Printf(" %q", d.Doc.Description)
			var arg struct {
				Long string `json:"long"`
			}
			if ok, _ := d.Doc.Tag("cmdarg", &arg); ok {
				fmt.Printf(" --%s", arg.Long)
			}
			var brief string
			if ok, _ := d.Doc.Tag("brief", &brief); ok {
				fmt.Printf(" brief=%q", brief)
			}
		}
		fmt.Println()
	}
	// Output:
	// 4: var targ_pid "" "Trace only this process id" --pid
	// 10: map rb ".maps" "Exec events"
	// 13: prog handle_exec "tp/sched/sched_process_exec"
	// 19: license LICENSE "license" "" brief="Trace exec"
}
