package bpfobj

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf/btf"
)

// KconfigDatasec is the name LoadSpec gives the ".kconfig" data section of
// the object's BTF (same length, so the object's layout is unchanged).
const KconfigDatasec = "ecc_kcfg"

const kconfigName = ".kconfig"

// HideKconfig returns object with the ".kconfig" data section of its BTF
// renamed KconfigDatasec: a patched copy, or object itself when there is
// nothing to rename (or the object cannot be parsed, which cilium/ebpf then
// reports).
//
// The compiler leaves the layout of that section (size, offsets) to the
// loader, and cilium/ebpf would look for an ELF section of the new name to
// fill it in; the copy gets the layout cilium/ebpf computes for .kconfig.
func HideKconfig(object []byte) []byte {
	raw, ok := findBTF(object)
	if !ok {
		return object
	}
	nameOff, ok := raw.stringOffset(kconfigName)
	if !ok {
		return object
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(object))
	if err != nil {
		return object
	}
	var ds *btf.Datasec
	if spec.TypeByName(kconfigName, &ds) != nil {
		return object
	}
	at, ok := raw.datasec(nameOff)
	if !ok {
		return object
	}
	out := bytes.Clone(object)
	rec := out[at:]
	bo := raw.bo
	if int(bo.Uint32(rec[4:])&0xffff) != len(ds.Vars) {
		return object
	}
	bo.PutUint32(rec[8:], ds.Size)
	for i, vs := range ds.Vars {
		e := rec[12+12*i:]
		bo.PutUint32(e[4:], vs.Offset)
		if bo.Uint32(e[8:]) == 0 {
			if v, ok := vs.Type.(*btf.Var); ok {
				if size, err := btf.Sizeof(v.Type); err == nil {
					bo.PutUint32(e[8:], uint32(size))
				}
			}
		}
	}
	copy(out[raw.strs+int(nameOff):], KconfigDatasec)
	return out
}

// rawBTF locates the parts of an object's .BTF section, as offsets into
// the object.
type rawBTF struct {
	object                         []byte
	bo                             binary.ByteOrder
	types, typesEnd, strs, strsEnd int
}

func findBTF(object []byte) (*rawBTF, bool) {
	f, err := elf.NewFile(bytes.NewReader(object))
	if err != nil {
		return nil, false
	}
	sec := f.Section(".BTF")
	if sec == nil || sec.Type == elf.SHT_NOBITS || sec.Flags&elf.SHF_COMPRESSED != 0 {
		return nil, false
	}
	off, size := sec.Offset, sec.Size
	if off > uint64(len(object)) || size > uint64(len(object))-off || size < 24 {
		return nil, false
	}
	data := object[off : off+size]
	r := &rawBTF{object: object}
	switch {
	case binary.LittleEndian.Uint16(data) == btfMagic:
		r.bo = binary.LittleEndian
	case binary.BigEndian.Uint16(data) == btfMagic:
		r.bo = binary.BigEndian
	default:
		return nil, false
	}
	hdrLen := uint64(r.bo.Uint32(data[4:]))
	typeOff, typeLen := uint64(r.bo.Uint32(data[8:])), uint64(r.bo.Uint32(data[12:]))
	strOff, strLen := uint64(r.bo.Uint32(data[16:])), uint64(r.bo.Uint32(data[20:]))
	if hdrLen < 24 || hdrLen+typeOff+typeLen > size || hdrLen+strOff+strLen > size {
		return nil, false
	}
	r.types = int(off + hdrLen + typeOff)
	r.typesEnd = r.types + int(typeLen)
	r.strs = int(off + hdrLen + strOff)
	r.strsEnd = r.strs + int(strLen)
	return r, true
}

// stringOffset finds s in the string table.
func (r *rawBTF) stringOffset(s string) (uint32, bool) {
	strs := r.object[r.strs:r.strsEnd]
	i := bytes.Index(strs, []byte("\x00"+s+"\x00"))
	if i < 0 {
		return 0, false
	}
	return uint32(i + 1), true
}

const (
	btfMagic       = 0xeB9F
	btfKindDatasec = 15
)

// datasec returns the object offset of the DATASEC record named by nameOff.
func (r *rawBTF) datasec(nameOff uint32) (int, bool) {
	bo := r.bo
	for pos := r.types; r.typesEnd-pos >= 12; {
		rec := r.object[pos:]
		info := bo.Uint32(rec[4:])
		kind, vlen := (info>>24)&0x1f, int(info&0xffff)
		var extra int
		switch kind {
		case 1, 14, 17: // int, var, decl tag
			extra = 4
		case 3: // array
			extra = 12
		case 4, 5, 15, 19: // struct, union, datasec, enum64
			extra = 12 * vlen
		case 6, 13: // enum, func proto
			extra = 8 * vlen
		case 2, 7, 8, 9, 10, 11, 12, 16, 18:
		default:
			return 0, false
		}
		if r.typesEnd-pos < 12+extra {
			return 0, false
		}
		if kind == btfKindDatasec && bo.Uint32(rec) == nameOff {
			return pos, true
		}
		pos += 12 + extra
	}
	return 0, false
}

// WeakExterns lists the undefined symbols of object that are weak
// (declared __weak): externs the loader may leave at zero.
func WeakExterns(object []byte) (map[string]bool, error) {
	f, err := elf.NewFile(bytes.NewReader(object))
	if err != nil {
		return nil, fmt.Errorf("read BPF object: %w", err)
	}
	syms, err := f.Symbols()
	if err != nil {
		return nil, fmt.Errorf("read BPF object's symbols: %w", err)
	}
	weak := map[string]bool{}
	for _, s := range syms {
		if s.Section == elf.SHN_UNDEF && elf.ST_BIND(s.Info) == elf.STB_WEAK {
			weak[s.Name] = true
		}
	}
	return weak, nil
}
