package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecc-bpf/ecc/runtime/attach"
	"github.com/ecc-bpf/ecc/runtime/tracepipe"
)

// printkReader shows what the programs print with bpf_printk, read from
// a trace instance of ecli's own (package tracepipe). The kernel's trace
// buffer is shared: lines other BPF programs print at the same time show
// up too. Lines printed while one of ecli's own threads ran the hook are
// left out: ecli writing a line would trigger the next one.
type printkReader struct {
	rd   *tracepipe.Reader
	stop atomic.Bool
	wg   sync.WaitGroup
	n    atomic.Uint64
	// own caches which thread ids are ecli's own threads.
	own     map[int]bool
	dropped atomic.Uint64
}

// ours reports whether tid is a thread of this process.
func (p *printkReader) ours(tid int) bool {
	if v, ok := p.own[tid]; ok {
		return v
	}
	_, err := os.Stat("/proc/self/task/" + strconv.Itoa(tid))
	mine := err == nil
	if len(p.own) < 1<<14 {
		p.own[tid] = mine
	}
	return mine
}

// printkPoll is how often the reader checks whether the run is ending
// (a drain at exit waits at most this long).
const printkPoll = 50 * time.Millisecond

func (r *runner) startPrintk() {
	if r.scan == nil || len(r.scan.Printk) == 0 {
		return
	}
	rd, err := tracepipe.Open(attach.TracefsDir())
	if err != nil {
		fmt.Fprintf(r.o.Stderr, "ecli: warning: programs %v call bpf_printk, but its lines cannot be read: %v\n", r.scan.Printk, err)
		return
	}
	if rd.Shared {
		fmt.Fprintf(r.o.Stderr, "ecli: note: reading bpf_printk lines from the kernel's global trace_pipe; other readers of it miss the lines ecli reads\n")
	} else if r.o.Verbose {
		fmt.Fprintf(r.o.Stderr, "ecli: showing the bpf_printk lines of %v (from a trace instance of ecli's own)\n", r.scan.Printk)
	}
	p := &printkReader{rd: rd, own: map[int]bool{}}
	r.printk = p
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		var b []byte
		for {
			l, err := rd.Next(time.Now().Add(printkPoll))
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if p.stop.Load() {
					return
				}
				continue
			}
			if err != nil {
				if !errors.Is(err, os.ErrClosed) {
					fmt.Fprintf(r.o.Stderr, "ecli: warning: read bpf_printk lines: %v\n", err)
				}
				return
			}
			if p.ours(l.PID) {
				// Printed because ecli itself ran the hook (its own write
				// of the previous line, say): showing it would feed back.
				p.dropped.Add(1)
				continue
			}
			if l.Comm == "<...>" {
				// The trace had not recorded the task's name.
				if c, err := os.ReadFile("/proc/" + strconv.Itoa(l.PID) + "/comm"); err == nil {
					l.Comm = strings.TrimSpace(string(c))
				}
			}
			b = r.appendPrintk(b[:0], &l)
			r.out.write(b)
			r.out.flush()
			p.n.Add(1)
		}
	}()
}

// appendPrintk formats one line: text "15:04:05 [printk] comm-pid: msg",
// or a JSON object with the message under "printk".
func (r *runner) appendPrintk(b []byte, l *tracepipe.Line) []byte {
	now := time.Now()
	if r.o.JSON {
		line, _ := json.Marshal(struct {
			Time   string `json:"timestamp"`
			Printk string `json:"printk"`
			Comm   string `json:"comm"`
			PID    int    `json:"pid"`
			CPU    int    `json:"cpu"`
		}{now.Format(time.RFC3339Nano), l.Msg, l.Comm, l.PID, l.CPU})
		return append(append(b, line...), '\n')
	}
	b = r.out.appendClock(b, now)
	b = append(b, " [printk] "...)
	b = append(b, l.Comm...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(l.PID), 10)
	b = append(b, ": "...)
	b = append(b, l.Msg...)
	return append(b, '\n')
}

// close drains what the programs printed before they were detached, then
// removes the trace instance.
func (p *printkReader) close() {
	p.stop.Store(true)
	p.wg.Wait()
	p.rd.Close()
}
