package symbol

import (
	"bytes"
	"debug/elf"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	maxProcs = 1024 // processes cached
	maxFiles = 512  // parsed files cached (beyond: the cache restarts)
	// refreshEvery bounds how often a process's maps are read again when
	// an address is in none of them.
	refreshEvery = time.Second
	maxVDSO      = 1 << 20 // bytes read for a [vdso] mapping at most
	deletedTag   = " (deleted)"
)

type userCache struct {
	mu    sync.Mutex
	procs map[uint32]*process
	files map[fileKey]*elfFile
	clock uint64 // LRU clock

	proc string           // "/proc"
	root string           // host root for debug files, "" for "/"
	now  func() time.Time // for tests
}

type process struct {
	pid    uint32
	maps   []mapping // by start address
	loaded time.Time
	used   uint64
}

type mapping struct {
	start, end, off uint64
	inode           uint64
	path            string // "" for anonymous memory
	file            *elfFile
	opened          bool // file was looked for (it may be nil)
}

// fileKey identifies file contents.
type fileKey struct {
	dev, ino   uint64
	size       int64
	mtime      int64 // ns
	vdsoDigest uint64
}

type elfFile struct {
	syms  []elfSym  // by value, one per value
	loads []elfLoad // PT_LOAD segments
}

type elfSym struct {
	value, size uint64
	name        string
}

type elfLoad struct {
	off, filesz, vaddr uint64
}

func newUserCache() *userCache {
	c := &userCache{proc: "/proc", now: time.Now}
	c.reset()
	return c
}

func (c *userCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.procs = make(map[uint32]*process)
	c.files = make(map[fileKey]*elfFile)
}

func (c *userCache) lookup(pid uint32, addr uint64) (Symbol, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()

	p := c.process(pid)
	m := p.find(addr)
	if m == nil && c.now().Sub(p.loaded) >= refreshEvery {
		c.readMaps(p)
		m = p.find(addr)
	}
	if m == nil || m.path == "" {
		return Symbol{}, false
	}
	sym := Symbol{Module: m.path}
	if !m.opened {
		m.file = c.open(p, m)
		m.opened = true
	}
	if m.file == nil {
		return sym, false
	}
	vaddr, ok := m.file.vaddr(addr - m.start + m.off)
	if !ok {
		return sym, false
	}
	s, ok := m.file.lookup(vaddr)
	if !ok {
		return sym, false
	}
	sym.Name, sym.Offset = s.name, vaddr-s.value
	return sym, true
}

// process returns the cache entry of pid, creating it (and evicting the
// least recently used) if needed.
func (c *userCache) process(pid uint32) *process {
	c.clock++
	if p := c.procs[pid]; p != nil {
		p.used = c.clock
		return p
	}
	if len(c.procs) >= maxProcs {
		var old *process
		for _, q := range c.procs {
			if old == nil || q.used < old.used {
				old = q
			}
		}
		delete(c.procs, old.pid)
	}
	p := &process{pid: pid, used: c.clock}
	c.procs[pid] = p
	c.readMaps(p)
	return p
}

// readMaps reads the mappings of p again, keeping the files already
// opened for mappings that remain. A process that has exited has none.
func (c *userCache) readMaps(p *process) {
	p.loaded = c.now()
	data, err := os.ReadFile(c.proc + "/" + strconv.FormatUint(uint64(p.pid), 10) + "/maps")
	if err != nil {
		p.maps = nil
		return
	}
	old := p.maps
	p.maps = parseMaps(string(data), p.maps[:0:0])
	for i := range p.maps {
		m := &p.maps[i]
		j, found := slices.BinarySearchFunc(old, m.start, func(o mapping, start uint64) int {
			switch {
			case o.start < start:
				return -1
			case o.start > start:
				return 1
			}
			return 0
		})
		if found {
			if o := old[j]; o.end == m.end && o.off == m.off && o.inode == m.inode && o.path == m.path {
				m.file, m.opened = o.file, o.opened
			}
		}
	}
}

// parseMaps parses /proc/PID/maps:
//
//	START-END PERMS OFFSET MAJOR:MINOR INODE [PATH]
func parseMaps(data string, out []mapping) []mapping {
	for line := range strings.SplitSeq(data, "\n") {
		rng, rest, _ := strings.Cut(line, " ")
		lo, hi, ok := strings.Cut(rng, "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		_, rest, _ = strings.Cut(rest, " ") // perms
		offs, rest, _ := strings.Cut(rest, " ")
		_, rest, _ = strings.Cut(rest, " ") // device
		inos, rest, _ := strings.Cut(rest, " ")
		off, err3 := strconv.ParseUint(offs, 16, 64)
		ino, err4 := strconv.ParseUint(inos, 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil || end <= start {
			continue
		}
		out = append(out, mapping{start: start, end: end, off: off, inode: ino,
			path: strings.TrimLeft(rest, " ")})
	}
	slices.SortFunc(out, func(a, b mapping) int {
		switch {
		case a.start < b.start:
			return -1
		case a.start > b.start:
			return 1
		}
		return 0
	})
	return out
}

func (p *process) find(addr uint64) *mapping {
	i, _ := slices.BinarySearchFunc(p.maps, addr, func(m mapping, a uint64) int {
		if m.start <= a {
			return -1
		}
		return 1
	})
	if i == 0 {
		return nil
	}
	if m := &p.maps[i-1]; addr < m.end {
		return m
	}
	return nil
}

// open returns the symbols of the file of m, or nil.
func (c *userCache) open(p *process, m *mapping) *elfFile {
	dir := c.proc + "/" + strconv.FormatUint(uint64(p.pid), 10)
	if m.path == "[vdso]" {
		return c.vdso(dir, m)
	}
	mapFile := dir + "/map_files/" + strconv.FormatUint(m.start, 16) + "-" + strconv.FormatUint(m.end, 16)
	var candidates []string
	if strings.HasSuffix(m.path, deletedTag) {
		candidates = []string{mapFile}
	} else if strings.HasPrefix(m.path, "/") {
		// The file at the path, if it is still the one mapped; else the
		// mapped one (needs CAP_SYS_ADMIN); else the path after all (the
		// inodes of some file systems, overlayfs, differ between the two).
		path := dir + "/root" + m.path
		candidates = []string{path, mapFile, path}
	} else {
		return nil // [heap], [stack], anon_inode:...
	}
	for i, name := range candidates {
		// Stat first: opening a mapped device node could have effects.
		if fi, err := os.Stat(name); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			f.Close()
			continue
		}
		key := statKey(fi)
		if i == 0 && len(candidates) == 3 && key.ino != m.inode {
			f.Close()
			continue
		}
		ef, ok := c.files[key]
		if !ok {
			ef = c.parse(f, dir)
			if len(c.files) >= maxFiles {
				clear(c.files)
			}
			c.files[key] = ef
		}
		f.Close()
		return ef
	}
	return nil
}

// vdso reads the vDSO from the memory of the process.
func (c *userCache) vdso(dir string, m *mapping) *elfFile {
	size := m.end - m.start
	if size > maxVDSO {
		return nil
	}
	f, err := os.Open(dir + "/mem")
	if err != nil {
		return nil
	}
	defer f.Close()
	buf := make([]byte, size)
	if _, err := f.ReadAt(buf, int64(m.start)); err != nil {
		return nil
	}
	h := fnv.New64a()
	h.Write(buf)
	key := fileKey{size: int64(size), vdsoDigest: h.Sum64() | 1}
	if ef, ok := c.files[key]; ok {
		return ef
	}
	ef := c.parse(bytes.NewReader(buf), "")
	c.files[key] = ef
	return ef
}

// parse reads the symbols of an ELF file; nil if it is not one. dir is the
// process's /proc directory, to find debug files in its root.
func (c *userCache) parse(r io.ReaderAt, dir string) *elfFile {
	f, err := elf.NewFile(r)
	if err != nil {
		return nil
	}
	defer f.Close()
	ef := &elfFile{}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			ef.loads = append(ef.loads, elfLoad{off: p.Off, filesz: p.Filesz, vaddr: p.Vaddr})
		}
	}
	var all []elf.Symbol
	syms, err := f.Symbols()
	all = append(all, syms...)
	if errors.Is(err, elf.ErrNoSymbols) && dir != "" {
		all = append(all, c.debugSymbols(f, dir)...)
	}
	dyn, _ := f.DynamicSymbols()
	all = append(all, dyn...)
	ef.syms = indexSymbols(all)
	return ef
}

// debugSymbols returns the .symtab of the separate debug file of f, found
// by build ID under /usr/lib/debug, in the process's root or ours.
func (c *userCache) debugSymbols(f *elf.File, dir string) []elf.Symbol {
	id := buildID(f)
	if len(id) < 2 {
		return nil
	}
	h := hex.EncodeToString(id)
	rel := "/usr/lib/debug/.build-id/" + h[:2] + "/" + h[2:] + ".debug"
	for _, name := range []string{dir + "/root" + rel, c.root + rel} {
		df, err := elf.Open(name)
		if err != nil {
			continue
		}
		syms, err := df.Symbols()
		df.Close()
		if err == nil {
			return syms
		}
	}
	return nil
}

// buildID returns the GNU build ID of f, or nil.
func buildID(f *elf.File) []byte {
	s := f.Section(".note.gnu.build-id")
	if s == nil {
		return nil
	}
	data, err := s.Data()
	if err != nil || len(data) < 16 {
		return nil
	}
	bo := f.ByteOrder
	namesz, descsz, typ := bo.Uint32(data), bo.Uint32(data[4:]), bo.Uint32(data[8:])
	nameEnd := 12 + (uint64(namesz)+3)&^3
	if typ != 3 || namesz != 4 || string(data[12:15]) != "GNU" || nameEnd+uint64(descsz) > uint64(len(data)) {
		return nil
	}
	return data[nameEnd : nameEnd+uint64(descsz)]
}

const sttGNUIFunc = 10 // STT_GNU_IFUNC: a function resolved at load time

// indexSymbols keeps the defined functions of syms, sorted by value, one
// per value.
func indexSymbols(syms []elf.Symbol) []elfSym {
	type cand struct {
		elfSym
		rank int
	}
	var cs []cand
	for _, s := range syms {
		t := elf.ST_TYPE(s.Info)
		if t != elf.STT_FUNC && t != sttGNUIFunc || s.Section == elf.SHN_UNDEF || s.Value == 0 || s.Name == "" {
			continue
		}
		// Rank aliases: sized first, then exported, then fewer leading
		// underscores (libc's weak getpid before its global __getpid),
		// then global before weak.
		rank := 0
		if s.Size == 0 {
			rank += 1000
		}
		switch elf.ST_BIND(s.Info) {
		case elf.STB_GLOBAL:
		case elf.STB_WEAK:
			rank++
		default:
			rank += 100
		}
		for n := 0; n < len(s.Name) && s.Name[n] == '_' && n < 9; n++ {
			rank += 10
		}
		cs = append(cs, cand{elfSym{value: s.Value, size: s.Size, name: s.Name}, rank})
	}
	slices.SortFunc(cs, func(a, b cand) int {
		switch {
		case a.value != b.value:
			if a.value < b.value {
				return -1
			}
			return 1
		case a.rank != b.rank:
			return a.rank - b.rank
		}
		return strings.Compare(a.name, b.name)
	})
	out := make([]elfSym, 0, len(cs))
	for i, s := range cs {
		if i > 0 && s.value == cs[i-1].value {
			continue
		}
		out = append(out, s.elfSym)
	}
	return out
}

// vaddr converts a file offset to the virtual address the ELF file's
// symbols use, through the PT_LOAD segment holding it.
func (f *elfFile) vaddr(off uint64) (uint64, bool) {
	for _, l := range f.loads {
		if l.off <= off && off-l.off < l.filesz {
			return off - l.off + l.vaddr, true
		}
	}
	return 0, false
}

// maxNested bounds the symbols looked at below the closest one, for an
// address inside a function that contains others (rare; assembly).
const maxNested = 8

// lookup returns the function containing vaddr.
func (f *elfFile) lookup(vaddr uint64) (elfSym, bool) {
	i, _ := slices.BinarySearchFunc(f.syms, vaddr, func(s elfSym, a uint64) int {
		if s.value <= a {
			return -1
		}
		return 1
	})
	i--
	if i < 0 {
		return elfSym{}, false
	}
	if s := f.syms[i]; s.size == 0 || vaddr-s.value < s.size {
		return s, true // the closest symbol; sizeless ones are trusted
	}
	for j := i - 1; j >= 0 && j >= i-maxNested; j-- {
		if s := f.syms[j]; vaddr-s.value < s.size {
			return s, true
		}
	}
	return elfSym{}, false
}
