package wasm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/tetratelabs/wazero/experimental/table"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/perf"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// perfBufferPages is the size of each per-CPU perf buffer, in pages, as in
// eunomia's wasm-bpf runtime and ecli run.
const perfBufferPages = 64

// maxBatch bounds the records one callback-mode poll delivers, so that a
// busy buffer cannot keep a poll from ever returning.
const maxBatch = 1 << 16

// errTimeout is what a source returns when the deadline passed with no
// record.
var errTimeout = os.ErrDeadlineExceeded

// source is an open ring buffer or perf buffer reader.
type source interface {
	// read returns the next record, waiting until deadline (the zero Time
	// waits forever), or errTimeout. The record is valid until the next
	// read.
	read(deadline time.Time) ([]byte, error)
	// close interrupts a blocked read and frees the reader; it may be
	// called concurrently with read, and more than once.
	close()
}

type ringSource struct {
	rd       *ringbuf.Reader
	rec      ringbuf.Record
	deadline time.Time
}

func (s *ringSource) read(deadline time.Time) ([]byte, error) {
	if !deadline.Equal(s.deadline) {
		s.rd.SetDeadline(deadline)
		s.deadline = deadline
	}
	if err := s.rd.ReadInto(&s.rec); err != nil {
		return nil, err
	}
	return s.rec.RawSample, nil
}

func (s *ringSource) close() { s.rd.Close() }

type perfSource struct {
	rd       *perf.Reader
	rec      perf.Record
	deadline time.Time
	lost     uint64
}

func (s *perfSource) read(deadline time.Time) ([]byte, error) {
	if !deadline.Equal(s.deadline) {
		s.rd.SetDeadline(deadline)
		s.deadline = deadline
	}
	for {
		if err := s.rd.ReadInto(&s.rec); err != nil {
			return nil, err
		}
		if s.rec.LostSamples > 0 {
			s.lost += s.rec.LostSamples
			continue
		}
		return s.rec.RawSample, nil
	}
}

func (s *perfSource) close() { s.rd.Close() }

// openSource opens a reader for the map: a ring buffer or a perf event
// array.
func openSource(m *ebpf.Map) (source, error) {
	switch m.Type() {
	case ebpf.RingBuf:
		rd, err := ringbuf.NewReader(m)
		if err != nil {
			return nil, err
		}
		return &ringSource{rd: rd}, nil
	case ebpf.PerfEventArray:
		rd, err := perf.NewReader(m, perfBufferPages*os.Getpagesize())
		if err != nil {
			return nil, err
		}
		return &perfSource{rd: rd}, nil
	}
	return nil, fmt.Errorf("map type %s is not a ring buffer or a perf event array", m.Type())
}

// pollArgs are the guest's arguments of one poll.
type pollArgs struct {
	fn      uint32 // table index of the callback, 0 for pull mode
	ctx     uint32 // opaque, handed back to the callback
	data    uint32 // where records are copied
	maxSize uint32 // at most this many bytes of each
}

// wasm_bpf_buffer_poll(obj i64, fd i32, sample_func i32, ctx i32, data i32,
// max_size i32, timeout_ms i32) -> i32
func (h *host) bufferPoll(ctx context.Context, mod api.Module, stack []uint64) {
	ret(stack, h.poll(ctx, mod, stack[0], i32(stack, 1), pollArgs{
		fn: ptr(stack, 2), ctx: ptr(stack, 3), data: ptr(stack, 4), maxSize: ptr(stack, 5),
	}, i32(stack, 6)))
}

func (h *host) poll(ctx context.Context, mod api.Module, id uint64, fd int32, a pollArgs, timeoutMS int32) int32 {
	h.exitIfStopped(ctx)
	if h.polling {
		return -eBUSY // from a callback: the records would be delivered out of order
	}
	obj := h.object(id)
	if obj == nil {
		return -eINVAL
	}
	if int32(a.maxSize) <= 0 {
		return -eINVAL
	}
	mem := mod.Memory()
	if _, ok := view(mem, a.data, a.maxSize); !ok {
		return -eFAULT
	}
	if a.fn != 0 && h.tramp == nil {
		h.logf("%s: wasm_bpf_buffer_poll: a callback (table index %d) needs the guest to export its function table: link with -Wl,--export-table, or pass 0 for pull mode", h.name, a.fn)
		return -eINVAL
	}
	src, e := h.source(obj, fd)
	if e != 0 {
		return e
	}
	if a.fn != 0 {
		// Refuse a bad index before a record is taken from the buffer.
		if e := h.checkCallback(ctx, a.fn); e != 0 {
			return e
		}
	}
	var deadline time.Time // timeout_ms < 0: wait until a record comes or the run stops
	if timeoutMS >= 0 {
		deadline = time.Now().Add(time.Duration(timeoutMS) * time.Millisecond)
	}
	rec, err := src.read(deadline)
	if err != nil {
		h.exitIfStopped(ctx)
		return h.readErr(err)
	}
	if a.fn == 0 {
		// Pull mode: one record, its length returned.
		n := min(uint32(len(rec)), a.maxSize)
		if !mem.Write(a.data, rec[:n]) {
			return -eFAULT
		}
		return int32(n)
	}

	return h.dispatch(ctx, obj, src, rec, a)
}

// source returns the reader of the buffer map fd of obj, opening it at the
// first poll.
func (h *host) source(obj *object, fd int32) (source, int32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return nil, -eINTR
	}
	if obj.closed {
		return nil, -eINVAL
	}
	if s := obj.buffers[int(fd)]; s != nil {
		return s, 0
	}
	ref := h.maps[int(fd)]
	if ref == nil || ref.obj != obj {
		return nil, -eBADF
	}
	s, err := openSource(ref.m)
	if err != nil {
		h.logf("%s: wasm_bpf_buffer_poll: map fd %d: %v", h.name, fd, err)
		return nil, errno(err, eINVAL)
	}
	obj.buffers[int(fd)] = s
	return s, 0
}

func (h *host) readErr(err error) int32 {
	switch {
	case errors.Is(err, errTimeout):
		return 0
	case h.isStopped(), errors.Is(err, ringbuf.ErrClosed), errors.Is(err, perf.ErrClosed), errors.Is(err, os.ErrClosed):
		return -eINTR
	}
	h.logf("%s: wasm_bpf_buffer_poll: %v", h.name, err)
	return errno(err, eINVAL)
}

// batch is the state of one callback-mode poll, for next.
type batch struct {
	obj   *object
	src   source
	first []byte // the record that ended the wait
	taken bool   // first was delivered
	n     int    // records delivered
	err   int32  // why delivery stopped early (-errno), 0 when drained
}

// dispatch delivers first, then what else the buffer holds, to the
// guest's callback: one call of the trampoline's run, which loops calling
// next (host: copy the next record into the guest's buffer) then
// call_indirect → int cb(void *ctx, void *data, size_t size), until the
// buffer is drained, maxBatch records were delivered, or the callback
// returns non-zero. It returns that value, else 0, or the error that
// stopped reading (checkCallback refused indexes that name no callback).
// A trap inside the callback itself fails the whole run (the guest's
// state is lost), as does exit() from it.
func (h *host) dispatch(ctx context.Context, obj *object, src source, first []byte, a pollArgs) int32 {
	b := &h.batchState
	*b = batch{obj: obj, src: src, first: first}
	h.polling, h.batch = true, b
	defer func() {
		h.polling, h.batch = false, nil
		*b = batch{}
	}()
	s := h.trampStack
	s[0], s[1], s[2], s[3] = uint64(a.fn), uint64(a.ctx), uint64(a.data), uint64(a.maxSize)
	if err := h.tramp.CallWithStack(ctx, s); err != nil {
		var exit *sys.ExitError
		if errors.As(err, &exit) {
			panic(exit) // exit() in the callback, or the run is stopping: end _start with it
		}
		panic(&callbackError{fn: a.fn, err: err})
	}
	switch r := int64(s[0]); {
	case r < 0:
		return h.badIndex(a.fn, r)
	case r > 0:
		return int32(uint32(r))
	}
	return b.err
}

// next is the trampoline's import ecli_internal.next(data i32, max i32) -> i32:
// it copies the next record of the current batch, cut to max bytes, to
// data in the guest's memory and returns its length, or -1 when there is
// none to deliver.
func (h *host) next(ctx context.Context, _ api.Module, stack []uint64) {
	data, maxSize := ptr(stack, 0), ptr(stack, 1)
	stack[0] = uint64(uint32(0xffffffff))
	b := h.batch
	if b == nil {
		return
	}
	rec := b.first
	if !b.taken {
		b.taken = true
	} else {
		if b.obj.closed || b.n >= maxBatch {
			return
		}
		var err error
		if rec, err = b.src.read(drainDeadline); err != nil {
			if !errors.Is(err, errTimeout) {
				h.exitIfStopped(ctx)
				b.err = h.readErr(err)
			}
			return
		}
	}
	n := min(uint32(len(rec)), maxSize)
	if !h.guestMem.Write(data, rec[:n]) {
		b.err = -eFAULT
		return
	}
	b.n++
	stack[0] = uint64(n)
}

// drainDeadline is in the past: read what is there without waiting.
var drainDeadline = time.Unix(1, 0)

// checkCallback checks that the table index fn is inside the guest's
// table, not null, and a function of the callback's type.
func (h *host) checkCallback(ctx context.Context, fn uint32) int32 {
	s := h.trampStack
	s[0] = uint64(fn)
	if err := h.trampCheck.CallWithStack(ctx, s[:1]); err != nil {
		var exit *sys.ExitError
		if errors.As(err, &exit) {
			panic(exit)
		}
		h.logf("%s: wasm_bpf_buffer_poll: check the callback: %v", h.name, err)
		return -eINVAL
	}
	if r := int64(s[0]); r < 0 {
		return h.badIndex(fn, r)
	}
	if !h.isCallback(fn) {
		h.logf("%s: wasm_bpf_buffer_poll: table index %d is not a function int(void *, void *, size_t)", h.name, fn)
		return -eINVAL
	}
	return 0
}

// isCallback reports whether the function at index fn of the guest's
// table (inside it, not null: checkCallback's trampoline call said so) has
// the callback's type, so that the trampoline's call_indirect will not
// trap. wazero's table.LookupFunction checks as call_indirect does, and
// panics as it would trap. An index found good is not looked up again:
// guests built by clang or Go do not rewrite their tables, and one that
// did would end its run with the trap (a callbackError).
func (h *host) isCallback(fn uint32) (ok bool) {
	if h.callbackOK[fn] {
		return true
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	i32 := api.ValueTypeI32
	table.LookupFunction(h.trampMod, 0, fn, []api.ValueType{i32, i32, i32}, []api.ValueType{i32})
	if h.callbackOK == nil {
		h.callbackOK = map[uint32]bool{}
	}
	h.callbackOK[fn] = true
	return true
}

func (h *host) badIndex(fn uint32, r int64) int32 {
	if r == trampOutOfRange {
		h.logf("%s: wasm_bpf_buffer_poll: callback table index %d is out of the guest's table", h.name, fn)
	} else {
		h.logf("%s: wasm_bpf_buffer_poll: callback table index %d is a null function", h.name, fn)
	}
	return -eINVAL
}

// callbackError ends the run when the guest's callback trapped.
type callbackError struct {
	fn  uint32
	err error
}

func (e *callbackError) Error() string {
	return fmt.Sprintf("the buffer poll callback (table index %d) failed: %v", e.fn, e.err)
}

func (e *callbackError) Unwrap() error { return e.err }
