package wasm

import (
	"context"
	"runtime"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/tetratelabs/wazero/api"
	"golang.org/x/sys/unix"
)

// Commands of wasm_bpf_map_operate: the bpf(2) command numbers.
const (
	cmdLookup  = 1 // BPF_MAP_LOOKUP_ELEM
	cmdUpdate  = 2 // BPF_MAP_UPDATE_ELEM
	cmdDelete  = 3 // BPF_MAP_DELETE_ELEM
	cmdNextKey = 4 // BPF_MAP_GET_NEXT_KEY
)

// mapElemAttr is union bpf_attr for the BPF_MAP_*_ELEM commands.
type mapElemAttr struct {
	mapFD uint32
	_     uint32
	key   uint64
	value uint64 // or next_key
	flags uint64
}

var possibleCPUs = sync.OnceValue(func() int {
	n, err := ebpf.PossibleCPU()
	if err != nil || n < 1 {
		return runtime.NumCPU()
	}
	return n
})

// valueSize is the size of the buffer a lookup fills: per-CPU maps return
// one 8-byte-aligned value per possible CPU.
func valueSize(m *ebpf.Map) uint32 {
	switch m.Type() {
	case ebpf.PerCPUHash, ebpf.PerCPUArray, ebpf.LRUCPUHash, ebpf.PerCPUCGroupStorage:
		return ((m.ValueSize() + 7) &^ 7) * uint32(possibleCPUs())
	}
	return m.ValueSize()
}

// wasm_bpf_map_operate(fd i32, cmd i32, key i32, value i32, next_key i32,
// flags i64) -> i32
func (h *host) mapOperate(_ context.Context, mod api.Module, stack []uint64) {
	ret(stack, h.mapOp(mod.Memory(), i32(stack, 0), i32(stack, 1), ptr(stack, 2), ptr(stack, 3), ptr(stack, 4), stack[5]))
}

// mapOp performs one map operation on a map of the guest's objects. Keys
// and values are copied through host buffers of exactly the map's sizes,
// after checking that the guest's ranges are inside its memory.
func (h *host) mapOp(mem api.Memory, fd, cmd int32, key, value, nextKey uint32, flags uint64) int32 {
	h.mu.Lock()
	ref := h.maps[int(fd)]
	h.mu.Unlock()
	if ref == nil {
		return -eBADF
	}
	m := ref.m
	ks, vs := m.KeySize(), valueSize(m)

	// in copies size bytes of the guest at p into a host buffer.
	in := func(p, size uint32) ([]byte, int32) {
		if size == 0 {
			return nil, 0
		}
		if p == 0 {
			return nil, -eFAULT
		}
		b, ok := view(mem, p, size)
		if !ok {
			return nil, -eFAULT
		}
		return append([]byte(nil), b...), 0
	}
	// out checks that the guest can receive size bytes at p.
	out := func(p, size uint32) ([]byte, int32) {
		if size == 0 {
			return nil, 0
		}
		if p == 0 {
			return nil, -eFAULT
		}
		if _, ok := view(mem, p, size); !ok {
			return nil, -eFAULT
		}
		return make([]byte, size), 0
	}

	var k, v []byte
	var e int32
	switch cmd {
	case cmdLookup:
		if k, e = in(key, ks); e != 0 {
			return e
		}
		if v, e = out(value, vs); e != 0 {
			return e
		}
	case cmdUpdate:
		if k, e = in(key, ks); e != 0 {
			return e
		}
		if v, e = in(value, vs); e != 0 {
			return e
		}
	case cmdDelete:
		if k, e = in(key, ks); e != 0 {
			return e
		}
	case cmdNextKey:
		if key != 0 { // NULL: the first key
			if k, e = in(key, ks); e != 0 {
				return e
			}
		}
		if v, e = out(nextKey, ks); e != 0 {
			return e
		}
	default:
		return -eINVAL
	}
	attr := mapElemAttr{mapFD: uint32(m.FD()), key: addr(k), value: addr(v), flags: flags}
	_, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(k)
	runtime.KeepAlive(v)
	if errno != 0 {
		return -int32(errno)
	}
	switch cmd {
	case cmdLookup:
		if !mem.Write(value, v) {
			return -eFAULT
		}
	case cmdNextKey:
		if !mem.Write(nextKey, v) {
			return -eFAULT
		}
	}
	return 0
}

func addr(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&b[0])))
}
