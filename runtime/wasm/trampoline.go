package wasm

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// wazero has no public API to call a function by its table index. The
// trampoline is a module of our own, assembled here, that imports the
// guest's table and does the call_indirect. One call delivers a whole
// batch of records: it asks the host for each (next), so that the costly
// host → Wasm call happens once per poll, not once per record.
//
//	(module
//	  (type $run (func (param i32 i32 i32 i32) (result i64)))
//	  (type $cb (func (param i32 i32 i32) (result i32)))
//	  (type $check (func (param i32) (result i64)))
//	  (type $next (func (param i32 i32) (result i32)))
//	  (import "<guest>" "__indirect_function_table" (table 0 funcref))
//	  (import "ecli_internal" "next" (func $next (type $next)))
//	  (func (export "run") (type $run) (param $idx i32) (param $ctx i32) (param $data i32) (param $max i32) (result i64)
//	    (local $n i32) (local $r i32)
//	    (if (i32.ge_u (local.get $idx) (table.size 0)) (then (return (i64.const -1))))
//	    (if (ref.is_null (table.get 0 (local.get $idx))) (then (return (i64.const -2))))
//	    (loop $deliver
//	      (if (i32.lt_s (local.tee $n (call $next (local.get $data) (local.get $max))) (i32.const 0))
//	        (then (return (i64.const 0))))
//	      (if (local.tee $r (call_indirect (type $cb) (local.get $ctx) (local.get $data) (local.get $n) (local.get $idx)))
//	        (then (return (i64.extend_i32_u (local.get $r)))))
//	      (br $deliver))
//	    (unreachable))
//	  (func (export "check") (type $check) (param $idx i32) (result i64)
//	    ;; the same two checks, then
//	    (i64.const 0)))
//
// run returns 0 when next had nothing more, what the callback returned
// when not 0 (as an unsigned 32-bit value), or -1 / -2 for an index out of
// the table or null. A function of another type traps in call_indirect
// ("indirect call type mismatch"), before the guest runs.
const (
	trampolineName  = "ecli-trampoline"
	internalModule  = "ecli_internal" // the trampoline's host import; guests cannot import it
	tableExport     = "__indirect_function_table"
	trampOutOfRange = -1
	trampNull       = -2
)

func trampolineModule(guest string) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	section := func(id byte, body []byte) {
		b = append(b, id)
		b = appendU32(b, uint32(len(body)))
		b = append(b, body...)
	}
	str := func(dst []byte, s string) []byte { return append(appendU32(dst, uint32(len(s))), s...) }
	const i32, i64, funcref = 0x7f, 0x7e, 0x70

	section(1, []byte{4, // types
		0x60, 4, i32, i32, i32, i32, 1, i64, // 0: run
		0x60, 3, i32, i32, i32, 1, i32, // 1: the callback
		0x60, 1, i32, 1, i64, // 2: check
		0x60, 2, i32, i32, 1, i32, // 3: next
	})
	imp := []byte{2}
	imp = str(imp, guest) // the guest's table: funcref, min 0, no max
	imp = str(imp, tableExport)
	imp = append(imp, 0x01, funcref, 0x00, 0x00)
	imp = str(imp, internalModule) // function 0: next
	imp = str(imp, "next")
	imp = append(imp, 0x00, 3)
	section(2, imp)
	section(3, []byte{2, 0, 2}) // function 1: run, function 2: check
	exp := []byte{2}
	exp = append(str(exp, "run"), 0x00, 1)
	exp = append(str(exp, "check"), 0x00, 2)
	section(7, exp)

	checks := []byte{
		0x20, 0x00, // local.get $idx
		0xfc, 0x10, 0x00, // table.size 0
		0x4f,       // i32.ge_u
		0x04, 0x40, // if (no result)
		0x42, 0x7f, // i64.const -1
		0x0f,       // return
		0x0b,       // end
		0x20, 0x00, // local.get $idx
		0x25, 0x00, // table.get 0
		0xd1,       // ref.is_null
		0x04, 0x40, // if
		0x42, 0x7e, // i64.const -2
		0x0f, // return
		0x0b, // end
	}
	run := []byte{1, 2, i32} // locals: $n (4), $r (5)
	run = append(run, checks...)
	run = append(run,
		0x03, 0x40, // loop
		0x20, 0x02, // local.get $data
		0x20, 0x03, // local.get $max
		0x10, 0x00, // call $next
		0x22, 0x04, // local.tee $n
		0x41, 0x00, // i32.const 0
		0x48,       // i32.lt_s
		0x04, 0x40, // if
		0x42, 0x00, // i64.const 0
		0x0f,       // return
		0x0b,       // end
		0x20, 0x01, // local.get $ctx
		0x20, 0x02, // local.get $data
		0x20, 0x04, // local.get $n
		0x20, 0x00, // local.get $idx
		0x11, 0x01, 0x00, // call_indirect (type 1) (table 0)
		0x22, 0x05, // local.tee $r
		0x04, 0x40, // if
		0x20, 0x05, // local.get $r
		0xad,       // i64.extend_i32_u
		0x0f,       // return
		0x0b,       // end
		0x0c, 0x00, // br $deliver
		0x0b, // end loop
		0x00, // unreachable
		0x0b, // end
	)
	check := append([]byte{0}, checks...)
	check = append(check, 0x42, 0x00, 0x0b) // i64.const 0, end
	code := []byte{2}
	code = append(appendU32(code, uint32(len(run))), run...)
	code = append(appendU32(code, uint32(len(check))), check...)
	section(10, code)

	// A name section, so that wazero's stack traces say
	// ecli-trampoline.run.
	names := str(nil, "name")
	modName := str(nil, trampolineName)
	names = append(names, 0) // module name
	names = append(appendU32(names, uint32(len(modName))), modName...)
	fnNames := []byte{3}
	fnNames = str(append(fnNames, 0), "next")
	fnNames = str(append(fnNames, 1), "run")
	fnNames = str(append(fnNames, 2), "check")
	names = append(names, 1) // function names
	names = append(appendU32(names, uint32(len(fnNames))), fnNames...)
	section(0, names)
	return b
}

func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// instantiateTrampoline links the trampoline to the guest instance named
// guest, which must export its table.
func (h *host) instantiateTrampoline(ctx context.Context, r wazero.Runtime, guest api.Module) error {
	_, err := r.NewHostModuleBuilder(internalModule).NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(h.next), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}).
		Export("next").Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("callback trampoline: %w", err)
	}
	mod, err := r.InstantiateWithConfig(ctx, trampolineModule(guest.Name()), wazero.NewModuleConfig().WithName(trampolineName))
	if err != nil {
		return fmt.Errorf("link the callback trampoline to %s: %w", tableExport, err)
	}
	h.guestMem = guest.Memory()
	h.trampMod = mod
	h.tramp = mod.ExportedFunction("run")
	h.trampCheck = mod.ExportedFunction("check")
	h.trampStack = make([]uint64, 4)
	return nil
}
