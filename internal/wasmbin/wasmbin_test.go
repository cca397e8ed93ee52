package wasmbin

import (
	"errors"
	"testing"
)

// module is a core module importing wasm_bpf.wasm_load_bpf_object (a
// function of type 0) and env.memory (a memory of at least one page), and
// exporting _start and __indirect_function_table.
func module() []byte {
	mod := []byte("\x00asm\x01\x00\x00\x00")
	imp := []byte{2}
	imp = append(imp, "\x08wasm_bpf\x14wasm_load_bpf_object\x00\x00"...)
	imp = append(imp, "\x03env\x06memory\x02\x00\x01"...)
	mod = append(mod, 2, byte(len(imp)))
	mod = append(mod, imp...)
	exp := []byte{2}
	exp = append(exp, "\x06_start\x00\x01"...)
	exp = append(exp, "\x19__indirect_function_table\x01\x00"...)
	mod = append(mod, 7, byte(len(exp)))
	return append(mod, exp...)
}

func TestRead(t *testing.T) {
	m, err := Read(module())
	if err != nil {
		t.Fatal(err)
	}
	if !m.ImportsFunc("wasm_bpf", "wasm_load_bpf_object") || m.ImportsFunc("env", "memory") || !m.ImportsFrom("env") || m.ImportsFrom("wasi_snapshot_preview1") {
		t.Errorf("imports %+v", m.Imports)
	}
	if len(m.Imports) != 2 || m.Imports[1].Kind != KindMemory || m.Imports[1].String() != "env.memory" {
		t.Errorf("imports %+v", m.Imports)
	}
	if len(m.Exports) != 2 || m.Exports["_start"] != KindFunc || m.Exports["__indirect_function_table"] != KindTable {
		t.Errorf("exports %v", m.Exports)
	}
}

func TestReadRefuses(t *testing.T) {
	for _, bad := range [][]byte{nil, []byte("\x7fELF\x02\x01\x01\x00"), []byte("\x00asm\x0d\x00\x01\x00")} {
		if m, err := Read(bad); err == nil || m != nil || errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v, %v; want an error and no module", bad, m, err)
		}
	}
	mod := module()
	m, err := Read(mod[:len(mod)-3])
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated export section: %v, want ErrMalformed", err)
	}
	if len(m.Imports) != 2 {
		t.Errorf("truncated export section: imports %+v, want the two read before it", m.Imports)
	}
}

// Every prefix of a module reads without a panic, and without an error
// only where it ends between sections: after the header (8 bytes) or
// after the import section (the export section is the last 40 bytes).
func TestReadPrefixes(t *testing.T) {
	mod := module()
	for n := range len(mod) {
		_, err := Read(mod[:n])
		if whole := n == 8 || n == len(mod)-40; (err == nil) != whole {
			t.Errorf("prefix of %d bytes: %v", n, err)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add(module())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Read(b)
		if err == nil && m == nil {
			t.Fatal("no module and no error")
		}
	})
}
