package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"text/tabwriter"
	"time"
)

// benchResults compares a histogram tool written with no annotation
// (bench/results/runqlat.bpf.c: ecli finds and prints the histogram map)
// with the same run-queue latency histogram from bpftrace and from BCC's
// runqlat: launch → one 1-second histogram printed → exit, wall time and
// peak RSS. The second is the same for all three, so the difference is
// each tool's start-up, attach and print.
func benchResults(ecc, out string, env []string) bool {
	ecli := filepath.Join(filepath.Dir(ecc), "ecli")
	dir := filepath.Join(out, "results")
	if _, err := measure(ecc, []string{"build", "-o", dir, "bench/results/runqlat.bpf.c"}, env); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return false
	}
	pkg := filepath.Join(dir, "package.json")
	bpftrace, _ := exec.LookPath("bpftrace")
	bcc, _ := exec.LookPath("runqlat-bpfcc")
	const script = `tracepoint:sched:sched_wakeup, tracepoint:sched:sched_wakeup_new { @qtime[args->pid] = nsecs; }
tracepoint:sched:sched_switch { $ns = @qtime[args->next_pid]; if ($ns) { @usecs = hist((nsecs - $ns) / 1000); } delete(@qtime[args->next_pid]); }
interval:s:1 { exit(); }`
	var ours, bt, bc series
	for i := 0; i < *runs; i++ {
		s, err := measure(ecli, []string{"run", "-i", "1s", "-c", "1", pkg}, env)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return false
		}
		ours = append(ours, s)
		if bpftrace != "" {
			s, err := measure(bpftrace, []string{"-e", script}, nil)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return false
			}
			bt = append(bt, s)
		}
		if bcc != "" {
			s, err := measure(bcc, []string{"1", "1"}, nil)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return false
			}
			bc = append(bc, s)
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run-queue latency, one 1 s histogram\twall\tover the 1 s\tpeak RSS\t")
	row := func(name string, s series) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f MiB\t\n", name, ms(s.median()), ms(s.median()-time.Second), float64(s.maxRSS())/1024)
	}
	row("ecli run -i 1s -c 1 (no @sample)", ours)
	if bt != nil {
		row("bpftrace hist() + interval:s:1", bt)
	}
	if bc != nil {
		row("BCC runqlat-bpfcc 1 1", bc)
	}
	tw.Flush()
	over := func(s series) float64 { return float64(s.median() - time.Second) }
	if bt != nil {
		fmt.Printf("ratio ecli / bpftrace: time over the second %.3f×, RSS %.3f×\n", over(ours)/over(bt), float64(ours.maxRSS())/float64(bt.maxRSS()))
	}
	if bc != nil {
		fmt.Printf("ratio ecli / BCC: time over the second %.3f×, RSS %.3f×\n", over(ours)/over(bc), float64(ours.maxRSS())/float64(bc.maxRSS()))
	}
	fmt.Println()
	return true
}
