// Package elfstrip removes DWARF from BPF ELF objects in-process, as
// `llvm-strip --strip-debug` does, keeping .BTF and .BTF.ext. Clang needs -g
// to emit BTF, and the DWARF it emits alongside is 90% of an object's size;
// stripping here saves a process per build.
//
// Removed: .debug_* sections, the relocation sections that apply to them,
// the symbols defined in them (section symbols), and .llvm_addrsig (whose
// symbol indices would go stale; only linkers use it). Symbol indices in the
// remaining relocation sections, section indices in symbols and section
// headers, and the section header string table index are renumbered.
package elfstrip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// ErrFormat wraps errors about objects this package cannot rewrite.
var ErrFormat = errors.New("elfstrip: unsupported object")

const (
	ehdrSize     = 64
	shdrSize     = 64
	symSize      = 24
	relSize      = 16
	relaSize     = 24
	shtSymtab    = 2
	shtRela      = 4
	shtNobits    = 8
	shtRel       = 9
	shtAddrsig   = 0x6fff4c03
	shnLoReserve = 0xff00
)

type section struct {
	name      string
	typ       uint32
	flags     uint64
	addr      uint64
	offset    uint64
	size      uint64
	link      uint32
	info      uint32
	addralign uint64
	entsize   uint64
	data      []byte
	newIndex  int
	keep      bool
}

// StripDebug returns obj without DWARF. Objects without DWARF come back as is.
func StripDebug(obj []byte) ([]byte, error) {
	if len(obj) < ehdrSize || string(obj[:4]) != "\x7fELF" {
		return nil, fmt.Errorf("%w: not an ELF file", ErrFormat)
	}
	if obj[4] != 2 {
		return nil, fmt.Errorf("%w: not a 64-bit ELF", ErrFormat)
	}
	var bo binary.ByteOrder
	switch obj[5] {
	case 1:
		bo = binary.LittleEndian
	case 2:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("%w: unknown byte order", ErrFormat)
	}
	shoff := bo.Uint64(obj[0x28:])
	shentsize := int(bo.Uint16(obj[0x3a:]))
	shnum := int(bo.Uint16(obj[0x3c:]))
	shstrndx := int(bo.Uint16(obj[0x3e:]))
	if shentsize != shdrSize || shnum == 0 || shstrndx >= shnum {
		return nil, fmt.Errorf("%w: bad section header table", ErrFormat)
	}
	if shoff > uint64(len(obj)) || uint64(shnum)*shdrSize > uint64(len(obj))-shoff {
		return nil, fmt.Errorf("%w: section headers past the end of the file", ErrFormat)
	}
	secs := make([]*section, shnum)
	for i := range secs {
		h := obj[shoff+uint64(i)*shdrSize:]
		s := &section{
			typ:       bo.Uint32(h[4:]),
			flags:     bo.Uint64(h[8:]),
			addr:      bo.Uint64(h[16:]),
			offset:    bo.Uint64(h[24:]),
			size:      bo.Uint64(h[32:]),
			link:      bo.Uint32(h[40:]),
			info:      bo.Uint32(h[44:]),
			addralign: bo.Uint64(h[48:]),
			entsize:   bo.Uint64(h[56:]),
			keep:      true,
		}
		if s.typ != shtNobits && i != 0 {
			if s.offset > uint64(len(obj)) || s.size > uint64(len(obj))-s.offset {
				return nil, fmt.Errorf("%w: section %d past the end of the file", ErrFormat, i)
			}
			s.data = obj[s.offset : s.offset+s.size]
		}
		secs[i] = s
	}
	strtab := secs[shstrndx].data
	for i := range secs {
		off := bo.Uint32(obj[shoff+uint64(i)*shdrSize:])
		if int(off) >= len(strtab) {
			return nil, fmt.Errorf("%w: section name out of range", ErrFormat)
		}
		end := int(off)
		for end < len(strtab) && strtab[end] != 0 {
			end++
		}
		secs[i].name = string(strtab[off:end])
	}

	// Choose what goes.
	removed := false
	for i, s := range secs {
		if i == 0 {
			continue
		}
		if strings.HasPrefix(s.name, ".debug_") || s.typ == shtAddrsig {
			s.keep = false
			removed = true
		}
	}
	if !removed {
		return obj, nil
	}
	for _, s := range secs {
		if (s.typ == shtRel || s.typ == shtRela) && int(s.info) < len(secs) && !secs[s.info].keep {
			s.keep = false
		}
	}
	if !secs[shstrndx].keep {
		return nil, fmt.Errorf("%w: section name table would be removed", ErrFormat)
	}
	n := 0
	for _, s := range secs {
		if s.keep {
			s.newIndex = n
			n++
		} else {
			s.newIndex = -1
		}
	}

	// Rewrite the symbol table: drop symbols of removed sections.
	var symMap []int // old symbol index → new, -1 when dropped
	symtabIdx := -1
	for i, s := range secs {
		if s.typ != shtSymtab {
			continue
		}
		if symtabIdx >= 0 {
			return nil, fmt.Errorf("%w: several symbol tables", ErrFormat)
		}
		symtabIdx = i
		if len(s.data)%symSize != 0 {
			return nil, fmt.Errorf("%w: symbol table size", ErrFormat)
		}
		count := len(s.data) / symSize
		symMap = make([]int, count)
		out := make([]byte, 0, len(s.data))
		locals := 0
		for j := 0; j < count; j++ {
			e := s.data[j*symSize : (j+1)*symSize]
			shndx := int(bo.Uint16(e[6:]))
			if shndx == 0xffff { // SHN_XINDEX
				return nil, fmt.Errorf("%w: extended section indices", ErrFormat)
			}
			if j > 0 && shndx != 0 && shndx < shnLoReserve {
				if shndx >= len(secs) {
					return nil, fmt.Errorf("%w: symbol %d in section %d", ErrFormat, j, shndx)
				}
				if !secs[shndx].keep {
					symMap[j] = -1
					continue
				}
			}
			symMap[j] = len(out) / symSize
			ne := append([]byte(nil), e...)
			if j > 0 && shndx != 0 && shndx < shnLoReserve {
				bo.PutUint16(ne[6:], uint16(secs[shndx].newIndex))
			}
			if j < int(s.info) {
				locals++
			}
			out = append(out, ne...)
		}
		s.data = out
		s.size = uint64(len(out))
		s.info = uint32(locals)
	}

	// Renumber symbols in the remaining relocations.
	for _, s := range secs {
		if !s.keep || (s.typ != shtRel && s.typ != shtRela) {
			continue
		}
		if int(s.link) != symtabIdx {
			return nil, fmt.Errorf("%w: relocations against another symbol table", ErrFormat)
		}
		esz := relSize
		if s.typ == shtRela {
			esz = relaSize
		}
		if len(s.data)%esz != 0 {
			return nil, fmt.Errorf("%w: relocation section %s size", ErrFormat, s.name)
		}
		out := append([]byte(nil), s.data...)
		for off := 0; off < len(out); off += esz {
			info := bo.Uint64(out[off+8:])
			sym := int(info >> 32)
			if sym >= len(symMap) || symMap[sym] < 0 {
				return nil, fmt.Errorf("%w: %s relocates against a removed symbol", ErrFormat, s.name)
			}
			bo.PutUint64(out[off+8:], uint64(symMap[sym])<<32|info&0xffffffff)
		}
		s.data = out
	}

	// Lay the file out again: header, section data, section headers.
	buf := make([]byte, ehdrSize, len(obj)/4)
	copy(buf, obj[:ehdrSize])
	for i, s := range secs {
		if !s.keep || i == 0 {
			continue
		}
		if s.typ == shtNobits {
			s.offset = uint64(len(buf))
			continue
		}
		if a := s.addralign; a > 1 {
			for uint64(len(buf))%a != 0 {
				buf = append(buf, 0)
			}
		}
		s.offset = uint64(len(buf))
		buf = append(buf, s.data...)
	}
	for len(buf)%8 != 0 {
		buf = append(buf, 0)
	}
	newShoff := uint64(len(buf))
	for i, s := range secs {
		if !s.keep {
			continue
		}
		h := make([]byte, shdrSize)
		copy(h, obj[shoff+uint64(i)*shdrSize:shoff+uint64(i+1)*shdrSize])
		if i != 0 {
			bo.PutUint64(h[24:], s.offset)
			bo.PutUint64(h[32:], s.size)
			link, info := s.link, s.info
			if link != 0 && int(link) < len(secs) {
				link = uint32(secs[link].newIndex)
			}
			if (s.typ == shtRel || s.typ == shtRela) && int(info) < len(secs) {
				info = uint32(secs[info].newIndex)
			}
			bo.PutUint32(h[40:], link)
			bo.PutUint32(h[44:], info)
		}
		buf = append(buf, h...)
	}
	bo.PutUint64(buf[0x28:], newShoff)
	bo.PutUint16(buf[0x3c:], uint16(n))
	bo.PutUint16(buf[0x3e:], uint16(secs[shstrndx].newIndex))
	return buf, nil
}
