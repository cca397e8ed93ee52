//go:build wasip1 && wasm

package eccwasm

import (
	"errors"
	"runtime"
	"unsafe"
)

// The wasm-bpf host ABI. Pointers are guest addresses (i32); a nil pointer
// is address 0, which the host reads as NULL.

//go:wasmimport wasm_bpf wasm_load_bpf_object
//go:noescape
func wasmLoadBPFObject(obj unsafe.Pointer, size int32) uint64

//go:wasmimport wasm_bpf wasm_attach_bpf_program
//go:noescape
func wasmAttachBPFProgram(obj uint64, name, target unsafe.Pointer) int32

//go:wasmimport wasm_bpf wasm_bpf_map_fd_by_name
//go:noescape
func wasmBPFMapFDByName(obj uint64, name unsafe.Pointer) int32

//go:wasmimport wasm_bpf wasm_bpf_buffer_poll
//go:noescape
func wasmBPFBufferPoll(obj uint64, fd, sampleFunc int32, ctx, data unsafe.Pointer, maxSize, timeoutMs int32) int32

//go:wasmimport wasm_bpf wasm_bpf_map_operate
//go:noescape
func wasmBPFMapOperate(fd, cmd int32, key, value, nextKey unsafe.Pointer, flags uint64) int32

//go:wasmimport wasm_bpf wasm_close_bpf_object
func wasmCloseBPFObject(obj uint64) int32

// Object is a BPF object loaded by the host.
type Object struct{ handle uint64 }

// cstring returns s NUL-terminated, or nil for "" when empty is NULL.
func cstring(s string, emptyIsNull bool) []byte {
	if s == "" && emptyIsNull {
		return nil
	}
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}

func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// Load hands a BPF ELF object to the host, which loads it into the kernel
// (with CO-RE relocations against the kernel's BTF).
func Load(obj []byte) (Object, error) {
	if len(obj) == 0 {
		return Object{}, &Error{Op: "load", Msg: "empty BPF object"}
	}
	h := wasmLoadBPFObject(ptr(obj), int32(len(obj)))
	runtime.KeepAlive(obj)
	if h == 0 {
		return Object{}, &Error{Op: "load", Msg: "the host could not load the BPF object (its log says why)"}
	}
	return Object{handle: h}, nil
}

// Handle is the host's handle of the object, for the raw ABI.
func (o Object) Handle() uint64 { return o.handle }

// Attach attaches the program prog where its SEC() says. target is the
// interface name for xdp/tc programs, the cgroup path for cgroup programs,
// else "". The user's ecli run --ifname/--cgroup win over target; the root
// cgroup needs the user's --cgroup.
func (o Object) Attach(prog, target string) error {
	n, t := cstring(prog, false), cstring(target, true)
	rc := wasmAttachBPFProgram(o.handle, ptr(n), ptr(t))
	runtime.KeepAlive(n)
	runtime.KeepAlive(t)
	if rc < 0 {
		return &Error{Op: "attach", Name: prog, Code: int(rc)}
	}
	return nil
}

// AttachAll attaches each program in turn (bpfPrograms of the generated
// file lists them all) and stops at the first failure.
func (o Object) AttachAll(progs []string, target string) error {
	for _, p := range progs {
		if err := o.Attach(p, target); err != nil {
			return err
		}
	}
	return nil
}

// MapFD returns the file descriptor of the map called name.
func (o Object) MapFD(name string) (int, error) {
	n := cstring(name, false)
	fd := wasmBPFMapFDByName(o.handle, ptr(n))
	runtime.KeepAlive(n)
	if fd < 0 {
		return -1, &Error{Op: "map", Name: name, Code: int(fd)}
	}
	return int(fd), nil
}

// Poll waits up to timeoutMs for a record of the ring buffer or perf event
// array fd, copies it into buf and returns its length; 0 means none came in
// time. buf must hold the largest record.
func (o Object) Poll(fd int, buf []byte, timeoutMs int) (int, error) {
	if len(buf) == 0 {
		return 0, &Error{Op: "poll", Msg: "empty buffer"}
	}
	n := wasmBPFBufferPoll(o.handle, int32(fd), 0, nil, ptr(buf), int32(len(buf)), int32(timeoutMs))
	runtime.KeepAlive(buf)
	switch {
	case n < 0:
		return 0, &Error{Op: "poll", Code: int(n)}
	case int(n) > len(buf):
		return len(buf), &Error{Op: "poll", Msg: "a record does not fit the buffer; pass a larger one"}
	}
	return int(n), nil
}

// Close detaches the object's programs and frees it.
func (o Object) Close() error {
	if rc := wasmCloseBPFObject(o.handle); rc < 0 {
		return &Error{Op: "close", Code: int(rc)}
	}
	return nil
}

func operate(op string, fd, cmd int32, key, value, next unsafe.Pointer, flags uint64) error {
	if rc := wasmBPFMapOperate(fd, cmd, key, value, next, flags); rc < 0 {
		return &Error{Op: op, Code: int(rc)}
	}
	return nil
}

// MapLookup reads the value of key into *value; errors.Is(err,
// ErrNotFound) when the map has no such key.
func MapLookup[K, V any](fd int, key *K, value *V) error {
	err := operate("lookup", int32(fd), cmdLookup, unsafe.Pointer(key), unsafe.Pointer(value), nil, 0)
	runtime.KeepAlive(key)
	runtime.KeepAlive(value)
	return err
}

// MapUpdate sets the value of key; flags is UpdateAny, UpdateNoExist or
// UpdateExist.
func MapUpdate[K, V any](fd int, key *K, value *V, flags uint64) error {
	err := operate("update", int32(fd), cmdUpdate, unsafe.Pointer(key), unsafe.Pointer(value), nil, flags)
	runtime.KeepAlive(key)
	runtime.KeepAlive(value)
	return err
}

// MapDelete removes key; errors.Is(err, ErrNotFound) when it was not there.
func MapDelete[K any](fd int, key *K) error {
	err := operate("delete", int32(fd), cmdDelete, unsafe.Pointer(key), nil, nil, 0)
	runtime.KeepAlive(key)
	return err
}

// MapNextKey stores the key after *key (the first key when key is nil) in
// *next; it returns false at the end of the map.
func MapNextKey[K any](fd int, key, next *K) (bool, error) {
	err := operate("next key", int32(fd), cmdNextKey, unsafe.Pointer(key), nil, unsafe.Pointer(next), 0)
	runtime.KeepAlive(key)
	runtime.KeepAlive(next)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// MapKeys returns every key of the map (at most max; 0: no limit).
func MapKeys[K any](fd int, max int) ([]K, error) {
	var keys []K
	var prev *K
	for max <= 0 || len(keys) < max {
		var next K
		ok, err := MapNextKey(fd, prev, &next)
		if err != nil || !ok {
			return keys, err
		}
		keys = append(keys, next)
		prev = &keys[len(keys)-1]
	}
	return keys, nil
}
