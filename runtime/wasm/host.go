package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/ecc-bpf/ecc/internal/termsafe"
	"github.com/ecc-bpf/ecc/runtime/attach"
)

// ModuleName is the import module of the wasm-bpf host functions.
const ModuleName = "wasm_bpf"

// Errno values returned to the guest (negated).
const (
	eINTR       = int32(syscall.EINTR)
	eBADF       = int32(syscall.EBADF)
	eNOENT      = int32(syscall.ENOENT)
	eFAULT      = int32(syscall.EFAULT)
	eBUSY       = int32(syscall.EBUSY)
	eINVAL      = int32(syscall.EINVAL)
	ePERM       = int32(syscall.EPERM)
	eNOTSUP     = int32(syscall.EOPNOTSUPP)
	maxString   = 4096 // longest C string accepted from the guest (names, paths)
	maxObjectSz = 1 << 30
)

// host is the state of one Run: the BPF objects the guest created, and
// what the host functions need to reach the guest.
type host struct {
	o    *Options
	name string // the program's name in messages, e.g. "app.wasm"

	// mu guards objects and maps against interrupt, which runs on another
	// goroutine when ctx is done; host functions themselves are only ever
	// called from the guest's single thread.
	mu      sync.Mutex
	objects map[uint64]*object
	maps    map[int]*mapRef // every map of every live object, by fd
	nextID  uint64
	stopped bool

	setupOnce sync.Once

	// Callbacks into the guest (see poll.go).
	guestMem   api.Memory
	tramp      api.Function // nil when the guest exports no table
	trampMod   api.Module   // the trampoline, whose table 0 is the guest's
	trampCheck api.Function
	callbackOK map[uint32]bool // table indexes found to hold a callback
	trampStack []uint64
	polling    bool   // a poll is delivering records: polls from callbacks are refused
	batch      *batch // what the trampoline's next delivers, during a dispatch
	batchState batch
}

// object is what wasm_load_bpf_object returned a handle for.
type object struct {
	id      uint64
	spec    *ebpf.CollectionSpec
	progs   map[string]*ebpf.Program
	failed  map[string]error // programs the kernel refused at load
	maps    map[string]*ebpf.Map
	links   []attach.Link
	buffers map[int]source // open ring/perf buffer readers, by map fd
	closers []func()
	closed  bool
}

type mapRef struct {
	m   *ebpf.Map
	obj *object
}

func newHost(o *Options, name string) *host {
	return &host{
		o:       o,
		name:    name,
		objects: map[uint64]*object{},
		maps:    map[int]*mapRef{},
	}
}

// logf prints a host message. Messages quote names from the guest and its
// objects: control characters are escaped (internal/termsafe).
func (h *host) logf(format string, args ...any) {
	fmt.Fprintf(h.o.Stderr, "ecli: %s\n", termsafe.Text(fmt.Sprintf(format, args...)))
}

func (h *host) debugf(format string, args ...any) {
	if h.o.Verbose {
		h.logf(format, args...)
	}
}

// functions lists the wasm_bpf host functions with their Wasm types.
func (h *host) functions() []hostFunc {
	const i32, i64 = api.ValueTypeI32, api.ValueTypeI64
	return []hostFunc{
		{"wasm_load_bpf_object", []api.ValueType{i32, i32}, []api.ValueType{i64}, h.loadObject},
		{"wasm_attach_bpf_program", []api.ValueType{i64, i32, i32}, []api.ValueType{i32}, h.attachProgram},
		{"wasm_bpf_map_fd_by_name", []api.ValueType{i64, i32}, []api.ValueType{i32}, h.mapFDByName},
		{"wasm_bpf_buffer_poll", []api.ValueType{i64, i32, i32, i32, i32, i32, i32}, []api.ValueType{i32}, h.bufferPoll},
		{"wasm_bpf_map_operate", []api.ValueType{i32, i32, i32, i32, i32, i64}, []api.ValueType{i32}, h.mapOperate},
		{"wasm_close_bpf_object", []api.ValueType{i64}, []api.ValueType{i32}, h.closeObject},
	}
}

type hostFunc struct {
	name            string
	params, results []api.ValueType
	fn              api.GoModuleFunc
}

// instantiate defines the host module moduleName with the wasm_bpf
// functions.
func (h *host) instantiate(ctx context.Context, r wazero.Runtime, moduleName string) (api.Module, error) {
	b := r.NewHostModuleBuilder(moduleName)
	for _, f := range h.functions() {
		b.NewFunctionBuilder().WithGoModuleFunction(f.fn, f.params, f.results).WithName(f.name).Export(f.name)
	}
	return b.Instantiate(ctx)
}

// setup prepares the kernel side once, at the first load.
func (h *host) setup() {
	h.setupOnce.Do(func() {
		if err := attach.EnsureFS(); err != nil {
			h.debugf("%v", err)
		}
		// Needs CAP_SYS_RESOURCE; kernels ≥ 5.11 account BPF memory to the
		// cgroup instead, so failing here is harmless.
		_ = rlimit.RemoveMemlock()
	})
}

// object returns the live object with handle id.
func (h *host) object(id uint64) *object {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.objects[id]
}

// interrupt runs when ctx is done: it wakes a poll blocked in the kernel
// (the guest is then stopped by wazero at its next function call or loop).
func (h *host) interrupt() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	for _, obj := range h.objects {
		for _, s := range obj.buffers {
			s.close()
		}
	}
}

// exitIfStopped ends the guest right away, from inside a host function,
// when the run is stopping: it does not get to see an error code and print
// about it.
func (h *host) exitIfStopped(ctx context.Context) {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		panic(sys.NewExitError(sys.ExitCodeDeadlineExceeded))
	case ctx.Err() != nil:
		panic(sys.NewExitError(sys.ExitCodeContextCanceled))
	}
}

func (h *host) isStopped() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stopped
}

// closeAll detaches and frees everything the guest left open.
func (h *host) closeAll() {
	h.mu.Lock()
	objs := make([]*object, 0, len(h.objects))
	for _, o := range h.objects {
		objs = append(objs, o)
	}
	h.mu.Unlock()
	for _, o := range objs {
		h.release(o)
	}
}

// release detaches obj's programs, closes its readers, maps and programs,
// and forgets its handle and fds.
func (h *host) release(obj *object) error {
	h.mu.Lock()
	delete(h.objects, obj.id)
	for fd, ref := range h.maps {
		if ref.obj == obj {
			delete(h.maps, fd)
		}
	}
	obj.closed = true
	buffers := obj.buffers
	obj.buffers = nil
	h.mu.Unlock()

	var errs []error
	for _, l := range obj.links {
		if err := l.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	obj.links = nil
	for fd, s := range buffers {
		s.close()
		if ps, ok := s.(*perfSource); ok && ps.lost > 0 {
			h.logf("%s: lost %d events of the perf buffer (map fd %d): it was full; poll more often", h.name, ps.lost, fd)
		}
	}
	for i := len(obj.closers) - 1; i >= 0; i-- {
		obj.closers[i]()
	}
	obj.closers = nil
	if len(errs) > 0 {
		return fmt.Errorf("close object %d: %w", obj.id, errors.Join(errs...))
	}
	return nil
}

// Guest memory access. Every pointer and size coming from the guest goes
// through these: an out-of-range access is an error code, never a panic.

// i32 reads parameter i as a signed 32-bit value.
func i32(stack []uint64, i int) int32 { return int32(uint32(stack[i])) }

// ptr reads parameter i as a guest pointer.
func ptr(stack []uint64, i int) uint32 { return uint32(stack[i]) }

// ret stores a 32-bit result.
func ret(stack []uint64, v int32) { stack[0] = uint64(uint32(v)) }

// view returns n bytes of guest memory at p, or ok false when they are not
// all inside it. The slice aliases guest memory: copy before the guest
// runs again (memory.grow may move it).
func view(mem api.Memory, p, n uint32) ([]byte, bool) {
	if mem == nil {
		return nil, false
	}
	if n == 0 {
		return nil, uint64(p) <= uint64(mem.Size())
	}
	return mem.Read(p, n)
}

// cString reads the NUL-terminated string at p: -EFAULT when it runs past
// the end of memory (or p is NULL), -EINVAL when longer than maxString.
func cString(mem api.Memory, p uint32) (string, int32) {
	if p == 0 || mem == nil {
		return "", eFAULT
	}
	size := mem.Size()
	if p >= size {
		return "", eFAULT
	}
	n := size - p
	if n > maxString+1 {
		n = maxString + 1
	}
	b, ok := mem.Read(p, n)
	if !ok {
		return "", eFAULT
	}
	i := bytes.IndexByte(b, 0)
	switch {
	case i >= 0:
		return string(b[:i]), 0
	case n == maxString+1:
		return "", eINVAL
	default:
		return "", eFAULT
	}
}

// errno returns -errno for err: -EOPNOTSUPP when the kernel cannot do
// it, else the first syscall.Errno in its chain, else -fallback.
func errno(err error, fallback int32) int32 {
	if attach.IsNotSupported(err) {
		return -eNOTSUP
	}
	var e syscall.Errno
	if errors.As(err, &e) && e != 0 {
		return -int32(e)
	}
	return -fallback
}
