package wasm

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/ecc-bpf/ecc/internal/wasmbin"
)

// provided lists, per import module, the functions the host provides.
type provided map[string]map[string]api.FunctionDefinition

// checkImports returns a clear error for the first import the host does not
// provide, or provides with another type: "app.wasm imports env.foo, which
// ecli does not provide".
func checkImports(name string, info *wasmbin.Module, funcs []api.FunctionDefinition, have provided) error {
	var errs []string
	for _, imp := range info.Imports {
		fns, known := have[imp.Module]
		switch {
		case imp.Kind != wasmbin.KindFunc:
			errs = append(errs, fmt.Sprintf("%s imports %s (%s), which ecli does not provide", name, imp, wasmbin.KindName(imp.Kind)))
		case !known:
			errs = append(errs, fmt.Sprintf("%s imports %s, which ecli does not provide (ecli provides the modules wasi_snapshot_preview1 and wasm_bpf)", name, imp))
		case fns[imp.Name] == nil:
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
