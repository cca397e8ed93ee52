package bpfobj

import (
	"bytes"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// LoadSpec parses a BPF ELF object into a collection spec, after
// PromoteWeakMaps and HideKconfig, with hidden functions made static. The
// caller's bytes are never modified. Objects come from registries and
// URLs: a panic of the ELF reader on a malformed file becomes an error.
func LoadSpec(object []byte) (spec *ebpf.CollectionSpec, err error) {
	defer func() {
		if p := recover(); p != nil {
			spec, err = nil, fmt.Errorf("malformed BPF object: %v", p)
		}
	}()
	fixed, _ := PromoteWeakMaps(object)
	fixed = HideKconfig(fixed)
	spec, err = ebpf.LoadCollectionSpecFromReader(bytes.NewReader(fixed))
	if err != nil {
		return nil, err
	}
	if hidden := HiddenFuncs(object); len(hidden) > 0 {
		for _, p := range spec.Programs {
			for i := range p.Instructions {
				if fn := btf.FuncMetadata(&p.Instructions[i]); fn != nil && fn.Linkage == btf.GlobalFunc && hidden[fn.Name] {
					fn.Linkage = btf.StaticFunc
				}
			}
		}
	}
	return spec, nil
}
