package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

// benchRun compares ecli run with bpftrace and BCC: start-up, time to
// attach, peak RSS, and lossless event throughput.
func benchRun(ecc, out string, env []string) bool {
	ecli := filepath.Join(filepath.Dir(ecc), "ecli")
	bpftrace, _ := exec.LookPath("bpftrace")
	// BCC: our tracepoint execsnoop (Debian's execsnoop-bpfcc needs kprobes).
	bcc := ""
	if _, err := os.Stat("/usr/lib/python3/dist-packages/bcc/__init__.py"); err == nil {
		bcc = "bench/bcc/execsnoop_tp.py"
	}
	build := func(src, hdr string) (string, error) {
		args := []string{"build", "-o", filepath.Join(out, "run-"+strings.TrimSuffix(filepath.Base(src), ".bpf.c")), src}
		if hdr != "" {
			args = append(args, hdr)
		}
		if _, err := measure(ecc, args, env); err != nil {
			return "", err
		}
		return filepath.Join(args[2], "package.json"), nil
	}
	tput, err := build("bench/throughput/throughput.bpf.c", "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return false
	}
	execsnoop, err := build("examples/execsnoop/execsnoop.bpf.c", "examples/execsnoop/execsnoop.h")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return false
	}
	startup, err := build("bench/startup/startup.bpf.c", "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return false
	}

	// Start-up: launch → load → attach → exit, the same work on the same
	// tracepoint: count execs. Then execsnoop, whose CO-RE relocations and
	// verification cost more.
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "start-up (launch → attach → exit)\twall\tpeak RSS\t")
	var ours, oursExec, theirs series
	for i := 0; i < *runs; i++ {
		s, err := measure(ecli, []string{"run", "-d", "1ms", startup}, env)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return false
		}
		ours = append(ours, s)
		s, err = measure(ecli, []string{"run", "-d", "1ms", execsnoop}, env)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return false
		}
		oursExec = append(oursExec, s)
		if bpftrace != "" {
			s, err := measure(bpftrace, []string{"-e", "tracepoint:sched:sched_process_exec { @execs = count(); } BEGIN { exit(); }"}, nil)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return false
			}
			theirs = append(theirs, s)
		}
	}
	fmt.Fprintf(tw, "ecli run -d 1ms (count execs)\t%s\t%.1f MiB\t\n", ms(ours.median()), float64(ours.maxRSS())/1024)
	fmt.Fprintf(tw, "ecli run -d 1ms execsnoop\t%s\t%.1f MiB\t\n", ms(oursExec.median()), float64(oursExec.maxRSS())/1024)
	if bpftrace != "" {
		fmt.Fprintf(tw, "bpftrace one-liner (count execs)\t%s\t%.1f MiB\t\n", ms(theirs.median()), float64(theirs.maxRSS())/1024)
	}
	tw.Flush()
	if bpftrace != "" {
		fmt.Printf("ratio ecli / bpftrace: wall %.3f× (target ≤ 0.3), RSS %.3f× (target ≤ 0.3)\n\n",
			float64(ours.median())/float64(theirs.median()), float64(ours.maxRSS())/float64(theirs.maxRSS()))
	}

	// Time to attach: launch → the header on stdout (both print it once
	// their probes are attached).
	if bcc != "" {
		var e, b []time.Duration
		var eRSS, bRSS int64
		n := (*runs + 1) / 2
		for i := 0; i < n; i++ {
			d, rss, err := timeToFirstLine(ecli, []string{"run", execsnoop}, env, "PID")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return false
			}
			e, eRSS = append(e, d), max(eRSS, rss)
			d, rss, err = timeToFirstLine("/usr/bin/python3", []string{bcc}, nil, "PCOMM")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return false
			}
			b, bRSS = append(b, d), max(bRSS, rss)
		}
		tw = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "execsnoop: launch → header\ttime\tpeak RSS\t")
		fmt.Fprintf(tw, "ecli run execsnoop\t%s\t%.1f MiB\t\n", ms(medianD(e)), float64(eRSS)/1024)
		fmt.Fprintf(tw, "BCC execsnoop (tracepoint)\t%s\t%.1f MiB\t\n", ms(medianD(b)), float64(bRSS)/1024)
		tw.Flush()
		fmt.Printf("ratio ecli / BCC: attach %.3f× (target ≤ 0.05), RSS %.3f× (target ≤ 0.3)\n\n",
			float64(medianD(e))/float64(medianD(b)), float64(eRSS)/float64(bRSS))
	} else {
		fmt.Println("BCC (python3-bpfcc) not installed: attach-time comparison skipped")
	}

	// Throughput from a tight getppid() loop.
	gen := filepath.Join(out, "loadgen")
	if b, err := exec.Command("cc", "-O2", "-o", gen, "bench/throughput/loadgen.c").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "compile loadgen: %v\n%s", err, b)
		return false
	}
	const n = 500000
	tw = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "throughput, %d getppid() events\tdelivered\tlost\tevents/s\tsource slowed to\t\n", n)
	res, err := throughput(gen, n, func(pid int) *exec.Cmd {
		c := exec.Command(ecli, "run", "-j", "-v", tput, "--targ_pid", strconv.Itoa(pid))
		c.Env = append(os.Environ(), env...)
		return c
	}, "attached")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return false
	}
	fmt.Fprintf(tw, "ecli run -j (JSON lines)\t%d\t%d\t%.0f\t%.0f/s\t\n", res.delivered, n-res.delivered, res.rate, res.sourceRate)
	if bpftrace != "" {
		bres, err := throughput(gen, n, func(pid int) *exec.Cmd {
			return exec.Command(bpftrace, "-e", fmt.Sprintf(`tracepoint:syscalls:sys_enter_getppid /pid == %d/ { printf("%%d %%d %%s\n", pid, tid, comm); }`, pid))
		}, "Attaching")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return false
		}
		fmt.Fprintf(tw, "bpftrace printf\t%d\t%d\t%.0f\t%.0f/s\t\n", bres.delivered, n-bres.delivered, bres.rate, bres.sourceRate)
		tw.Flush()
		fmt.Printf("ratio ecli / bpftrace events/s: %.2f× (target ≥ 3)\n\n", res.rate/bres.rate)
	} else {
		tw.Flush()
	}
	return true
}

func medianD(d []time.Duration) time.Duration {
	s := make(series, len(d))
	for i, x := range d {
		s[i].wall = x
	}
	return s.median()
}

// timeToFirstLine starts a command and measures until its first stdout
// line, then interrupts it.
func timeToFirstLine(name string, args, env []string, want string) (time.Duration, int64, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	br := bufio.NewReader(stdout)
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, want) {
		cmd.Process.Kill()
		cmd.Wait()
		return 0, 0, fmt.Errorf("%s %s: no header line with %q (got %q, %v)\n%s", name, strings.Join(args, " "), want, line, err, stderr.String())
	}
	d := time.Since(start)
	cmd.Process.Signal(syscall.SIGINT)
	go io.Copy(io.Discard, br)
	cmd.Wait()
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return d, rss, nil
}

type tputResult struct {
	delivered        int
	rate, sourceRate float64
}

// throughput runs the load generator under a consumer and counts the lines
// the consumer prints: events/s is delivered events over the time from the
// start of the load to the last line.
func throughput(gen string, n int, consumer func(pid int) *exec.Cmd, readyMark string) (*tputResult, error) {
	g := exec.Command(gen, strconv.Itoa(n))
	gin, _ := g.StdinPipe()
	gout, _ := g.StdoutPipe()
	if err := g.Start(); err != nil {
		return nil, err
	}
	defer g.Process.Kill()
	gr := bufio.NewReader(gout)
	pidLine, err := gr.ReadString('\n')
	if err != nil {
		return nil, err
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(pidLine))
	c := consumer(pid)
	cout, _ := c.StdoutPipe()
	cerr := &testenv.SyncBuffer{}
	c.Stderr = cerr
	if err := c.Start(); err != nil {
		return nil, err
	}
	defer c.Process.Kill()
	// Count lines; wait for the ready mark (stderr for ecli -v, stdout for bpftrace).
	lines := make(chan int, 1)
	ready := make(chan struct{})
	go func() {
		br := bufio.NewReaderSize(cout, 1<<20)
		count := 0
		readyStdout := false
		buf := make([]byte, 1<<20)
		for {
			k, err := br.Read(buf)
			chunk := buf[:k]
			if !readyStdout && bytes.Contains(chunk, []byte(readyMark)) {
				readyStdout = true
				close(ready)
				if i := bytes.Index(chunk, []byte(readyMark)); i >= 0 {
					if j := bytes.IndexByte(chunk[i:], '\n'); j >= 0 {
						chunk = chunk[i+j+1:]
					}
				}
			}
			count += bytes.Count(chunk, []byte{'\n'})
			select {
			case <-lines:
			default:
			}
			lines <- count
			if err != nil {
				return
			}
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if strings.Contains(cerr.String(), readyMark) {
			break
		}
		select {
		case <-ready:
		default:
			continue
		}
		break
	}
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	gin.Write([]byte("go\n"))
	elapsedLine, _ := gr.ReadString('\n')
	srcNs, _ := strconv.ParseFloat(strings.TrimSpace(elapsedLine), 64)
	// Wait until every event arrived or the count stops moving for 2 s.
	count, last := 0, time.Now()
	lastCountAt := time.Now()
	for count < n && time.Since(lastCountAt) < 2*time.Second {
		select {
		case c := <-lines:
			if c != count {
				count, last, lastCountAt = c, time.Now(), time.Now()
			}
		case <-time.After(100 * time.Millisecond):
		}
	}
	c.Process.Signal(syscall.SIGINT)
	c.Wait()
	took := last.Sub(start).Seconds()
	res := &tputResult{delivered: count}
	if took > 0 {
		res.rate = float64(count) / took
	}
	if srcNs > 0 {
		res.sourceRate = float64(n) / (srcNs / 1e9)
	}
	return res, nil
}
