package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// benchWasm compares the start-up of a Wasm package with the JSON package of
// the same BPF program: launch → first exec event printed, with a process
// exec'ing every few milliseconds. The Wasm compilation cache is cold (a
// fresh cache folder) or warm.
func benchWasm(ecc, out string, env []string) bool {
	ecli := filepath.Join(filepath.Dir(ecc), "ecli")
	dir := filepath.Join(out, "wasm-execsnoop")
	for _, guest := range []string{"c", "go"} {
		if _, err := measure(ecc, []string{"build", "-o", dir + "-" + guest, "--wasm", "examples/wasm-execsnoop-" + guest}, env); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return false
		}
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				exec.Command("/bin/true").Run()
				time.Sleep(3 * time.Millisecond)
			}
		}
	}()
	firstEvent := func(extraEnv []string, args ...string) (time.Duration, error) {
		cmd := exec.Command(ecli, args...)
		cmd.Env = append(append(os.Environ(), env...), extraEnv...)
		stdout, _ := cmd.StdoutPipe()
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		defer func() { cmd.Process.Signal(syscall.SIGINT); cmd.Wait() }()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "true") {
				return time.Since(start), nil
			}
		}
		return 0, fmt.Errorf("ecli %s: no event", strings.Join(args, " "))
	}
	type row struct {
		name  string
		fresh bool
		args  []string
	}
	rows := []row{
		{"JSON package (ecli run -j package.json)", false, []string{"run", "-j", filepath.Join(dir+"-c", "package.json")}},
		{"Wasm, C guest, cache warm", false, []string{"run", filepath.Join(dir+"-c", "execsnoop.wasm")}},
		{"Wasm, C guest, cache cold", true, []string{"run", filepath.Join(dir+"-c", "execsnoop.wasm")}},
		{"Wasm, Go guest, cache warm", false, []string{"run", filepath.Join(dir+"-go", "execsnoop.wasm")}},
		{"Wasm, Go guest, cache cold", true, []string{"run", filepath.Join(dir+"-go", "execsnoop.wasm")}},
	}
	results := make([][]time.Duration, len(rows))
	for i := 0; i < *runs; i++ {
		for j, r := range rows {
			var extra []string
			if r.fresh {
				extra = []string{"ECC_CACHE_DIR=" + filepath.Join(out, fmt.Sprintf("cold-%d-%d", i, j))}
			}
			d, err := firstEvent(extra, r.args...)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return false
			}
			results[j] = append(results[j], d)
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "execsnoop: launch → first event\ttime\tvs JSON\t")
	base := medianD(results[0])
	for j, r := range rows {
		m := medianD(results[j])
		fmt.Fprintf(tw, "%s\t%s\t%.2f×\t\n", r.name, ms(m), float64(m)/float64(base))
	}
	tw.Flush()
	// The per-event cost of the guest callback, from the Go benchmarks.
	b, err := exec.Command("go", "test", "-run", "^$", "-bench", "Callback|Pull", "-benchtime", "2s", "./runtime/wasm/").CombinedOutput()
	if err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "Benchmark") {
				fmt.Println("  " + l)
			}
		}
	}
	fmt.Println()
	return true
}
