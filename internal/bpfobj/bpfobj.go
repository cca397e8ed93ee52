// Package bpfobj reads BPF ELF objects for both ecc and ecli: LoadSpec is
// ebpf.LoadCollectionSpecFromReader after the few fixes that objects built
// with libbpf's headers need before cilium/ebpf accepts them.
//
// The fix today is for weak map definitions. libbpf's <bpf/usdt.bpf.h>
// declares its maps __weak (so that several objects of a static link may
// each carry them); cilium/ebpf refuses relocations against weak map
// symbols. Inside one object a weak definition is the definition, so
// PromoteWeakMaps turns STB_WEAK symbols of map sections into STB_GLOBAL,
// in a copy of the bytes.
package bpfobj

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
)

// LoadSpec parses a BPF ELF object into a collection spec, after
// PromoteWeakMaps. The caller's bytes are never modified. Objects come
// from registries and URLs: a panic of the ELF reader on a malformed file
// becomes an error.
func LoadSpec(object []byte) (spec *ebpf.CollectionSpec, err error) {
	defer func() {
		if p := recover(); p != nil {
			spec, err = nil, fmt.Errorf("malformed BPF object: %v", p)
		}
	}()
	fixed, _ := PromoteWeakMaps(object)
	return ebpf.LoadCollectionSpecFromReader(bytes.NewReader(fixed))
}

// ELF constants used here (see elf(5)).
const (
	elfHeader64  = 64 // sizeof(Elf64_Ehdr)
	sectHeader64 = 64 // sizeof(Elf64_Shdr)
	symEntry64   = 24 // sizeof(Elf64_Sym)
	shtSymtab    = 2  // SHT_SYMTAB
	stbGlobal    = 1  // STB_GLOBAL
	stbWeak      = 2  // STB_WEAK
	shnLoReserve = 0xff00
	// maxSections and maxSymbols bound the work done on hostile input.
	maxSections = 1 << 16
	maxSymbols  = 1 << 22
)

// PromoteWeakMaps returns object with every STB_WEAK symbol defined in a
// map section (".maps", or a legacy "maps*" section) made STB_GLOBAL, and
// how many symbols it changed. When nothing changes, or the bytes are not
// a well-formed 64-bit ELF file, it returns object itself (the ELF reader
// then reports what is wrong); otherwise a modified copy. It never panics
// and reads each section header and symbol at most once.
func PromoteWeakMaps(object []byte) ([]byte, int) {
	e, ok := parseHeader(object)
	if !ok {
		return object, 0
	}
	// Which sections hold maps.
	shstr, ok := e.section(e.shstrndx)
	if !ok {
		return object, 0
	}
	isMap := make([]bool, e.shnum)
	found := false
	for i := 0; i < e.shnum; i++ {
		sh, ok := e.section(i)
		if !ok {
			return object, 0
		}
		name, ok := e.name(shstr, sh.name)
		if ok && (name == ".maps" || strings.HasPrefix(name, "maps")) {
			isMap[i], found = true, true
		}
	}
	if !found {
		return object, 0
	}
	var out []byte
	changed := 0
	for i := 0; i < e.shnum; i++ {
		sh, _ := e.section(i)
		if sh.typ != shtSymtab || sh.entsize != symEntry64 {
			continue
		}
		start, end, ok := span(sh.offset, sh.size, len(object))
		if !ok {
			return object, 0
		}
		n := (end - start) / symEntry64
		if n > maxSymbols {
			return object, 0
		}
		for j := 0; j < n; j++ {
			off := start + j*symEntry64
			info := object[off+4]
			shndx := int(e.order.Uint16(object[off+6:]))
			if info>>4 != stbWeak || shndx == 0 || shndx >= shnLoReserve || shndx >= e.shnum || !isMap[shndx] {
				continue
			}
			if out == nil {
				out = bytes.Clone(object)
			}
			out[off+4] = stbGlobal<<4 | info&0xf
			changed++
		}
	}
	if out == nil {
		return object, 0
	}
	return out, changed
}

type elfFile struct {
	b        []byte
	order    binary.ByteOrder
	shoff    int
	shnum    int
	shstrndx int
}

type sectHeader struct {
	name    uint32
	typ     uint32
	offset  uint64
	size    uint64
	entsize uint64
}

func parseHeader(b []byte) (*elfFile, bool) {
	if len(b) < elfHeader64 || string(b[:4]) != "\x7fELF" || b[4] != 2 /* ELFCLASS64 */ {
		return nil, false
	}
	e := &elfFile{b: b}
	switch b[5] {
	case 1:
		e.order = binary.LittleEndian
	case 2:
		e.order = binary.BigEndian
	default:
		return nil, false
	}
	shoff := e.order.Uint64(b[0x28:])
	shentsize := e.order.Uint16(b[0x3a:])
	shnum := int(e.order.Uint16(b[0x3c:]))
	shstrndx := int(e.order.Uint16(b[0x3e:]))
	if shentsize != sectHeader64 || shnum == 0 || shnum > maxSections || shstrndx >= shnum {
		return nil, false
	}
	if _, _, ok := span(shoff, uint64(shnum)*sectHeader64, len(b)); !ok {
		return nil, false
	}
	e.shoff, e.shnum, e.shstrndx = int(shoff), shnum, shstrndx
	return e, true
}

func (e *elfFile) section(i int) (sectHeader, bool) {
	if i < 0 || i >= e.shnum {
		return sectHeader{}, false
	}
	h := e.b[e.shoff+i*sectHeader64:]
	return sectHeader{
		name:    e.order.Uint32(h[0:]),
		typ:     e.order.Uint32(h[4:]),
		offset:  e.order.Uint64(h[0x18:]),
		size:    e.order.Uint64(h[0x20:]),
		entsize: e.order.Uint64(h[0x38:]),
	}, true
}

// name reads a NUL-terminated string at off in the string table strtab.
func (e *elfFile) name(strtab sectHeader, off uint32) (string, bool) {
	start, end, ok := span(strtab.offset, strtab.size, len(e.b))
	if !ok || uint64(off) >= uint64(end-start) {
		return "", false
	}
	s := e.b[start+int(off) : end]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		return string(s[:i]), true
	}
	return "", false
}

// span checks that [off, off+size) lies within a buffer of length n.
func span(off, size uint64, n int) (int, int, bool) {
	if off > uint64(n) || size > uint64(n)-off {
		return 0, 0, false
	}
	return int(off), int(off + size), true
}
