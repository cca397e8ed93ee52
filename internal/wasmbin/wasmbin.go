// Package wasmbin reads what a core WebAssembly module imports and exports,
// from the binary, without compiling it: the build checks which host
// functions a guest uses, and the runtime names a missing import clearly
// before wazero instantiates the module.
package wasmbin

import (
	"errors"
	"fmt"
)

// Kinds of imports and exports.
const (
	KindFunc   = 0
	KindTable  = 1
	KindMemory = 2
	KindGlobal = 3
	KindTag    = 4
)

var kindNames = [...]string{"a function", "a table", "a memory", "a global", "a tag"}

// KindName is "a function", "a memory", ... for an import or export kind.
func KindName(kind byte) string {
	if int(kind) < len(kindNames) {
		return kindNames[kind]
	}
	return "an import"
}

// Import is one import of a module.
type Import struct {
	Module, Name string
	Kind         byte
}

func (i Import) String() string { return i.Module + "." + i.Name }

// Module is what a Wasm binary imports and exports.
type Module struct {
	Imports []Import
	// Exports maps an export's name to its kind.
	Exports map[string]byte
}

// ImportsFunc reports whether the module imports the function module.name.
func (m *Module) ImportsFunc(module, name string) bool {
	for _, i := range m.Imports {
		if i.Module == module && i.Name == name && i.Kind == KindFunc {
			return true
		}
	}
	return false
}

// ImportsFrom reports whether the module imports anything from module.
func (m *Module) ImportsFrom(module string) bool {
	for _, i := range m.Imports {
		if i.Module == module {
			return true
		}
	}
	return false
}

// ErrMalformed is wrapped by the error Read returns for a section it
// cannot read to the end: truncated, or a construct it does not know (a
// typed reference from the GC proposal, an unknown import kind).
var ErrMalformed = errors.New("malformed WebAssembly section")

// Read reads the import and export sections of a core Wasm module. A
// binary that is not a core module (no \0asm magic, a component's version)
// is an error and a nil Module. A malformed section is an error wrapping
// ErrMalformed, returned with what was read before it: callers that hand
// the module to a full validator anyway may go on with that.
func Read(b []byte) (*Module, error) {
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return nil, errors.New("not a WebAssembly module (no \\0asm magic)")
	}
	if string(b[4:8]) != "\x01\x00\x00\x00" {
		return nil, fmt.Errorf("unsupported WebAssembly binary version %x (want 1: core modules, not components)", b[4:8])
	}
	m := &Module{Exports: map[string]byte{}}
	r := &reader{b: b, off: 8}
	for r.off < len(b) {
		id := r.byte()
		size := r.u32()
		if r.err != nil || uint64(size) > uint64(len(b)-r.off) {
			return m, fmt.Errorf("%w %d: truncated", ErrMalformed, id)
		}
		sec := &reader{b: b[:r.off+int(size)], off: r.off}
		r.off += int(size)
		switch id {
		case 2:
			sec.imports(m)
		case 7:
			sec.exports(m)
		}
		if sec.err != nil {
			return m, fmt.Errorf("%w %d: %w", ErrMalformed, id, sec.err)
		}
	}
	return m, nil
}

func (r *reader) imports(m *Module) {
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		imp := Import{Module: r.name(), Name: r.name(), Kind: r.byte()}
		if r.err != nil {
			return
		}
		switch imp.Kind {
		case KindFunc:
			r.u32()
		case KindTable:
			if t := r.byte(); t != 0x70 && t != 0x6f { // funcref, externref
				r.fail("table of reference type %#x", t)
			}
			r.limits()
		case KindMemory:
			r.limits()
		case KindGlobal:
			if t := r.byte(); t < 0x6f || t > 0x7f || (t > 0x70 && t < 0x7b) {
				r.fail("global of type %#x", t) // a typed reference
			}
			r.byte()
		case KindTag:
			r.byte()
			r.u32()
		default:
			r.fail("import kind %d", imp.Kind)
		}
		if r.err == nil {
			m.Imports = append(m.Imports, imp)
		}
	}
}

func (r *reader) exports(m *Module) {
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		name, kind := r.name(), r.byte()
		r.u32()
		if r.err == nil {
			m.Exports[name] = kind
		}
	}
}

// reader decodes the little the import and export sections need.
type reader struct {
	b   []byte
	off int
	err error
}

var errTruncated = errors.New("truncated")

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *reader) byte() byte {
	if r.err != nil || r.off >= len(r.b) {
		r.fail("%w", errTruncated)
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

// u64 reads an unsigned LEB128 number.
func (r *reader) u64() uint64 {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
	r.fail("LEB128 number too long")
	return 0
}

func (r *reader) u32() uint32 {
	v := r.u64()
	if v > 1<<32-1 {
		r.fail("LEB128 number over 32 bits")
	}
	return uint32(v)
}

func (r *reader) name() string {
	n := r.u32()
	if r.err != nil || uint64(n) > uint64(len(r.b)-r.off) {
		r.fail("%w name", errTruncated)
		return ""
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	return s
}

func (r *reader) limits() {
	flags := r.byte()
	r.u64()
	if flags&1 != 0 {
		r.u64()
	}
}
