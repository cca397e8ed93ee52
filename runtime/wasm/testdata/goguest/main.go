// Command goguest is the Go guest of runtime/wasm's tests, built with
// GOOS=wasip1 GOARCH=wasm next to exec.bpf.o (the test copies both into a
// temporary module). It loads the object, attaches handle_exec, and reads
// the perf buffer pb in pull mode (sample_func 0) until it sees an exec of
// the program named by its first argument; it prints that exec and its
// count from the execs map, and exits 0.
package main

import (
	_ "embed"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"unsafe"
)

//go:embed exec.bpf.o
var object []byte

//go:wasmimport wasm_bpf wasm_load_bpf_object
func loadObject(buf unsafe.Pointer, size int32) uint64

//go:wasmimport wasm_bpf wasm_attach_bpf_program
func attachProgram(obj uint64, name, target unsafe.Pointer) int32

//go:wasmimport wasm_bpf wasm_bpf_map_fd_by_name
func mapFDByName(obj uint64, name unsafe.Pointer) int32

//go:wasmimport wasm_bpf wasm_bpf_buffer_poll
func bufferPoll(obj uint64, fd, sampleFunc int32, ctx uint32, data unsafe.Pointer, maxSize, timeoutMS int32) int32

//go:wasmimport wasm_bpf wasm_bpf_map_operate
func mapOperate(fd, cmd int32, key, value, nextKey unsafe.Pointer, flags uint64) int32

//go:wasmimport wasm_bpf wasm_close_bpf_object
func closeObject(obj uint64) int32

// cstr returns a NUL-terminated copy of s.
func cstr(s string) unsafe.Pointer {
	b := append([]byte(s), 0)
	return unsafe.Pointer(&b[0])
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: goguest COMM")
		os.Exit(10)
	}
	want := os.Args[1]
	obj := loadObject(unsafe.Pointer(&object[0]), int32(len(object)))
	if obj == 0 {
		os.Exit(1)
	}
	if r := attachProgram(obj, cstr("handle_exec"), nil); r != 0 {
		fmt.Fprintln(os.Stderr, "attach:", r)
		os.Exit(2)
	}
	pb := mapFDByName(obj, cstr("pb"))
	execs := mapFDByName(obj, cstr("execs"))
	if pb < 0 || execs < 0 {
		fmt.Fprintln(os.Stderr, "maps:", pb, execs)
		os.Exit(3)
	}
	fmt.Println("ready")
	buf := make([]byte, 64)
	for {
		n := bufferPoll(obj, pb, 0, 0, unsafe.Pointer(&buf[0]), int32(len(buf)), 100)
		if n < 0 {
			fmt.Fprintln(os.Stderr, "poll:", n)
			os.Exit(4)
		}
		if n < 20 {
			continue
		}
		pid := binary.LittleEndian.Uint32(buf[0:4])
		comm, _, _ := strings.Cut(string(buf[4:20]), "\x00")
		fmt.Printf("exec pid=%d comm=%s\n", pid, comm)
		if comm != want {
			continue
		}
		var count uint64
		r := mapOperate(execs, 1, unsafe.Pointer(&pid), unsafe.Pointer(&count), nil, 0)
		fmt.Printf("count pid=%d count=%d ret=%d\n", pid, count, r)
		fmt.Printf("close ret=%d\n", closeObject(obj))
		return
	}
}
