package loader

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/ecc-bpf/ecc/runtime/attach"
)

// cookieExtern is the .kconfig extern of libbpf's <bpf/usdt.bpf.h>: libbpf
// sets it to whether the kernel has BPF cookies. cilium/ebpf knows only
// LINUX_KERNEL_VERSION, LINUX_HAS_SYSCALL_WRAPPER and CONFIG_* (which it
// looks up in the kernel config, where this one is not), so loading any
// USDT program would fail.
const cookieExtern = "LINUX_HAS_BPF_COOKIE"

// kconfigRef says whether ins reads a .kconfig extern, and at which offset
// of the .kconfig datasec, from cilium/ebpf's instruction metadata.
// cilium/ebpf keeps that metadata private (elf_reader.go's kconfigMeta
// {Map *MapSpec; Offset uint32} under the key kconfigMetaKey{}), so it is
// read by reflection; TestCookieExtern notices if that ever changes.
func kconfigRef(ins *asm.Instruction) (off uint32, ms *ebpf.MapSpec, ok bool) {
	if !ins.IsLoadFromMap() || ins.Src != asm.PseudoMapValue || ins.Map() != nil || ins.Reference() != "" {
		return 0, nil, false
	}
	head := reflect.ValueOf(&ins.Metadata).Elem().FieldByName("head")
	for e := head; e.IsValid() && e.Kind() == reflect.Pointer && !e.IsNil(); e = e.Elem().FieldByName("next") {
		key := e.Elem().FieldByName("key")
		if !key.IsValid() || key.Kind() != reflect.Interface || key.IsNil() || key.Elem().Type().Name() != "kconfigMetaKey" {
			continue
		}
		val := e.Elem().FieldByName("value")
		if !val.IsValid() || val.Kind() != reflect.Interface || val.IsNil() {
			return 0, nil, false
		}
		meta := val.Elem()
		if meta.Kind() != reflect.Pointer || meta.IsNil() || meta.Elem().Kind() != reflect.Struct {
			return 0, nil, false
		}
		offset, mapField := meta.Elem().FieldByName("Offset"), meta.Elem().FieldByName("Map")
		if !offset.IsValid() || !offset.CanUint() || !mapField.IsValid() || mapField.Type() != reflect.TypeOf((*ebpf.MapSpec)(nil)) {
			return 0, nil, false
		}
		// An unexported field: read it through its address.
		ms = *(**ebpf.MapSpec)(unsafe.Pointer(mapField.UnsafeAddr()))
		return uint32(offset.Uint()), ms, true
	}
	return 0, nil, false
}

// resolveCookieExtern gives programs reading LINUX_HAS_BPF_COOKIE its value
// for this kernel (attach.HaveBPFCookie, which USDT attachment also
// follows): each load of it becomes a load from a small frozen read-only
// map holding the value, and the extern leaves .kconfig so that
// cilium/ebpf resolves the others. The returned map is closed after the
// programs load (they keep it alive). Nothing is done for objects
// without the extern.
func resolveCookieExtern(spec *ebpf.CollectionSpec) (*ebpf.Map, error) {
	if spec.Types == nil {
		return nil, nil
	}
	var ds *btf.Datasec
	if err := spec.Types.TypeByName(".kconfig", &ds); err != nil {
		return nil, nil
	}
	var varOff, varSize uint32
	found := false
	for _, v := range ds.Vars {
		if bv, ok := v.Type.(*btf.Var); ok && bv.Name == cookieExtern {
			varOff, varSize, found = v.Offset, v.Size, true
		}
	}
	if !found {
		return nil, nil
	}
	if varSize != 1 && varSize != 2 && varSize != 4 && varSize != 8 {
		return nil, fmt.Errorf("%s: %d bytes, want a bool or an integer", cookieExtern, varSize)
	}

	type site struct {
		prog string
		idx  int
	}
	var sites []site
	kconfigMaps := map[*ebpf.MapSpec]bool{}
	for name, p := range spec.Programs {
		for i := range p.Instructions {
			off, ms, ok := kconfigRef(&p.Instructions[i])
			if !ok {
				continue
			}
			if off == varOff {
				sites = append(sites, site{name, i})
				kconfigMaps[ms] = true
			}
		}
	}
	if len(sites) == 0 {
		return nil, nil
	}

	value := make([]byte, 8)
	if attach.HaveBPFCookie() {
		switch varSize {
		case 1:
			value[0] = 1
		case 2:
			binary.NativeEndian.PutUint16(value, 1)
		case 4:
			binary.NativeEndian.PutUint32(value, 1)
		default:
			binary.NativeEndian.PutUint64(value, 1)
		}
	}
	m, err := ebpf.NewMap(&ebpf.MapSpec{
		Name:       "libbpf_kconfig",
		Type:       ebpf.Array,
		KeySize:    4,
		ValueSize:  8,
		MaxEntries: 1,
		Flags:      unix.BPF_F_RDONLY_PROG, // frozen after its contents are written
		Contents:   []ebpf.MapKV{{Key: uint32(0), Value: value}},
	})
	if err != nil {
		return nil, fmt.Errorf("create the map for %s: %w", cookieExtern, err)
	}
	for _, s := range sites {
		old := &spec.Programs[s.prog].Instructions[s.idx]
		ins := asm.LoadMapValue(old.Dst, 0, 0)
		if sym := old.Symbol(); sym != "" {
			ins = ins.WithSymbol(sym)
		}
		if src := old.Source(); src != nil {
			ins = ins.WithSource(src)
		}
		if fn := btf.FuncMetadata(old); fn != nil {
			ins = btf.WithFuncMetadata(ins, fn)
		}
		if err := ins.AssociateMap(m); err != nil {
			m.Close()
			return nil, err
		}
		*old = ins
	}
	// The remaining .kconfig externs (if any) are cilium/ebpf's to
	// resolve, without this one.
	for ms := range kconfigMaps {
		if d, ok := ms.Value.(*btf.Datasec); ok {
			cp := *d
			cp.Vars = nil
			for _, v := range d.Vars {
				if bv, ok := v.Type.(*btf.Var); !ok || bv.Name != cookieExtern {
					cp.Vars = append(cp.Vars, v)
				}
			}
			ms.Value = &cp
		}
	}
	return m, nil
}
