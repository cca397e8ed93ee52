package attach

import (
	"debug/elf"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
)

// ELF symbols for uprobes.
//
// cilium/ebpf's Executable keeps one address per symbol name, the last one
// it reads, and only STT_FUNC symbols. That probes the wrong function for
// versioned symbols (glibc's realpath, regexec or pthread_cond_wait have a
// compat version after the default one in .dynsym, and memcpy@GLIBC_2.2.5
// is an old FUNC next to the IFUNC memcpy@@GLIBC_2.14), and when .symtab
// has several functions of one name. So ecli resolves symbols itself, the
// way libbpf does, and hands cilium/ebpf the file offset:
//
//   - SYMBOL matches NAME, NAME@VERSION and NAME@@VERSION, in .dynsym (whose
//     version comes from .gnu.version) and in .symtab (where it is part of
//     the name). A bare NAME matches only the default version (@@, not
//     hidden), as the dynamic linker binds it; NAME@VERSION or
//     NAME@@VERSION picks that version.
//   - Undefined symbols (imported from a library) and non-functions are not
//     candidates; the error says so.
//   - Candidates at the same file offset are one function (a symbol in both
//     .dynsym and .symtab). Among different ones, GLOBAL (or GNU_UNIQUE)
//     wins over WEAK, which wins over LOCAL; two at the best binding are
//     ambiguous, an error listing them (probe BINARY:ADDRESS instead).
//   - An IFUNC's address is its resolver, run once when the program is
//     loaded; a uprobe there never sees the calls. It is an error that
//     names the implementations .symtab lists, if any.
//   - The file offset is the symbol's address minus its section's address
//     plus the section's file offset (libbpf's computation), which holds
//     for non-PIE executables (addresses at 0x400000), PIE executables and
//     shared libraries alike; symbols outside any section use the PT_LOAD
//     segment that contains them.

// elfFunc is a function a uprobe can be placed on.
type elfFunc struct {
	name   string // the symbol, with @VERSION when versioned
	offset uint64 // file offset of its first instruction
	size   uint64
	bind   elf.SymBind
	ifunc  bool
	table  string // ".dynsym" or ".symtab"
}

// splitVersion splits NAME@VERSION / NAME@@VERSION; hidden is true for a
// single @ (not the default version).
func splitVersion(s string) (name, version string, hidden bool) {
	i := strings.IndexByte(s, '@')
	if i < 0 {
		return s, "", false
	}
	name, version = s[:i], s[i+1:]
	if strings.HasPrefix(version, "@") {
		return name, version[1:], false
	}
	return name, version, true
}

func bindRank(b elf.SymBind) int {
	switch b {
	case elf.STB_GLOBAL, elf.STB_LOOS: // STB_GNU_UNIQUE
		return 0
	case elf.STB_WEAK:
		return 1
	}
	return 2
}

const sttGNUIFunc = elf.STT_LOOS // STT_GNU_IFUNC

// fileOffset converts a symbol's address to a file offset.
func fileOffset(f *elf.File, s elf.Symbol) (uint64, bool) {
	if int(s.Section) > 0 && s.Section < elf.SHN_LORESERVE && int(s.Section) < len(f.Sections) {
		sec := f.Sections[s.Section]
		if sec.Type != elf.SHT_NOBITS && s.Value >= sec.Addr && s.Value < sec.Addr+sec.Size {
			return s.Value - sec.Addr + sec.Offset, true
		}
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && s.Value >= p.Vaddr && s.Value < p.Vaddr+p.Filesz {
			return s.Value - p.Vaddr + p.Off, true
		}
	}
	return 0, false
}

// elfSym is a symbol of either table, with its version split off its
// name and its file offset.
type elfSym struct {
	elf.Symbol
	base, version string
	hidden        bool
	table         string
	off           uint64
	hasOff        bool
}

func readSymbols(f *elf.File) []elfSym {
	var out []elfSym
	dyn, _ := f.DynamicSymbols()
	for _, s := range dyn {
		out = append(out, elfSym{Symbol: s, base: s.Name, version: s.Version,
			hidden: s.HasVersion && s.VersionIndex.IsHidden(), table: ".dynsym"})
	}
	syms, _ := f.Symbols()
	for _, s := range syms {
		base, version, hidden := splitVersion(s.Name)
		out = append(out, elfSym{Symbol: s, base: base, version: version, hidden: hidden, table: ".symtab"})
	}
	for i := range out {
		out[i].off, out[i].hasOff = fileOffset(f, out[i].Symbol)
	}
	return out
}

// symCache keeps the symbols of the files probed in this process: a
// memleak-style tool puts a dozen probes on libc.
var symCache struct {
	sync.Mutex
	files map[string]cachedSyms
}

type cachedSyms struct {
	size  int64
	mtime time.Time
	syms  []elfSym
}

// symbols returns the symbols of an ELF executable or shared library.
func symbols(file string) ([]elfSym, error) {
	st, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	symCache.Lock()
	defer symCache.Unlock()
	if c, ok := symCache.files[file]; ok && c.size == st.Size() && c.mtime.Equal(st.ModTime()) {
		return c.syms, nil
	}
	f, err := openELF(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	syms := readSymbols(f)
	if symCache.files == nil {
		symCache.files = map[string]cachedSyms{}
	}
	symCache.files[file] = cachedSyms{st.Size(), st.ModTime(), syms}
	return syms, nil
}

func (s *elfSym) display() string {
	switch {
	case s.version == "":
		return s.base
	case s.hidden:
		return s.base + "@" + s.version
	}
	return s.base + "@@" + s.version
}

func openELF(file string) (*elf.File, error) {
	f, err := elf.Open(file)
	if err != nil {
		return nil, fmt.Errorf("%s is not an ELF executable or library: %w", file, err)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		f.Close()
		return nil, fmt.Errorf("%s is an ELF %s, not an executable or a shared library", file, f.Type)
	}
	return f, nil
}

// resolveSymbol finds the function a uprobe on name (NAME, NAME@VERSION
// or NAME@@VERSION) in file must probe, by the rules above.
func resolveSymbol(file, name string) (*elfFunc, error) {
	all, err := symbols(file)
	if err != nil {
		return nil, err
	}
	base, version, _ := splitVersion(name)
	wantVersion := strings.Contains(name, "@")
	var cands []*elfFunc
	var imported, notFunc bool
	var onlyHidden []string
	for i := range all {
		s := &all[i]
		if s.base != base {
			continue
		}
		if wantVersion && s.version != version {
			continue
		}
		if !wantVersion && s.hidden {
			onlyHidden = append(onlyHidden, s.display())
			continue
		}
		if s.Section == elf.SHN_UNDEF {
			imported = true
			continue
		}
		typ := elf.ST_TYPE(s.Info)
		if typ != elf.STT_FUNC && typ != sttGNUIFunc {
			notFunc = true
			continue
		}
		if !s.hasOff {
			continue
		}
		cands = append(cands, &elfFunc{name: s.display(), offset: s.off, size: s.Size,
			bind: elf.ST_BIND(s.Info), ifunc: typ == sttGNUIFunc, table: s.table})
	}
	if len(cands) == 0 {
		switch {
		case notFunc:
			return nil, fmt.Errorf("%s in %s is not a function", name, file)
		case imported:
			return nil, fmt.Errorf("%s is not defined in %s but in a shared library it loads: probe the library, e.g. uprobe/libc.so.6:%s", name, file, base)
		case len(onlyHidden) > 0:
			return nil, fmt.Errorf("%s in %s has only non-default versions (%s): name one", name, file, strings.Join(dedupe(onlyHidden), ", "))
		}
		return nil, fmt.Errorf("symbol %s not found in %s (nm -D %s lists its symbols)", name, file, file)
	}
	// One function per offset, the best binding first.
	sort.SliceStable(cands, func(i, j int) bool { return bindRank(cands[i].bind) < bindRank(cands[j].bind) })
	best := cands[0]
	byOffset := map[uint64]*elfFunc{}
	var distinct []*elfFunc
	for _, c := range cands {
		if prev := byOffset[c.offset]; prev != nil {
			prev.ifunc = prev.ifunc || c.ifunc
			if prev.size == 0 {
				prev.size = c.size
			}
			continue
		}
		byOffset[c.offset] = c
		if bindRank(c.bind) == bindRank(best.bind) {
			distinct = append(distinct, c)
		}
	}
	if len(distinct) > 1 {
		var list []string
		for _, c := range distinct {
			list = append(list, fmt.Sprintf("%s at %#x (%s, %s)", c.name, c.offset, strings.ToLower(strings.TrimPrefix(c.bind.String(), "STB_")), c.table))
		}
		return nil, fmt.Errorf("%s is ambiguous in %s: %s; probe one by its file offset, e.g. %s:%#x",
			name, file, strings.Join(list, "; "), file, distinct[0].offset)
	}
	if best.ifunc {
		msg := fmt.Sprintf("%s in %s is an IFUNC: its address is the resolver that picks an implementation when the program starts, so a uprobe there would not see the calls; probe the implementation instead", name, file)
		if impls := ifuncImpls(all, base); len(impls) > 0 {
			msg += " (" + strings.Join(impls, ", ") + ")"
		} else {
			msg += " (its name is in the library's debug symbols, e.g. __" + base + "_avx2 in glibc)"
		}
		return nil, fmt.Errorf("%s", msg)
	}
	return best, nil
}

// ifuncImpls lists the defined functions named like implementations of
// an IFUNC (__NAME_* and NAME_*), as glibc names them.
func ifuncImpls(all []elfSym, base string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range all {
		n := s.base
		if elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Section == elf.SHN_UNDEF || seen[n] {
			continue
		}
		if strings.HasPrefix(n, "__"+base+"_") || strings.HasPrefix(n, base+"_") {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	if len(out) > 8 {
		out = append(out[:8], "...")
	}
	return out
}

func dedupe(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// elfFunctions lists the functions of file whose names match a glob
// (default versions only, IFUNCs left out), with their file offsets.
func elfFunctions(file, pattern string) (names []string, offsets []uint64, err error) {
	all, err := symbols(file)
	if err != nil {
		return nil, nil, err
	}
	seen := map[uint64]bool{}
	type fn struct {
		name string
		off  uint64
	}
	var fns []fn
	for _, s := range all {
		if elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Section == elf.SHN_UNDEF || s.hidden {
			continue
		}
		if ok, _ := path.Match(pattern, s.base); !ok {
			continue
		}
		if !s.hasOff || seen[s.off] {
			continue
		}
		seen[s.off] = true
		fns = append(fns, fn{s.base, s.off})
	}
	if len(fns) == 0 {
		return nil, nil, fmt.Errorf("no function in %s matches %q", file, pattern)
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].name < fns[j].name })
	for _, x := range fns {
		names = append(names, x.name)
		offsets = append(offsets, x.off)
	}
	return names, offsets, nil
}
