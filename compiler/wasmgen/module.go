package wasmgen

import (
	"errors"
	"fmt"
)

// Kinds of Wasm imports and exports.
const (
	KindFunc   = 0
	KindTable  = 1
	KindMemory = 2
	KindGlobal = 3
)

// Import is one import of a module.
type Import struct {
	Module, Name string
	Kind         byte
}

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

// ReadModule reads the import and export sections of a core Wasm module.
func ReadModule(b []byte) (*Module, error) {
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return nil, errors.New("not a WebAssembly module (no \\0asm magic)")
	}
	if string(b[4:8]) != "\x01\x00\x00\x00" {
		return nil, fmt.Errorf("WebAssembly binary version %x, want 1", b[4:8])
	}
	m := &Module{Exports: map[string]byte{}}
	r := &wreader{b: b, off: 8}
	for r.off < len(b) && r.err == nil {
		id := r.byte()
		size := r.uleb()
		if r.err != nil || uint64(size) > uint64(len(b)-r.off) {
			return nil, errors.New("truncated WebAssembly section")
		}
		sec := &wreader{b: b[:r.off+int(size)], off: r.off}
		r.off += int(size)
		switch id {
		case 2:
			n := sec.uleb()
			for i := uint32(0); i < n && sec.err == nil; i++ {
				imp := Import{Module: sec.name(), Name: sec.name(), Kind: sec.byte()}
				switch imp.Kind {
				case KindFunc:
					sec.uleb()
				case KindTable:
					sec.byte()
					sec.limits()
				case KindMemory:
					sec.limits()
				case KindGlobal:
					sec.byte()
					sec.byte()
				default:
					sec.err = fmt.Errorf("import kind %d", imp.Kind)
				}
				if sec.err == nil {
					m.Imports = append(m.Imports, imp)
				}
			}
		case 7:
			n := sec.uleb()
			for i := uint32(0); i < n && sec.err == nil; i++ {
				name, kind := sec.name(), sec.byte()
				sec.uleb()
				if sec.err == nil {
					m.Exports[name] = kind
				}
			}
		}
		if sec.err != nil {
			return nil, fmt.Errorf("malformed WebAssembly section %d: %w", id, sec.err)
		}
	}
	return m, r.err
}

type wreader struct {
	b   []byte
	off int
	err error
}

func (r *wreader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.err = errors.New("truncated")
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *wreader) uleb() uint32 {
	var v uint64
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			if v > 1<<32-1 {
				r.err = errors.New("LEB128 over 32 bits")
			}
			return uint32(v)
		}
	}
	if r.err == nil {
		r.err = errors.New("LEB128 too long")
	}
	return 0
}

func (r *wreader) name() string {
	n := r.uleb()
	if r.err != nil || uint64(n) > uint64(len(r.b)-r.off) {
		if r.err == nil {
			r.err = errors.New("truncated name")
		}
		return ""
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	return s
}

func (r *wreader) limits() {
	if flags := r.byte(); flags&1 != 0 {
		r.uleb()
		r.uleb()
		return
	}
	r.uleb()
}
