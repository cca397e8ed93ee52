package wasm

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero/api"
)

// External kinds in import and export sections.
const (
	kindFunc   = 0
	kindTable  = 1
	kindMemory = 2
	kindGlobal = 3
	kindTag    = 4
)

var kindNames = [...]string{"a function", "a table", "a memory", "a global", "a tag"}

// importEntry is one import of the guest module.
type importEntry struct {
	module, name string
	kind         byte
}

func (i importEntry) String() string { return i.module + "." + i.name }

// moduleInfo is what Run needs to know about a module before wazero
// instantiates it: its imports (so that a missing one is named clearly)
// and which of its exports exist.
type moduleInfo struct {
	imports []importEntry
	exports map[string]byte // name → kind
}

// parseModule reads the import and export sections of a Wasm binary. It
// stops at the first construct it does not know (e.g. a GC proposal type
// in an import) and returns what it read: wazero validates the module in
// full anyway; this is only for friendlier errors.
func parseModule(b []byte) (*moduleInfo, error) {
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return nil, errors.New("not a WebAssembly module (no \\0asm header)")
	}
	if b[4] != 1 || b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return nil, fmt.Errorf("unsupported WebAssembly binary version %x (want 1: core modules, not components)", b[4:8])
	}
	info := &moduleInfo{exports: map[string]byte{}}
	r := &reader{b: b, off: 8}
	for r.off < len(r.b) {
		id := r.byte()
		size := r.u32()
		if r.err != nil || size > uint32(len(r.b)-r.off) {
			return info, nil // wazero reports the malformed section
		}
		sec := &reader{b: r.b[:r.off+int(size)], off: r.off}
		r.off += int(size)
		switch id {
		case 2:
			info.imports = parseImports(sec)
		case 7:
			parseExports(sec, info.exports)
		}
	}
	return info, nil
}

func parseImports(r *reader) []importEntry {
	var out []importEntry
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		mod, name := r.name(), r.name()
		kind := r.byte()
		if r.err != nil {
			break
		}
		out = append(out, importEntry{mod, name, kind})
		switch kind {
		case kindFunc:
			r.u32()
		case kindTable:
			if t := r.byte(); t != 0x70 && t != 0x6f { // funcref, externref
				return out
			}
			r.limits()
		case kindMemory:
			r.limits()
		case kindGlobal:
			if t := r.byte(); t < 0x6f || t > 0x7f || (t > 0x70 && t < 0x7b) {
				return out // a typed reference: stop here
			}
			r.byte()
		case kindTag:
			r.byte()
			r.u32()
		default:
			return out
		}
	}
	return out
}

func parseExports(r *reader, into map[string]byte) {
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		name := r.name()
		kind := r.byte()
		r.u32()
		if r.err == nil {
			into[name] = kind
		}
	}
}

// reader decodes the little the import and export sections need.
type reader struct {
	b   []byte
	off int
	err error
}

var errTruncated = errors.New("truncated section")

func (r *reader) byte() byte {
	if r.err != nil || r.off >= len(r.b) {
		r.err = errTruncated
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
	r.err = errors.New("LEB128 number too long")
	return 0
}

func (r *reader) u32() uint32 {
	v := r.u64()
	if v > 1<<32-1 {
		r.err = errors.New("LEB128 number over 32 bits")
	}
	return uint32(v)
}

func (r *reader) name() string {
	n := r.u32()
	if r.err != nil || uint64(n) > uint64(len(r.b)-r.off) {
		r.err = errTruncated
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

// provided lists, per import module, the functions the host provides.
type provided map[string]map[string]api.FunctionDefinition

// checkImports returns a clear error for the first import the host does not
// provide, or provides with another type: "app.wasm imports env.foo, which
// ecli does not provide".
func checkImports(name string, info *moduleInfo, funcs []api.FunctionDefinition, have provided) error {
	var errs []string
	for _, imp := range info.imports {
		fns, known := have[imp.module]
		switch {
		case imp.kind != kindFunc:
			what := "an import"
			if int(imp.kind) < len(kindNames) {
				what = kindNames[imp.kind]
			}
			errs = append(errs, fmt.Sprintf("%s imports %s (%s), which ecli does not provide", name, imp, what))
		case !known:
			errs = append(errs, fmt.Sprintf("%s imports %s, which ecli does not provide (ecli provides the modules wasi_snapshot_preview1 and wasm_bpf)", name, imp))
		case fns[imp.name] == nil:
			errs = append(errs, fmt.Sprintf("%s imports %s, which ecli does not provide", name, imp))
		}
	}
	for _, fn := range funcs {
		mod, fname, _ := fn.Import()
		want := have[mod][fname]
		if want == nil {
			continue // reported above
		}
		if !slices.Equal(fn.ParamTypes(), want.ParamTypes()) || !slices.Equal(fn.ResultTypes(), want.ResultTypes()) {
			errs = append(errs, fmt.Sprintf("%s imports %s.%s with type %s, but ecli provides %s",
				name, mod, fname, signature(fn), signature(want)))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	if len(errs) > 5 {
		errs = append(errs[:5], fmt.Sprintf("and %d more", len(errs)-5))
	}
	return errors.New(strings.Join(errs, "\n  "))
}

func signature(fn api.FunctionDefinition) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	return "(" + names(fn.ParamTypes()) + ") -> (" + names(fn.ResultTypes()) + ")"
}
