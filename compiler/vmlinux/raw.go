package vmlinux

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// BTF wire format kinds (include/uapi/linux/btf.h).
const (
	btfKindInt       = 1
	btfKindPtr       = 2
	btfKindArray     = 3
	btfKindStruct    = 4
	btfKindUnion     = 5
	btfKindEnum      = 6
	btfKindFwd       = 7
	btfKindTypedef   = 8
	btfKindVolatile  = 9
	btfKindConst     = 10
	btfKindRestrict  = 11
	btfKindFunc      = 12
	btfKindFuncProto = 13
	btfKindVar       = 14
	btfKindDatasec   = 15
	btfKindFloat     = 16
	btfKindDeclTag   = 17
	btfKindTypeTag   = 18
	btfKindEnum64    = 19

	btfMagic     = 0xeB9F
	btfHeaderLen = 24
	btfTypeLen   = 12
)

var errRawBTF = errors.New("invalid BTF")

// readBTF returns the raw BTF in rd: the whole of it, or the .BTF section
// of an ELF file.
func readBTF(rd io.ReaderAt) ([]byte, error) {
	if f, err := elf.NewFile(rd); err == nil {
		sec := f.Section(".BTF")
		if sec == nil {
			return nil, fmt.Errorf("ELF file has no .BTF section")
		}
		return sec.Data()
	}

	// Read in one go when the size is known (files, including sysfs
	// ones, bytes.Reader, io.SectionReader).
	size := int64(-1)
	switch r := rd.(type) {
	case interface{ Size() int64 }:
		size = r.Size()
	case interface{ Stat() (os.FileInfo, error) }:
		if fi, err := r.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
	}
	if size > 0 {
		buf := make([]byte, size)
		n, err := rd.ReadAt(buf, 0)
		if n == len(buf) {
			var probe [1]byte
			if m, _ := rd.ReadAt(probe[:], size); m == 0 {
				return buf, nil
			}
		} else if err != nil && err != io.EOF {
			return nil, err
		}
	}
	return io.ReadAll(io.NewSectionReader(rd, 0, math.MaxInt64))
}

// extraLen returns the size of the data following the common header of a
// type of kind k, and false for unknown kinds.
func extraLen(k uint32, vlen int) (int, bool) {
	switch k {
	case btfKindInt, btfKindVar, btfKindDeclTag:
		return 4, true
	case btfKindArray:
		return 12, true
	case btfKindStruct, btfKindUnion, btfKindDatasec, btfKindEnum64:
		return 12 * vlen, true
	case btfKindEnum, btfKindFuncProto:
		return 8 * vlen, true
	case btfKindPtr, btfKindFwd, btfKindTypedef, btfKindVolatile, btfKindConst,
		btfKindRestrict, btfKindFunc, btfKindFloat, btfKindTypeTag:
		return 0, true
	}
	return 0, false
}

// countTypes sizes the tables for raw: types, members and parameters, and
// enumerators. Errors are left to the decoding pass, which reports them
// precisely; counting stops at the first problem.
func countTypes(raw []byte, bo binary.ByteOrder) (types, fields, enums int, _ error) {
	for pos := 0; len(raw)-pos >= btfTypeLen; {
		info := bo.Uint32(raw[pos+4:])
		vlen := int(info & 0xffff)
		k := (info >> 24) & 0x1f
		extra, ok := extraLen(k, vlen)
		if !ok {
			break
		}
		pos += btfTypeLen + extra
		types++
		switch k {
		case btfKindStruct, btfKindUnion, btfKindFuncProto:
			fields += vlen
		case btfKindEnum, btfKindEnum64:
			enums += vlen
		}
	}
	return types, fields, enums, nil
}

// loadRaw fills the type table from raw BTF, type ID i becoming node i.
// It produces the same table as load does from a btf.Spec of the same
// data, minus what cilium/ebpf drops (declaration tags become skipped
// nodes here).
func (d *dumper) loadRaw(data []byte) error {
	if len(data) < btfHeaderLen {
		return fmt.Errorf("%w: %d bytes is too short", errRawBTF, len(data))
	}
	var bo binary.ByteOrder = binary.LittleEndian
	switch {
	case binary.LittleEndian.Uint16(data) == btfMagic:
	case binary.BigEndian.Uint16(data) == btfMagic:
		bo = binary.BigEndian
	default:
		return fmt.Errorf("%w: bad magic %#x", errRawBTF, data[:2])
	}
	hdrLen := uint64(bo.Uint32(data[4:]))
	typeOff, typeLen := uint64(bo.Uint32(data[8:])), uint64(bo.Uint32(data[12:]))
	strOff, strLen := uint64(bo.Uint32(data[16:])), uint64(bo.Uint32(data[20:]))
	size := uint64(len(data))
	if hdrLen < btfHeaderLen || hdrLen > size ||
		hdrLen+typeOff+typeLen > size || hdrLen+strOff+strLen > size {
		return fmt.Errorf("%w: sections out of bounds", errRawBTF)
	}
	raw := data[hdrLen+typeOff : hdrLen+typeOff+typeLen]
	// One copy of the string table; names are substrings of it.
	strs := string(data[hdrLen+strOff : hdrLen+strOff+strLen])
	name := func(off uint32) (string, error) {
		if uint64(off) >= uint64(len(strs)) {
			if off == 0 {
				return "", nil
			}
			return "", fmt.Errorf("%w: string offset %d out of bounds", errRawBTF, off)
		}
		s := strs[off:]
		end := strings.IndexByte(s, 0)
		if end < 0 {
			return "", fmt.Errorf("%w: unterminated string at %d", errRawBTF, off)
		}
		return s[:end], nil
	}

	ntypes, nfields, nenums, err := countTypes(raw, bo)
	if err != nil {
		return err
	}
	d.nodes = make([]node, 1, ntypes+1)
	d.nodes[0] = node{kind: kindVoid, order: stateDone, emit: stateDone}
	d.fields = make([]field, 0, nfields)
	d.enums = make([]enumValue, 0, nenums)

	// Declaration tags of whole functions that the kfunc block uses, applied
	// once every type is known (a tag may come before its function).
	type funcTag struct {
		target int32
		tag    declTags
	}
	var funcTags []funcTag

	type legacyInt struct{ off, bits uint32 }
	var legacy map[int32]legacyInt // ints describing old-style bitfields
	var legacyUsers []int32        // composites without kind_flag

	for pos := 0; pos < len(raw); {
		if len(raw)-pos < btfTypeLen {
			return fmt.Errorf("%w: truncated type", errRawBTF)
		}
		id := len(d.nodes)
		nameOff := bo.Uint32(raw[pos:])
		info := bo.Uint32(raw[pos+4:])
		sizeType := bo.Uint32(raw[pos+8:])
		pos += btfTypeLen
		vlen := int(info & 0xffff)
		kflag := info>>31 != 0
		k := (info >> 24) & 0x1f

		extra, ok := extraLen(k, vlen)
		if !ok {
			return fmt.Errorf("%w: type %d has unknown kind %d", errRawBTF, id, k)
		}
		if len(raw)-pos < extra {
			return fmt.Errorf("%w: truncated type %d", errRawBTF, id)
		}
		body := raw[pos : pos+extra]
		pos += extra

		tname, err := name(nameOff)
		if err != nil {
			return err
		}
		// For kinds that refer to another type, sizeType is its ID.
		ref := int32(sizeType)
		if sizeType > math.MaxInt32 {
			ref = math.MaxInt32 // rejected below if used
		}

		var n node
		switch k {
		case btfKindInt:
			n = node{kind: kindInt, name: tname, size: sizeType}
			data := bo.Uint32(body)
			off, bits := (data>>16)&0xff, data&0xff
			if off > 0 || bits/8 != sizeType {
				if legacy == nil {
					legacy = make(map[int32]legacyInt)
				}
				legacy[int32(id)] = legacyInt{off, bits}
			}
		case btfKindFloat:
			n = node{kind: kindFloat, name: tname, size: sizeType}
		case btfKindPtr:
			n = node{kind: kindPtr, ref: ref}
		case btfKindArray:
			elem := bo.Uint32(body)
			if elem > math.MaxInt32 {
				return fmt.Errorf("%w: array %d of type %d", errRawBTF, id, elem)
			}
			n = node{kind: kindArray, ref: int32(elem), nelems: bo.Uint32(body[8:])}
		case btfKindStruct, btfKindUnion:
			n = node{kind: kindStruct, name: tname, size: sizeType}
			if k == btfKindUnion {
				n.kind = kindUnion
			}
			n.first, n.vlen = int32(len(d.fields)), int32(vlen)
			for i := 0; i < vlen; i++ {
				m := body[12*i:]
				mname, err := name(bo.Uint32(m))
				if err != nil {
					return err
				}
				mtype, off := bo.Uint32(m[4:]), bo.Uint32(m[8:])
				if mtype > math.MaxInt32 {
					return fmt.Errorf("%w: member of %d has type %d", errRawBTF, id, mtype)
				}
				f := field{name: mname, typ: int32(mtype), off: off}
				if kflag {
					f.bits, f.off = off>>24, off&0xffffff
				}
				d.fields = append(d.fields, f)
			}
			if !kflag && vlen > 0 {
				legacyUsers = append(legacyUsers, int32(id))
			}
		case btfKindEnum, btfKindEnum64:
			n = node{kind: kindEnum, name: tname, size: sizeType, signed: kflag}
			n.first, n.vlen = int32(len(d.enums)), int32(vlen)
			for i := 0; i < vlen; i++ {
				var v enumValue
				if k == btfKindEnum {
					e := body[8*i:]
					v.value = uint64(bo.Uint32(e[4:]))
					if kflag {
						v.value = uint64(int64(int32(v.value)))
					}
					v.name, err = name(bo.Uint32(e))
				} else {
					e := body[12*i:]
					v.value = uint64(bo.Uint32(e[8:]))<<32 | uint64(bo.Uint32(e[4:]))
					v.name, err = name(bo.Uint32(e))
				}
				if err != nil {
					return err
				}
				d.enums = append(d.enums, v)
			}
		case btfKindFwd:
			n = node{kind: kindFwd, name: tname, union: kflag}
		case btfKindTypedef:
			n = node{kind: kindTypedef, name: tname, ref: ref}
		case btfKindVolatile:
			n = node{kind: kindVolatile, ref: ref}
		case btfKindConst:
			n = node{kind: kindConst, ref: ref}
		case btfKindRestrict:
			n = node{kind: kindRestrict, ref: ref}
		case btfKindTypeTag:
			n = node{kind: kindTypeTag, name: tname, ref: ref}
		case btfKindFuncProto:
			n = node{kind: kindFuncProto, ref: ref}
			n.first, n.vlen = int32(len(d.fields)), int32(vlen)
			for i := 0; i < vlen; i++ {
				p := body[8*i:]
				pname, err := name(bo.Uint32(p))
				if err != nil {
					return err
				}
				ptype := bo.Uint32(p[4:])
				if ptype > math.MaxInt32 {
					return fmt.Errorf("%w: parameter of %d has type %d", errRawBTF, id, ptype)
				}
				d.fields = append(d.fields, field{name: pname, typ: int32(ptype)})
			}
		case btfKindVar:
			n = node{kind: kindSkip, name: tname, ref: ref}
		case btfKindFunc:
			n = node{kind: kindSkip, name: tname, fn: true, ref: ref}
		case btfKindDeclTag:
			// component_idx -1: the tag applies to the whole declaration.
			if tag := declTagOf(tname); tag != 0 && int32(bo.Uint32(body)) == -1 {
				funcTags = append(funcTags, funcTag{ref, tag})
			}
			n = node{kind: kindSkip, name: tname}
		default: // data sections
			n = node{kind: kindSkip, name: tname}
		}
		d.nodes = append(d.nodes, n)
	}

	// Every reference must name a type of this blob.
	count := int32(len(d.nodes))
	for i := range d.nodes {
		if r := d.nodes[i].ref; r >= count {
			return fmt.Errorf("%w: type %d refers to missing type %d (split BTF needs Write with btf.LoadSplitSpec)", errRawBTF, i, r)
		}
	}
	for i := range d.fields {
		if r := d.fields[i].typ; r >= count {
			return fmt.Errorf("%w: member or parameter refers to missing type %d", errRawBTF, r)
		}
	}
	for _, ft := range funcTags {
		if ft.target >= count {
			return fmt.Errorf("%w: declaration tag refers to missing type %d", errRawBTF, ft.target)
		}
		if t := &d.nodes[ft.target]; t.fn {
			t.tags |= ft.tag
		}
	}

	// Before kind_flag existed, a bitfield was a member whose type was an
	// int with a bit offset and width of its own.
	for _, id := range legacyUsers {
		if legacy == nil {
			break
		}
		n := &d.nodes[id]
		for i := n.first; i < n.first+n.vlen; i++ {
			if l, ok := legacy[d.fields[i].typ]; ok {
				d.fields[i].off += l.off
				d.fields[i].bits = l.bits
			}
		}
	}

	d.markReferenced()
	return nil
}
