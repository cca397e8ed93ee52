// Package tracepipe reads the lines BPF programs print with bpf_printk
// (bpf_trace_printk and bpf_trace_vprintk).
//
// The kernel writes them to its trace buffer as the event
// bpf_trace/bpf_trace_printk. [Open] gives the reader a trace instance of
// its own (tracefs instances/NAME) with only that event enabled, so that
// reading does not consume the lines other tools read from the global
// trace_pipe, and removes it on Close. The event still carries every
// program's printk, not only ours: the kernel does not say which program
// printed a line. Kernels without the event or without instances are read
// through the global trace_pipe, shared with other readers.
package tracepipe

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Line is one bpf_printk line.
type Line struct {
	// Comm and PID are the task that was running when the program
	// printed (not the program's owner).
	Comm string
	PID  int
	CPU  int
	// Timestamp is the trace clock's seconds, as the trace shows them.
	Timestamp float64
	// Msg is what the program printed, without the trailing newline.
	Msg string
}

// maxLine bounds a trace line; bpf_trace_printk's own limit is far lower.
const maxLine = 64 << 10

// Reader reads bpf_printk lines.
type Reader struct {
	f        *os.File
	br       *bufio.Reader
	instance string // removed on Close; "" when reading the global pipe
	// Shared says lines are read from the global trace_pipe, which other
	// readers (cat trace_pipe, bpftool prog tracelog) consume too.
	Shared bool
}

// Open starts reading the bpf_printk lines of tracefs mounted at root
// (/sys/kernel/tracing).
func Open(root string) (*Reader, error) {
	if root == "" {
		return nil, errors.New("tracefs is not mounted (mount -t tracefs tracefs /sys/kernel/tracing)")
	}
	name := fmt.Sprintf("ecli-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	inst := filepath.Join(root, "instances", name)
	enable := filepath.Join(inst, "events", "bpf_trace", "bpf_trace_printk", "enable")
	if _, err := os.Stat(filepath.Join(root, "events", "bpf_trace", "bpf_trace_printk")); err == nil {
		if err := os.Mkdir(inst, 0o700); err == nil {
			if err := os.WriteFile(enable, []byte("1"), 0); err == nil {
				if r, err := open(filepath.Join(inst, "trace_pipe")); err == nil {
					r.instance = inst
					return r, nil
				}
			}
			os.Remove(inst)
		}
	}
	r, err := open(filepath.Join(root, "trace_pipe"))
	if err != nil {
		return nil, err
	}
	r.Shared = true
	return r, nil
}

func open(path string) (*Reader, error) {
	// Non-blocking, so that Go's poller waits for data and Close or a
	// deadline ends a pending read.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &Reader{f: f, br: bufio.NewReaderSize(f, 64<<10)}, nil
}

// Next returns the next line, waiting until deadline (zero: no limit).
// It returns os.ErrDeadlineExceeded when nothing came in time and
// os.ErrClosed after Close.
func (r *Reader) Next(deadline time.Time) (Line, error) {
	for {
		r.f.SetReadDeadline(deadline)
		raw, err := r.readLine()
		if err != nil {
			return Line{}, err
		}
		if l, ok := Parse(raw); ok {
			return l, nil
		}
	}
}

func (r *Reader) readLine() (string, error) {
	var b []byte
	for {
		chunk, isPrefix, err := r.br.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				// trace_pipe gives EOF-like empty reads only when closed.
				return "", os.ErrClosed
			}
			return "", err
		}
		if len(b)+len(chunk) <= maxLine {
			b = append(b, chunk...)
		}
		if !isPrefix {
			return string(b), nil
		}
	}
}

// Close stops reading and removes the reader's trace instance.
func (r *Reader) Close() error {
	err := r.f.Close()
	if r.instance != "" {
		// The instance's events must be off for rmdir to succeed on some
		// kernels.
		os.WriteFile(filepath.Join(r.instance, "events", "bpf_trace", "bpf_trace_printk", "enable"), []byte("0"), 0)
		if rerr := os.Remove(r.instance); rerr != nil && err == nil {
			err = fmt.Errorf("remove trace instance %s: %w", r.instance, rerr)
		}
		r.instance = ""
	}
	return err
}

// lineRE matches a trace line:
//
//	<comm>-<pid> [(<tgid>)] [<cpu>] [<flags>] <seconds>: [bpf_trace_printk: ]<message>
var lineRE = regexp.MustCompile(`^\s*(.*)-(\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[(\d+)\]\s+(?:\S{4,5}\s+)?(\d+\.\d+):\s(?:bpf_trace_printk:\s)?(.*)$`)

// Parse reads one line of a trace pipe; ok is false for lines that are
// not trace records (e.g. "CPU:3 [LOST 12 EVENTS]").
func Parse(s string) (l Line, ok bool) {
	m := lineRE.FindStringSubmatch(s)
	if m == nil {
		return Line{}, false
	}
	pid, err1 := strconv.Atoi(m[2])
	cpu, err2 := strconv.Atoi(m[3])
	ts, err3 := strconv.ParseFloat(m[4], 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return Line{}, false
	}
	return Line{
		Comm:      strings.TrimSpace(m[1]),
		PID:       pid,
		CPU:       cpu,
		Timestamp: ts,
		Msg:       strings.TrimRight(m[5], "\n"),
	}, true
}
