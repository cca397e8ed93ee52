// Package eccwasm is the guest side of ecc's Wasm packages for Go programs:
// a user-space program built with `ecc build --wasm main.go` (GOOS=wasip1
// GOARCH=wasm) that embeds its BPF object and drives it through the wasm-bpf
// host ABI (import module "wasm_bpf") that `ecli run NAME.wasm` provides.
//
// `ecc build --wasm` adds a generated file to the guest's package main,
// NAME_bpf_wasm.go, which holds the BPF object (var bpfObject []byte), the
// names of its programs (var bpfPrograms []string) and Go structs mirroring
// the BPF program's event and map structs, checked at compile time against
// the sizes and offsets of the object's BTF. A whole tracer is then
//
//	obj, err := eccwasm.Load(bpfObject)
//	...
//	err = obj.AttachAll(bpfPrograms, "")
//	events, err := obj.MapFD("events")
//	buf := make([]byte, 64<<10)
//	for {
//		n, err := obj.Poll(events, buf, 100)
//		if err != nil { ... }
//		if n == 0 { continue } // timeout
//		e, err := eccwasm.Decode[Event](buf[:n])
//		fmt.Println(e.Pid, eccwasm.CString(e.Comm[:]))
//	}
//
// Polling is in "pull mode": a Go module cannot hand the host a function
// table index, so it passes sample_func 0 and the host copies one record per
// call into buf and returns its length (0 on timeout).
//
// Map operations take pointers to fixed-size, pointer-free values (the
// generated structs, fixed-width integers, arrays of them): the host reads
// and writes the map's key and value sizes through them.
//
// Errors from the host are *Error values holding its (negative, Linux errno)
// result; errors.Is(err, ErrNotFound) matches a missing key and the end of
// an iteration (-ENOENT).
//
// The host functions exist only when compiled for GOOS=wasip1 GOARCH=wasm;
// on other platforms the package holds only its portable helpers.
package eccwasm
