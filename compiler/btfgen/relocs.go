package btfgen

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// CO-RE relocation kinds, as .BTF.ext numbers them (enum bpf_core_relo_kind).
const (
	kindFieldByteOffset = iota
	kindFieldByteSize
	kindFieldExists
	kindFieldSigned
	kindFieldLShift
	kindFieldRShift
	kindTypeIDLocal
	kindTypeIDTarget
	kindTypeExists
	kindTypeSize
	kindEnumvalExists
	kindEnumvalValue
	kindTypeMatches
)

// relocation is one CO-RE relocation of an object: the local type it is
// about, the access path into it and its kind.
type relocation struct {
	local  btf.Type
	access []int
	kind   uint32
}

// errExt is wrapped by every error about a malformed .BTF or .BTF.ext.
var errExt = errors.New("malformed .BTF.ext")

// readRelocations lists the object's CO-RE relocations from its .BTF.ext
// (cilium/ebpf reads them too, but keeps their kind and access path to
// itself), each once, with the local type from the object's BTF.
func readRelocations(object []byte) ([]relocation, error) {
	f, err := elf.NewFile(bytes.NewReader(object))
	if err != nil {
		return nil, err
	}
	extSec, btfSec := f.Section(".BTF.ext"), f.Section(".BTF")
	if extSec == nil {
		return nil, nil
	}
	if btfSec == nil {
		return nil, fmt.Errorf("%w: a .BTF.ext without .BTF", errExt)
	}
	ext, err := extSec.Data()
	if err != nil {
		return nil, err
	}
	raw, err := btfSec.Data()
	if err != nil {
		return nil, err
	}
	bo := f.ByteOrder
	strs, err := btfStrings(raw, bo)
	if err != nil {
		return nil, err
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(object))
	if err != nil {
		return nil, err
	}
	// struct btf_ext_header: magic, version, flags, hdr_len, then offsets
	// and lengths (from the end of the header) of func_info, line_info and
	// core_relo; the last pair is there when hdr_len >= 32.
	if len(ext) < 8 || bo.Uint16(ext) != 0xeB9F {
		return nil, fmt.Errorf("%w: bad header", errExt)
	}
	hdrLen := uint64(bo.Uint32(ext[4:]))
	if hdrLen < 32 || hdrLen > uint64(len(ext)) {
		return nil, nil
	}
	off, n := hdrLen+uint64(bo.Uint32(ext[24:])), uint64(bo.Uint32(ext[28:]))
	if n == 0 {
		return nil, nil
	}
	if off+n > uint64(len(ext)) || n < 4 {
		return nil, fmt.Errorf("%w: core_relo out of bounds", errExt)
	}
	sub := ext[off : off+n]
	recSize := uint64(bo.Uint32(sub))
	if recSize < 16 {
		return nil, fmt.Errorf("%w: record size %d", errExt, recSize)
	}
	sub = sub[4:]
	type key struct {
		id     btf.TypeID
		access string
		kind   uint32
	}
	seen := map[key]bool{}
	var out []relocation
	for len(sub) > 0 {
		if len(sub) < 8 {
			return nil, fmt.Errorf("%w: truncated section", errExt)
		}
		num := uint64(bo.Uint32(sub[4:]))
		sub = sub[8:]
		if num*recSize > uint64(len(sub)) {
			return nil, fmt.Errorf("%w: %d records past the end", errExt, num)
		}
		for i := uint64(0); i < num; i++ {
			rec := sub[i*recSize:]
			k := key{btf.TypeID(bo.Uint32(rec[4:])), cString(strs, bo.Uint32(rec[8:])), bo.Uint32(rec[12:])}
			if seen[k] {
				continue
			}
			seen[k] = true
			local, err := spec.TypeByID(k.id)
			if err != nil {
				return nil, fmt.Errorf("%w: relocation type %d: %v", errExt, k.id, err)
			}
			acc, err := parseAccess(k.access)
			if err != nil {
				return nil, err
			}
			out = append(out, relocation{local: local, access: acc, kind: k.kind})
		}
		sub = sub[num*recSize:]
	}
	return out, nil
}

// btfStrings returns the string section of raw BTF.
func btfStrings(raw []byte, bo binary.ByteOrder) ([]byte, error) {
	if len(raw) < 24 || bo.Uint16(raw) != 0xeB9F {
		return nil, fmt.Errorf("%w: .BTF has no BTF header", errExt)
	}
	hdr := uint64(bo.Uint32(raw[4:]))
	off, n := hdr+uint64(bo.Uint32(raw[16:])), uint64(bo.Uint32(raw[20:]))
	if off+n > uint64(len(raw)) {
		return nil, fmt.Errorf("%w: .BTF strings out of bounds", errExt)
	}
	return raw[off : off+n], nil
}

func cString(strs []byte, off uint32) string {
	if uint64(off) >= uint64(len(strs)) {
		return ""
	}
	s := strs[off:]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return string(s)
}

// parseAccess reads an access string, "0:1:2".
func parseAccess(s string) ([]int, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty access string", errExt)
	}
	parts := strings.Split(s, ":")
	out := make([]int, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 31)
		if err != nil {
			return nil, fmt.Errorf("%w: access string %q", errExt, s)
		}
		out[i] = int(v)
	}
	return out, nil
}
