package eccwasm

import (
	"bytes"
	"errors"
	"fmt"
	"unsafe"
)

// Flags of a map update (BPF_ANY, BPF_NOEXIST, BPF_EXIST).
const (
	UpdateAny     uint64 = 0 // create or replace
	UpdateNoExist uint64 = 1 // create only
	UpdateExist   uint64 = 2 // replace only
)

// Commands of wasm_bpf_map_operate.
const (
	cmdLookup  = 1
	cmdUpdate  = 2
	cmdDelete  = 3
	cmdNextKey = 4
)

// ErrNotFound matches the host's -ENOENT: a key that is not in the map, or
// the end of an iteration.
var ErrNotFound = errors.New("not found")

// Error is a failure reported by the host.
type Error struct {
	// Op is what was done: "load", "attach", "map", "poll", "lookup",
	// "update", "delete", "next key", "close".
	Op string
	// Name is the program or map concerned, if any.
	Name string
	// Code is the host's result: a negative Linux errno value when the
	// host knows one (0 for a failed load, which has no code).
	Code int
	// Msg replaces the code's description when set.
	Msg string
}

var errnoNames = map[int]string{
	1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 7: "E2BIG",
	9: "EBADF", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT",
	16: "EBUSY", 17: "EEXIST", 19: "ENODEV", 22: "EINVAL", 24: "EMFILE",
	28: "ENOSPC", 34: "ERANGE", 38: "ENOSYS", 95: "EOPNOTSUPP", 524: "ENOTSUPP",
}

func (e *Error) Error() string {
	what := e.Op
	if e.Name != "" {
		what += " " + e.Name
	}
	switch {
	case e.Msg != "":
		return "eccwasm: " + what + ": " + e.Msg
	case e.Code < 0 && errnoNames[-e.Code] != "":
		return fmt.Sprintf("eccwasm: %s: host error %d (%s)", what, e.Code, errnoNames[-e.Code])
	default:
		return fmt.Sprintf("eccwasm: %s: host error %d", what, e.Code)
	}
}

// Is makes errors.Is(err, ErrNotFound) true for -ENOENT.
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.Code == -2
}

// CString returns the text of a C char array up to its first NUL (all of it
// if there is none).
func CString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// Decode copies a record (from Poll, or a map value read as bytes) into a
// T, which must be a pointer-free type such as a generated struct. It fails
// when data is shorter than T; extra bytes are ignored.
func Decode[T any](data []byte) (T, error) {
	var v T
	n := int(unsafe.Sizeof(v))
	if len(data) < n {
		return v, fmt.Errorf("eccwasm: decode: record of %d bytes is shorter than %T (%d bytes)", len(data), v, n)
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&v)), n), data)
	return v, nil
}

// Bytes returns the memory of *v as a byte slice (no copy): for map
// operations and polls on raw buffers.
func Bytes[T any](v *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
}
