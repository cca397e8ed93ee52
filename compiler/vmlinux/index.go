package vmlinux

import (
	"unsafe"

	"github.com/cilium/ebpf/btf"
)

// typeKey identifies a btf.Type by the address it points to. Every concrete
// btf.Type is a pointer to a non-empty struct (Void is handled by callers),
// so distinct types have distinct addresses, and the Go heap does not move
// objects. Hashing addresses directly is several times cheaper than a map
// keyed by interface values, which matters for vmlinux (~10^5 types).
func typeKey(t btf.Type) uintptr {
	var p unsafe.Pointer
	switch v := t.(type) {
	case *btf.Int:
		p = unsafe.Pointer(v)
	case *btf.Float:
		p = unsafe.Pointer(v)
	case *btf.Pointer:
		p = unsafe.Pointer(v)
	case *btf.Array:
		p = unsafe.Pointer(v)
	case *btf.Struct:
		p = unsafe.Pointer(v)
	case *btf.Union:
		p = unsafe.Pointer(v)
	case *btf.Enum:
		p = unsafe.Pointer(v)
	case *btf.Fwd:
		p = unsafe.Pointer(v)
	case *btf.Typedef:
		p = unsafe.Pointer(v)
	case *btf.Volatile:
		p = unsafe.Pointer(v)
	case *btf.Const:
		p = unsafe.Pointer(v)
	case *btf.Restrict:
		p = unsafe.Pointer(v)
	case *btf.TypeTag:
		p = unsafe.Pointer(v)
	case *btf.FuncProto:
		p = unsafe.Pointer(v)
	case *btf.Func:
		p = unsafe.Pointer(v)
	case *btf.Var:
		p = unsafe.Pointer(v)
	case *btf.Datasec:
		p = unsafe.Pointer(v)
	default:
		// Types this package does not know are rejected when converted;
		// they only need a key that is stable and distinct.
		p = (*[2]unsafe.Pointer)(unsafe.Pointer(&t))[1]
	}
	return uintptr(p)
}

// ptrIndex is an open-addressing hash table from type addresses to node
// indexes. Zero keys are never stored (void is index 0 by definition).
type ptrIndex struct {
	keys  []uintptr
	vals  []int32
	mask  uintptr
	shift uint
	n     int
}

func newPtrIndex(hint int) *ptrIndex {
	size := 1024
	for size < hint*2 {
		size <<= 1
	}
	x := &ptrIndex{}
	x.alloc(size)
	return x
}

func (x *ptrIndex) alloc(size int) {
	x.keys = make([]uintptr, size)
	x.vals = make([]int32, size)
	x.mask = uintptr(size - 1)
	x.shift = 64
	for s := size; s > 1; s >>= 1 {
		x.shift--
	}
}

func (x *ptrIndex) slot(k uintptr) uintptr {
	// Fibonacci hashing of the address; low bits are alignment.
	return uintptr((uint64(k) * 0x9E3779B97F4A7C15) >> x.shift)
}

func (x *ptrIndex) get(k uintptr) (int32, bool) {
	for i := x.slot(k); ; i = (i + 1) & x.mask {
		switch x.keys[i] {
		case k:
			return x.vals[i], true
		case 0:
			return 0, false
		}
	}
}

func (x *ptrIndex) insert(k uintptr, v int32) {
	if k == 0 {
		return
	}
	if (x.n+1)*2 > len(x.keys) {
		oldK, oldV := x.keys, x.vals
		x.alloc(len(x.keys) * 2)
		x.n = 0
		for i, ok := range oldK {
			if ok != 0 {
				x.insert(ok, oldV[i])
			}
		}
	}
	for i := x.slot(k); ; i = (i + 1) & x.mask {
		switch x.keys[i] {
		case k:
			x.vals[i] = v
			return
		case 0:
			x.keys[i] = k
			x.vals[i] = v
			x.n++
			return
		}
	}
}
