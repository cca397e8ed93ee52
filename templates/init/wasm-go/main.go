//go:build wasip1 && wasm

// Command [[.Name]] is the user-space side of [[.Name]] as a Go Wasm guest
// (GOOS=wasip1 GOARCH=wasm): it loads the BPF program, attaches it and
// prints one line per exec.
//
// Build:  ecc build --wasm main.go
// Run:    sudo ecli run [[.Name]].wasm
//
// bpfObject, bpfPrograms and Event come from [[.Name]]_bpf_wasm.go, which
// `ecc build --wasm` generates from the BPF object next to this file in a
// copy of this folder (so this package only builds through ecc).
package main

import (
	"fmt"
	"os"

	"github.com/ecc-bpf/ecc/templates/wasm/go/eccwasm"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "[[.Name]]:", err)
		os.Exit(1)
	}
}

func run() error {
	obj, err := eccwasm.Load(bpfObject)
	if err != nil {
		return err
	}
	defer obj.Close()
	if err := obj.AttachAll(bpfPrograms, ""); err != nil {
		return err
	}
	events, err := obj.MapFD("events")
	if err != nil {
		return err
	}
	buf := make([]byte, 4096)
	// Runs until the host stops the guest (Ctrl-C, ecli run -d).
	for {
		// Pull mode: the host copies one record into buf, 0 on timeout.
		n, err := obj.Poll(events, buf, 100)
		if err != nil {
			return err
		}
		if n == 0 {
			continue
		}
		e, err := eccwasm.Decode[Event](buf[:n])
		if err != nil {
			return err
		}
		fmt.Printf("pid=%d ppid=%d comm=%s file=%s\n", e.Pid, e.Ppid,
			eccwasm.CString(e.Comm[:]), eccwasm.CString(e.Filename[:]))
	}
}
