package symbol

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// KallsymsPath is where the running kernel lists its symbols.
const KallsymsPath = "/proc/kallsyms"

// MaxKernelOffset bounds the distance from a kernel symbol to an address
// attributed to it. /proc/kallsyms gives no sizes, so without a bound an
// address in a gap between memory regions (say a JIT area without
// symbols) would be attributed to whatever symbol precedes the gap. No
// kernel function is anywhere near this long.
const MaxKernelOffset = 1 << 20

// ErrNoKernelSymbols is returned (wrapped, with the reason) by
// [Kernel.Err] when kernel symbols cannot be had: /proc/kallsyms cannot
// be read, lists nothing, or hides every address behind zeros because of
// kernel.kptr_restrict and missing privileges.
var ErrNoKernelSymbols = errors.New("kernel symbols unavailable")

// Kernel resolves kernel addresses with the symbols of /proc/kallsyms, read
// once, when first needed. It is safe for concurrent use.
type Kernel struct {
	path string
	once sync.Once

	data string // the file; names point into it
	syms []ksym // by address, one per address
	mods []string
	err  error
	took time.Duration
}

// ksym is one symbol: 16 bytes, so that the ~200k symbols of a kernel take
// little memory and sort fast.
type ksym struct {
	addr    uint64
	nameOff uint32 // in Kernel.data
	nameLen uint16
	mod     uint16 // index in Kernel.mods + 1; 0 for the kernel itself
}

// NewKernel returns a Kernel reading /proc/kallsyms.
func NewKernel() *Kernel { return NewKernelFile(KallsymsPath) }

// NewKernelFile returns a Kernel reading a file in the format of
// /proc/kallsyms.
func NewKernelFile(path string) *Kernel { return &Kernel{path: path} }

// ParseKallsyms returns a Kernel with the symbols of data, a copy of
// /proc/kallsyms. Its error is that of [Kernel.Err].
func ParseKallsyms(data []byte) (*Kernel, error) {
	k := &Kernel{path: "kallsyms data"}
	k.once.Do(func() { k.parse(string(data)) })
	return k, k.err
}

// Load reads the symbols now rather than at the first lookup, and returns
// [Kernel.Err].
func (k *Kernel) Load() error {
	k.once.Do(k.load)
	return k.err
}

// Err tells why kernel addresses cannot be resolved, wrapping
// [ErrNoKernelSymbols]; nil when symbols were read. It loads them first.
func (k *Kernel) Err() error { return k.Load() }

// Len returns the number of distinct symbol addresses known.
func (k *Kernel) Len() int {
	k.Load()
	return len(k.syms)
}

// LoadTime returns how long reading and indexing the symbols took.
func (k *Kernel) LoadTime() time.Duration {
	k.Load()
	return k.took
}

func (k *Kernel) load() {
	start := time.Now()
	data, err := readAll(k.path)
	if err != nil {
		k.err = fmt.Errorf("%w: %w", ErrNoKernelSymbols, err)
		return
	}
	k.parse(data)
	k.took = time.Since(start)
}

// readChunk is the size of each read of kallsyms: the kernel produces it
// fastest in reads of 64 to 128 KiB.
const readChunk = 128 << 10

// readAll reads a file whose size stat does not tell (procfs) into a
// buffer sized for a typical kallsyms, growing it geometrically if needed.
// The buffer becomes the string without a copy: nothing writes to it after.
func readAll(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	buf := make([]byte, 0, 8<<20)
	for {
		if cap(buf)-len(buf) < readChunk {
			buf = slices.Grow(buf, cap(buf))
		}
		n, err := f.Read(buf[len(buf) : len(buf)+readChunk])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			if len(buf) == 0 {
				return "", nil
			}
			return unsafe.String(&buf[0], len(buf)), nil
		}
		if err != nil {
			return "", err
		}
	}
}

// maxData bounds the kallsyms read: name offsets are 32-bit, and a
// kallsyms is ~10 MB. (A variable: the constant overflows int on 32-bit
// platforms, which never get near it.)
var maxData uint64 = math.MaxUint32

// parse indexes data, lines of "ADDRESS TYPE NAME[\t[MODULE]]". Malformed
// lines are skipped, as are absolute symbols (types a and A: per-CPU
// offsets and constants, not code) and symbols at address 0.
func (k *Kernel) parse(data string) {
	if uint64(len(data)) > maxData {
		data = data[:maxData]
	}
	k.data = data
	syms := make([]ksym, 0, len(data)/40)
	zeros := 0 // symbols listed at address 0
	lastMod, modIdx := "", -1
	sorted := true
	var prev uint64
	for pos := 0; pos < len(data); {
		end := strings.IndexByte(data[pos:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += pos
		}
		line := data[pos:end]
		lineOff := pos
		pos = end + 1

		addr, i := parseHex(line)
		// Need 1..16 digits, " T " and a name.
		if i == 0 || i > 16 || len(line) < i+4 || line[i] != ' ' || line[i+2] != ' ' {
			continue
		}
		typ := line[i+1]
		rest := line[i+3:]
		nameEnd := strings.IndexByte(rest, '\t')
		mod := ""
		if nameEnd < 0 {
			nameEnd = len(rest)
		} else {
			mod = strings.TrimSpace(rest[nameEnd+1:])
			mod = strings.TrimPrefix(mod, "[")
			mod = strings.TrimSuffix(mod, "]")
		}
		name := rest[:nameEnd]
		if name == "" || strings.IndexByte(name, ' ') >= 0 || len(name) > 0xffff {
			continue
		}
		if typ == 'a' || typ == 'A' {
			continue
		}
		if addr == 0 {
			zeros++
			continue
		}
		s := ksym{addr: addr, nameOff: uint32(lineOff + i + 3), nameLen: uint16(len(name))}
		if mod != "" {
			// The lines of a module are together: look its name up only
			// when it changes.
			if mod != lastMod {
				modIdx = k.modIndex(mod)
				if modIdx < 0 {
					modIdx = len(k.mods)
					k.mods = append(k.mods, mod)
				}
				lastMod = mod
			}
			if modIdx < 0xffff {
				s.mod = uint16(modIdx + 1)
			}
		}
		if addr < prev {
			sorted = false
		}
		prev = addr
		syms = append(syms, s)
	}

	if len(syms) == 0 {
		if zeros > 0 {
			k.err = fmt.Errorf("%w: %s lists %d symbols but every address is 0: the kernel hides them from this process (%s)",
				ErrNoKernelSymbols, k.path, zeros, kptrReason())
		} else {
			k.err = fmt.Errorf("%w: no symbols in %s", ErrNoKernelSymbols, k.path)
		}
		k.data = ""
		return
	}

	if !sorted {
		// The kernel lists itself in order, then modules and BPF programs
		// wherever they were loaded. Ties keep the order of the file
		// (nameOff grows with it), so the result is deterministic.
		slices.SortFunc(syms, func(a, b ksym) int {
			if c := cmp.Compare(a.addr, b.addr); c != 0 {
				return c
			}
			return cmp.Compare(a.nameOff, b.nameOff)
		})
	}

	// One symbol per address: the best ranked, the first listed on ties.
	out := syms[:0]
	for i := 0; i < len(syms); {
		j, best := i+1, i
		for ; j < len(syms) && syms[j].addr == syms[i].addr; j++ {
			if k.rank(syms[j]) < k.rank(syms[best]) {
				best = j
			}
		}
		out = append(out, syms[best])
		i = j
	}
	k.syms = slices.Clip(out)
}

// parseHex reads the hex digits at the start of line, up to 17 of them (17
// means too many), and returns their value and count.
func parseHex(line string) (v uint64, n int) {
	for ; n < len(line) && n < 17; n++ {
		c := line[n]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return v, n
		}
		v = v<<4 | uint64(c)
	}
	return v, n
}

// modIndex returns the index of mod in k.mods, searching from the end,
// where the module being parsed is.
func (k *Kernel) modIndex(mod string) int {
	for i := len(k.mods) - 1; i >= 0; i-- {
		if k.mods[i] == mod {
			return i
		}
	}
	return -1
}

// rank orders aliases at one address: functions before other symbols,
// global before local, fewer leading underscores first.
func (k *Kernel) rank(s ksym) int {
	typ := k.data[s.nameOff-2]
	r := 0
	switch typ {
	case 'T', 't':
	case 'W', 'w':
		r += 100
	default:
		r += 200
	}
	if 'a' <= typ && typ <= 'z' {
		r += 50
	}
	name := k.name(s)
	for n := 0; n < len(name) && name[n] == '_' && n < 9; n++ {
		r++
	}
	return r
}

func (k *Kernel) name(s ksym) string {
	return k.data[s.nameOff : s.nameOff+uint32(s.nameLen)]
}

// kptrReason explains why kallsyms addresses are zero, from the sysctls
// the kernel consults (kallsyms_show_value).
func kptrReason() string {
	restrict := sysctl("kernel/kptr_restrict")
	switch restrict {
	case "2":
		return "kernel.kptr_restrict=2 hides them from everyone; lower it with sysctl"
	case "1":
		return "kernel.kptr_restrict=1 shows them only to processes with CAP_SYSLOG in the initial user namespace: run as root"
	case "0":
		paranoid := sysctl("kernel/perf_event_paranoid")
		return "kernel.kptr_restrict=0 with kernel.perf_event_paranoid=" + paranoid +
			" shows them only to processes with CAP_SYSLOG in the initial user namespace: run as root"
	}
	return "kernel.kptr_restrict=" + restrict
}

func sysctl(name string) string {
	v, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(v))
}

// find returns the index of the symbol covering addr, or -1.
func (k *Kernel) find(addr uint64) int {
	k.Load()
	// The last symbol at or below addr.
	i, _ := slices.BinarySearchFunc(k.syms, addr, func(s ksym, a uint64) int {
		if s.addr <= a {
			return -1
		}
		return 1
	})
	i--
	if i < 0 || addr-k.syms[i].addr >= MaxKernelOffset {
		return -1
	}
	return i
}

// Lookup returns the symbol covering addr and addr's offset in it. ok is
// false when no symbol does or symbols are unavailable ([Kernel.Err]).
func (k *Kernel) Lookup(addr uint64) (name string, offset uint64, ok bool) {
	i := k.find(addr)
	if i < 0 {
		return "", 0, false
	}
	s := k.syms[i]
	return k.name(s), addr - s.addr, true
}

// Symbol is like [Kernel.Lookup] and also returns the module of the symbol
// ("" for the kernel image; "bpf" for BPF programs).
func (k *Kernel) Symbol(addr uint64) (Symbol, bool) {
	i := k.find(addr)
	if i < 0 {
		return Symbol{}, false
	}
	s := k.syms[i]
	sym := Symbol{Name: k.name(s), Offset: addr - s.addr}
	if s.mod > 0 {
		sym.Module = k.mods[s.mod-1]
	}
	return sym, true
}

// Address returns the address of the first symbol named name, for tests
// and for callers that want to check a symbol exists.
func (k *Kernel) Address(name string) (uint64, bool) {
	k.Load()
	for _, s := range k.syms {
		if k.name(s) == name {
			return s.addr, true
		}
	}
	return 0, false
}

// Format returns addr as "name+0xOFF", with " [module]" for modules, or
// "[unknown]".
func (k *Kernel) Format(addr uint64) string {
	s, ok := k.Symbol(addr)
	if !ok {
		return Unknown
	}
	return s.kernelString()
}

func (s Symbol) kernelString() string {
	b := make([]byte, 0, len(s.Name)+len(s.Module)+24)
	b = append(b, s.Name...)
	b = append(b, "+0x"...)
	b = strconv.AppendUint(b, s.Offset, 16)
	if s.Module != "" {
		b = append(b, " ["...)
		b = append(b, s.Module...)
		b = append(b, ']')
	}
	return string(b)
}
