package usdt

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Note is one probe site as recorded in .note.stapsdt.
type Note struct {
	Provider, Name string
	// Args is the argument string, e.g. "-4@%eax 8@%rdx".
	Args string
	// PC is the address of the probe's nop, adjusted for prelinking.
	PC uint64
	// Base is the address of .stapsdt.base the note was written for.
	Base uint64
	// Semaphore is the address of the probe's semaphore (adjusted like
	// PC), 0 when it has none.
	Semaphore uint64
}

// Site is one place where a probe fires, ready to attach.
type Site struct {
	Note
	// Offset is the file offset of the probe: the uprobe offset.
	Offset uint64
	// SemOffset is the file offset of the semaphore (the uprobe
	// ref_ctr_offset), 0 when the probe has none.
	SemOffset uint64
	// Args are the parsed arguments.
	Args []Arg
}

// File is what Open read from a binary.
type File struct {
	Path string
	// GOARCH is the binary's architecture as a GOARCH name (amd64, arm64),
	// or its ELF machine name when USDT arguments cannot be parsed for it.
	GOARCH string
	// Type is ET_EXEC (addresses are absolute) or ET_DYN (a PIE executable
	// or a shared library, loaded anywhere).
	Type  elf.Type
	Notes []Note

	segs []segment
	syms map[string]uint64 // only when some argument is %rip-relative
}

type segment struct {
	vaddr, memsz, off uint64
	exec              bool
}

// Limits on hostile input.
const (
	maxNoteSection = 64 << 20
	maxString      = 4096
)

const stapsdtNoteType = 3

// Open reads the USDT notes of an executable or shared library. Errors
// about its contents do not repeat the path.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	f, err := NewFile(fh)
	if err != nil {
		return nil, err // callers name the file
	}
	f.Path = path
	return f, nil
}

// NewFile reads the USDT notes of an ELF file.
func NewFile(r io.ReaderAt) (f *File, err error) {
	// debug/elf is hardened against malformed files, but a binary is
	// hostile input: turn any panic from it into an error.
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("malformed ELF file: %v", p)
		}
	}()
	return newFile(r)
}

func newFile(r io.ReaderAt) (*File, error) {
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("not an ELF executable or library: %w", err)
	}
	defer ef.Close()
	if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
		return nil, fmt.Errorf("ELF type %s: want an executable or a shared library", ef.Type)
	}
	f := &File{Type: ef.Type, GOARCH: goarch(ef)}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD {
			f.segs = append(f.segs, segment{vaddr: p.Vaddr, memsz: p.Memsz, off: p.Off, exec: p.Flags&elf.PF_X != 0})
		}
	}
	sec := ef.Section(".note.stapsdt")
	if sec == nil {
		return f, nil
	}
	if sec.Type != elf.SHT_NOTE || sec.Size > maxNoteSection {
		return nil, fmt.Errorf(".note.stapsdt: not a note section of at most %d bytes", maxNoteSection)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf(".note.stapsdt: %w", err)
	}
	addrSize := 8
	if ef.Class == elf.ELFCLASS32 {
		addrSize = 4
	}
	notes, err := parseNotes(data, ef.ByteOrder, addrSize)
	if err != nil {
		return nil, fmt.Errorf(".note.stapsdt: %w", err)
	}
	// A prelinked binary moved, but its notes did not: shift them by how
	// far .stapsdt.base moved.
	if base := ef.Section(".stapsdt.base"); base != nil {
		for i := range notes {
			n := &notes[i]
			if n.Base == 0 {
				continue
			}
			delta := base.Addr - n.Base
			n.PC += delta
			if n.Semaphore != 0 {
				n.Semaphore += delta
			}
		}
	}
	f.Notes = notes
	for _, n := range notes {
		if strings.Contains(n.Args, "%rip)") || strings.Contains(n.Args, "%eip)") {
			f.syms = symbols(ef)
			break
		}
	}
	return f, nil
}

func goarch(ef *elf.File) string {
	switch {
	case ef.Machine == elf.EM_X86_64 && ef.Class == elf.ELFCLASS64:
		return "amd64"
	case ef.Machine == elf.EM_AARCH64 && ef.Class == elf.ELFCLASS64:
		return "arm64"
	}
	return strings.TrimPrefix(ef.Machine.String(), "EM_")
}

// symbols maps defined symbol names to addresses, from .symtab and .dynsym.
func symbols(ef *elf.File) map[string]uint64 {
	m := map[string]uint64{}
	syms, _ := ef.Symbols()
	dyn, _ := ef.DynamicSymbols()
	for _, s := range append(syms, dyn...) {
		if s.Name != "" && s.Section != elf.SHN_UNDEF && s.Value != 0 {
			if _, dup := m[s.Name]; !dup {
				m[s.Name] = s.Value
			}
		}
	}
	return m
}

// parseNotes decodes the stapsdt notes of a .note.stapsdt section; other
// notes are skipped.
func parseNotes(data []byte, bo binary.ByteOrder, addrSize int) ([]Note, error) {
	var notes []Note
	for off := 0; off < len(data); {
		if len(data)-off < 12 {
			return nil, fmt.Errorf("truncated note header at offset %d", off)
		}
		namesz := uint64(bo.Uint32(data[off:]))
		descsz := uint64(bo.Uint32(data[off+4:]))
		typ := bo.Uint32(data[off+8:])
		nameStart := uint64(off) + 12
		descStart := nameStart + align4(namesz)
		end := descStart + align4(descsz)
		if descStart+descsz > uint64(len(data)) || end < descStart {
			return nil, fmt.Errorf("note at offset %d overruns the section", off)
		}
		name := data[nameStart : nameStart+namesz]
		desc := data[descStart : descStart+descsz]
		if end > uint64(len(data)) {
			end = uint64(len(data))
		}
		if typ == stapsdtNoteType && string(bytes.TrimRight(name, "\x00")) == "stapsdt" {
			n, err := parseDesc(desc, bo, addrSize)
			if err != nil {
				return nil, fmt.Errorf("note at offset %d: %w", off, err)
			}
			notes = append(notes, n)
		}
		off = int(end)
	}
	return notes, nil
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

// parseDesc decodes a stapsdt note's descriptor: the probe, base and
// semaphore addresses, then provider, name and arguments, each ending
// with a NUL.
func parseDesc(desc []byte, bo binary.ByteOrder, addrSize int) (Note, error) {
	if len(desc) < 3*addrSize {
		return Note{}, errors.New("descriptor too short for its three addresses")
	}
	addr := func(i int) uint64 {
		if addrSize == 4 {
			return uint64(bo.Uint32(desc[i*4:]))
		}
		return bo.Uint64(desc[i*8:])
	}
	n := Note{PC: addr(0), Base: addr(1), Semaphore: addr(2)}
	rest := desc[3*addrSize:]
	var strs [3]string
	for i := range strs {
		j := bytes.IndexByte(rest, 0)
		if j < 0 {
			return Note{}, errors.New("unterminated provider, name or argument string")
		}
		if j > maxString {
			return Note{}, fmt.Errorf("string of %d bytes (at most %d)", j, maxString)
		}
		strs[i], rest = string(rest[:j]), rest[j+1:]
	}
	n.Provider, n.Name, n.Args = strs[0], strs[1], strs[2]
	if n.Provider == "" || n.Name == "" {
		return Note{}, errors.New("probe without provider or name")
	}
	return n, nil
}

// Probes lists the distinct PROVIDER:NAME of the file's probes, sorted.
func (f *File) Probes() []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range f.Notes {
		k := n.Provider + ":" + n.Name
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// fileOffset translates a virtual address to a file offset through the
// PT_LOAD segment that holds it (an executable one for code).
func (f *File) fileOffset(addr uint64, exec bool) (uint64, bool) {
	for _, s := range f.segs {
		if (exec && !s.exec) || addr < s.vaddr || addr-s.vaddr >= s.memsz {
			continue
		}
		return addr - s.vaddr + s.off, true
	}
	return 0, false
}

// ErrNoProbe is wrapped by Sites when the binary has no such probe.
var ErrNoProbe = errors.New("no such USDT probe")

// Sites returns every site of PROVIDER:NAME, in note order, with file
// offsets and parsed arguments.
func (f *File) Sites(provider, name string) ([]Site, error) {
	var out []Site
	for _, n := range f.Notes {
		if n.Provider != provider || n.Name != name {
			continue
		}
		s := Site{Note: n}
		var ok bool
		if s.Offset, ok = f.fileOffset(n.PC, true); !ok {
			return nil, fmt.Errorf("probe %s:%s at %#x: the address is in no executable segment", provider, name, n.PC)
		}
		if n.Semaphore != 0 {
			if s.SemOffset, ok = f.fileOffset(n.Semaphore, false); !ok {
				return nil, fmt.Errorf("probe %s:%s: semaphore at %#x is in no loaded segment", provider, name, n.Semaphore)
			}
		}
		var lookup func(string) (uint64, bool)
		if f.syms != nil {
			lookup = func(s string) (uint64, bool) { v, ok := f.syms[s]; return v, ok }
		}
		args, err := ParseArgs(f.GOARCH, n.Args, n.PC, lookup)
		if err != nil {
			return nil, fmt.Errorf("probe %s:%s at %#x: arguments %q: %w", provider, name, n.PC, n.Args, err)
		}
		s.Args = args
		out = append(out, s)
	}
	if len(out) == 0 {
		have := "it has none"
		if p := f.Probes(); len(p) > 0 {
			if len(p) > 20 {
				p = append(p[:20], fmt.Sprintf("... (%d in all)", len(p)))
			}
			have = "it has " + strings.Join(p, ", ")
		}
		return nil, fmt.Errorf("%w %s:%s (%s)", ErrNoProbe, provider, name, have)
	}
	return out, nil
}
