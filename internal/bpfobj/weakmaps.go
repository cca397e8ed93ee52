package bpfobj

import (
	"bytes"
	"encoding/binary"
	"strings"
)

// ELF constants used here (see elf(5)).
const (
	elfHeader64  = 64 // sizeof(Elf64_Ehdr)
	sectHeader64 = 64 // sizeof(Elf64_Shdr)
	symEntry64   = 24 // sizeof(Elf64_Sym)
	shtSymtab    = 2  // SHT_SYMTAB
	stbLocal     = 0  // STB_LOCAL
	stbGlobal    = 1  // STB_GLOBAL
	stbWeak      = 2  // STB_WEAK
	sttFunc      = 2  // STT_FUNC
	stvInternal  = 1  // STV_INTERNAL
	stvHidden    = 2  // STV_HIDDEN
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
	ok = e.symbols(func(off int, sym symbol) {
		if sym.bind() != stbWeak || sym.shndx == 0 || sym.shndx >= shnLoReserve || sym.shndx >= e.shnum || !isMap[sym.shndx] {
			return
		}
		if out == nil {
			out = bytes.Clone(object)
		}
		out[off+4] = stbGlobal<<4 | sym.info&0xf
		changed++
	})
	if !ok || out == nil {
		return object, 0
	}
	return out, changed
}

// HiddenFuncs returns the names of the global (or weak) functions of a BPF
// object with hidden or internal visibility (__hidden), which libbpf
// treats as static. Malformed objects give none.
func HiddenFuncs(object []byte) map[string]bool {
	e, ok := parseHeader(object)
	if !ok {
		return nil
	}
	var out map[string]bool
	e.symbols(func(_ int, sym symbol) {
		vis := sym.other & 3
		if sym.info&0xf != sttFunc || sym.bind() == stbLocal || (vis != stvHidden && vis != stvInternal) {
			return
		}
		if name, ok := e.name(sym.strtab, sym.name); ok && name != "" {
			if out == nil {
				out = map[string]bool{}
			}
			out[name] = true
		}
	})
	return out
}

// symbol is an Elf64_Sym.
type symbol struct {
	name   uint32
	info   byte
	other  byte
	shndx  int
	strtab sectHeader // the string table of its symbol table
}

func (s symbol) bind() byte { return s.info >> 4 }

// symbols calls fn with the offset and contents of every entry of every
// SHT_SYMTAB section; false when a symbol table lies outside the file.
func (e *elfFile) symbols(fn func(off int, sym symbol)) bool {
	for i := 0; i < e.shnum; i++ {
		sh, _ := e.section(i)
		if sh.typ != shtSymtab || sh.entsize != symEntry64 {
			continue
		}
		start, end, ok := span(sh.offset, sh.size, len(e.b))
		if !ok {
			return false
		}
		n := (end - start) / symEntry64
		if n > maxSymbols {
			return false
		}
		strtab, _ := e.section(int(sh.link))
		for j := 0; j < n; j++ {
			off := start + j*symEntry64
			fn(off, symbol{
				name:   e.order.Uint32(e.b[off:]),
				info:   e.b[off+4],
				other:  e.b[off+5],
				shndx:  int(e.order.Uint16(e.b[off+6:])),
				strtab: strtab,
			})
		}
	}
	return true
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
	link    uint32
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
		link:    e.order.Uint32(h[0x28:]),
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
