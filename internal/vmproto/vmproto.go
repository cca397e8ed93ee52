// Package vmproto is what `ecc test` (package vm, on the host) and ecli's
// init mode (package runtime/vmguest, PID 1 inside the VM) say to each
// other: the run's configuration, written into the initramfs, and the
// result the guest prints on its second serial port between two markers.
package vmproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Paths inside the initramfs.
const (
	// Init is the static ecli the kernel starts; as PID 1 it runs
	// runtime/vmguest.
	Init = "/init"
	// Dir holds the configuration and the package.
	Dir = "/ecc-test"
	// ConfigFile is the Config as JSON.
	ConfigFile = Dir + "/config.json"
	// PackageFile is the package.json to run.
	PackageFile = Dir + "/package.json"
	// ModulesDir holds the kernel modules to load.
	ModulesDir = Dir + "/modules"
	// Busybox is busybox-static, present only when a COMMAND needs it.
	Busybox = "/bin/busybox"
)

// ResultDevice is the serial port the result is written to on a guest of
// goarch (runtime.GOARCH of the guest's ecli), the one vm/qemu writes to a
// file: ttyS1 on x86 (the kernel's console is ttyS0, so nothing else
// writes there), ttyS0 on arm64 (a PCI 16550; the console is ttyAMA0).
func ResultDevice(goarch string) string {
	if goarch == "arm64" {
		return "/dev/ttyS0"
	}
	return "/dev/ttyS1"
}

// Markers around the result on ResultDevice.
const (
	Begin = "===ECC-TEST-RESULT-BEGIN==="
	End   = "===ECC-TEST-RESULT-END==="
)

// Config is what the guest runs.
type Config struct {
	// Duration is how long the package runs, in milliseconds, while the
	// default activity goes on (or at most, with Command).
	DurationMS int64 `json:"duration_ms"`
	// Command replaces the default activity: argv of a program in the
	// initramfs; the run ends when it exits.
	Command []string `json:"command,omitempty"`
	// NoKernelBTF hides /sys/kernel/btf from the package.
	NoKernelBTF bool `json:"no_kernel_btf,omitempty"`
	// Samples is how many events the result keeps.
	Samples int `json:"samples"`
	// Modules are kernel modules to load first, in order.
	Modules []string `json:"modules,omitempty"`
}

// Program is what became of one program of the package.
type Program struct {
	Name    string `json:"name"`
	Section string `json:"section"`
	// State is attached, twin (another kind of the same hook runs),
	// manual (loaded, not attached automatically), skipped (by a rule of
	// ecli run, with Reason) or failed (with Error).
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	// VerifierLog is the end of the verifier's log when it refused the
	// program.
	VerifierLog []string `json:"verifier_log,omitempty"`
}

// Program states.
const (
	Attached = "attached"
	Twin     = "twin"
	Manual   = "manual"
	Skipped  = "skipped"
	Failed   = "failed"
)

// Command is how the COMMAND ended.
type Command struct {
	Exit   int    `json:"exit"`
	Output string `json:"output,omitempty"`
}

// Result is what the guest reports.
type Result struct {
	// Release is uname -r; Machine uname -m (x86_64, aarch64).
	Release string `json:"release"`
	Machine string `json:"machine,omitempty"`
	// KernelBTF says whether /sys/kernel/btf/vmlinux was there for the
	// package.
	KernelBTF bool      `json:"kernel_btf"`
	Programs  []Program `json:"programs"`
	// EventOutputs is how many ring buffers and perf event arrays the
	// package has.
	EventOutputs int `json:"event_outputs"`
	// Events is how many events were printed; Samples the first few.
	Events  int               `json:"events"`
	Samples []json.RawMessage `json:"samples,omitempty"`
	// MapRows is how many map entries, histograms and globals were
	// printed; Printk how many bpf_printk lines.
	MapRows int      `json:"map_rows"`
	Printk  int      `json:"printk"`
	Command *Command `json:"command,omitempty"`
	// Error is why the run failed, if it did.
	Error string `json:"error,omitempty"`
	// Log is the end of ecli's own messages (stderr).
	Log []string `json:"log,omitempty"`
	// InitMS is how long init ran, from its start to the report.
	InitMS int64 `json:"init_ms"`
}

// Marshal frames the result for ResultDevice.
func (r *Result) Marshal() []byte {
	b, _ := json.Marshal(r)
	var out bytes.Buffer
	out.WriteString("\n" + Begin + "\n")
	out.Write(b)
	out.WriteString("\n" + End + "\n")
	return out.Bytes()
}

// ErrNoResult is returned when the output holds no complete result.
var ErrNoResult = errors.New("the VM printed no result")

// ParseResult finds the result between the markers in what the guest
// wrote.
func ParseResult(out []byte) (*Result, error) {
	_, rest, ok := bytes.Cut(out, []byte(Begin))
	if !ok {
		return nil, ErrNoResult
	}
	body, _, ok := bytes.Cut(rest, []byte(End))
	if !ok {
		return nil, fmt.Errorf("%w: the result was cut short", ErrNoResult)
	}
	var r Result
	if err := json.Unmarshal(bytes.TrimSpace(body), &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoResult, err)
	}
	return &r, nil
}
