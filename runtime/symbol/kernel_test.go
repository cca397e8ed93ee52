package symbol

import (
	"bufio"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

const fixture = `ffffffff81000000 T _stext
ffffffff81000000 t _text
ffffffff81000000 T srso_alias_untrain_ret
ffffffff81001000 T do_nanosleep
ffffffff81001100 t local_helper
ffffffff81001100 W weak_alias
ffffffff81001100 T __global_alias
0000000000001000 A fixed_percpu_data
ffffffffc0201000 t ftrace_trampoline	[__builtin__ftrace]
ffffffffc0100000 t nft_do_chain	[nf_tables]
ffffffffc0100400 T nft_register_chain	[nf_tables]
ffffffffc0025d40 t bpf_dispatcher_xdp	[bpf]
ffffffff81002000 D some_data
not a line
ffffffff81003000  T double_space
ffffffff81003000T nospace
fffffffffffffffff T too_long_address
ffffffff81004000 T
ffffffffc0300000 t last_module_func	[zz]
`

func TestParseFixture(t *testing.T) {
	k, err := ParseKallsyms([]byte(fixture))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr uint64
		want string
	}{
		{0, Unknown},
		{0x1000, Unknown},             // absolute symbols are skipped
		{0xffffffff80ffffff, Unknown}, // below the first symbol
		{0xffffffff81000000, "srso_alias_untrain_ret+0x0"}, // global text, fewest leading _
		{0xffffffff81000010, "srso_alias_untrain_ret+0x10"},
		{0xffffffff81001000, "do_nanosleep+0x0"},
		{0xffffffff8100103e, "do_nanosleep+0x3e"},
		{0xffffffff81001104, "__global_alias+0x4"}, // T before W before t
		{0xffffffff81002008, "some_data+0x8"},
		{0xffffffff81002000 + MaxKernelOffset - 1, "some_data+0xfffff"},
		{0xffffffff81002000 + MaxKernelOffset, Unknown}, // too far from any symbol
		{0xffffffffc0025d41, "bpf_dispatcher_xdp+0x1 [bpf]"},
		{0xffffffffc0100004, "nft_do_chain+0x4 [nf_tables]"},
		{0xffffffffc0100500, "nft_register_chain+0x100 [nf_tables]"},
		{0xffffffffc0201000, "ftrace_trampoline+0x0 [__builtin__ftrace]"},
		{0xffffffffc0300001, "last_module_func+0x1 [zz]"},
	}
	for _, tt := range tests {
		if got := k.Format(tt.addr); got != tt.want {
			t.Errorf("Format(%#x) = %q, want %q", tt.addr, got, tt.want)
		}
	}
	if name, off, ok := k.Lookup(0xffffffff8100103e); name != "do_nanosleep" || off != 0x3e || !ok {
		t.Errorf("Lookup = %q, %#x, %v", name, off, ok)
	}
	if _, _, ok := k.Lookup(1); ok {
		t.Error("Lookup(1) found a symbol")
	}
	if a, ok := k.Address("nft_do_chain"); !ok || a != 0xffffffffc0100000 {
		t.Errorf("Address(nft_do_chain) = %#x, %v", a, ok)
	}
	if _, ok := k.Address("missing"); ok {
		t.Error("Address(missing) found")
	}
	// Distinct addresses: four in the kernel, five in modules; the
	// malformed lines add none.
	if n := k.Len(); n != 9 {
		t.Errorf("Len = %d, want 9", n)
	}
	for i := 1; i < len(k.syms); i++ {
		if k.syms[i-1].addr >= k.syms[i].addr {
			t.Fatalf("symbols not strictly sorted at %d", i)
		}
	}
}

func TestParseErrors(t *testing.T) {
	zeros := "0000000000000000 T _text\n0000000000000000 t do_nanosleep\n"
	k, err := ParseKallsyms([]byte(zeros))
	if !errors.Is(err, ErrNoKernelSymbols) || !strings.Contains(err.Error(), "every address is 0") ||
		!strings.Contains(err.Error(), "kptr_restrict") {
		t.Errorf("all zero: err = %v", err)
	}
	if got := k.Format(0xffffffff81000000); got != Unknown {
		t.Errorf("all zero: Format = %q", got)
	}
	if !errors.Is(k.Err(), ErrNoKernelSymbols) {
		t.Errorf("Err() = %v", k.Err())
	}
	t.Logf("all-zero error: %v", err)

	for _, data := range []string{"", "\n\n", "garbage\n"} {
		if _, err := ParseKallsyms([]byte(data)); !errors.Is(err, ErrNoKernelSymbols) || !strings.Contains(err.Error(), "no symbols") {
			t.Errorf("%q: err = %v", data, err)
		}
	}

	k = NewKernelFile(t.TempDir() + "/missing")
	if err := k.Err(); !errors.Is(err, ErrNoKernelSymbols) || !errors.Is(err, os.ErrNotExist) && !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: err = %v", err)
	}
	if got := k.Format(0xffffffff81000000); got != Unknown {
		t.Errorf("missing file: Format = %q", got)
	}
}

func TestKernelFile(t *testing.T) {
	path := t.TempDir() + "/kallsyms"
	if err := os.WriteFile(path, []byte(fixture), 0o644); err != nil {
		t.Fatal(err)
	}
	k := NewKernelFile(path)
	if got := k.Format(0xffffffff8100103e); got != "do_nanosleep+0x3e" {
		t.Errorf("Format = %q", got)
	}
	if k.LoadTime() <= 0 {
		t.Error("no load time")
	}
}

// readKallsyms is an independent, simple reader of /proc/kallsyms.
func readKallsyms(t *testing.T) map[string]uint64 {
	t.Helper()
	f, err := os.Open(KallsymsPath)
	if err != nil {
		testenv.Missing(t, "cannot read %s: %v", KallsymsPath, err)
	}
	defer f.Close()
	syms := make(map[string]uint64)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		a, err := strconv.ParseUint(fields[0], 16, 64)
		if err != nil {
			t.Fatalf("bad line %q", sc.Text())
		}
		if _, dup := syms[fields[2]]; !dup {
			syms[fields[2]] = a
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return syms
}

func TestRealKallsyms(t *testing.T) {
	ref := readKallsyms(t)
	k := NewKernel()
	start := time.Now()
	err := k.Load()
	took := time.Since(start)
	if errors.Is(err, ErrNoKernelSymbols) {
		testenv.Missing(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d symbols (%d lines) from %s in %v", k.Len(), len(ref), KallsymsPath, took)
	if took > 2*time.Second {
		t.Errorf("loading took %v", took)
	}

	// Addresses sharing each symbol's address, to accept aliases.
	byAddr := make(map[uint64][]string)
	addrs := make([]uint64, 0, len(ref))
	for name, a := range ref {
		if byAddr[a] == nil {
			addrs = append(addrs, a)
		}
		byAddr[a] = append(byAddr[a], name)
	}
	slices.Sort(addrs)
	checked := 0
	r := NewResolver()
	for _, name := range []string{"do_nanosleep", "schedule", "vfs_read", "__x64_sys_getpid", "ksys_write"} {
		a, ok := ref[name]
		if !ok {
			continue
		}
		i, _ := slices.BinarySearch(addrs, a)
		next := uint64(1<<64 - 1)
		if i+1 < len(addrs) {
			next = addrs[i+1]
		}
		for _, off := range []uint64{0, 1, 0x3e, 0x100} {
			if a+off >= next {
				break
			}
			got, gotOff, ok := k.Lookup(a + off)
			if !ok || gotOff != off || !slices.Contains(byAddr[a], got) {
				t.Errorf("Lookup(%s+%#x = %#x) = %q, %#x, %v; want one of %q", name, off, a+off, got, gotOff, ok, byAddr[a])
			}
		}
		if s := r.Kernel(a + 5); !strings.HasSuffix(s, "+0x5") {
			t.Errorf("Resolver.Kernel(%s+5) = %q", name, s)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("none of the usual kernel functions is in kallsyms")
	}
}

func BenchmarkLoadKallsyms(b *testing.B) {
	if _, err := os.Stat(KallsymsPath); err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		k := NewKernel()
		if err := k.Load(); err != nil {
			b.Skip(err)
		}
	}
}

func BenchmarkParseKallsyms(b *testing.B) {
	data, err := os.ReadFile(KallsymsPath)
	if err != nil {
		b.Skip(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseKallsyms(data); err != nil {
			b.Skip(err)
		}
	}
}

func BenchmarkKernelLookup(b *testing.B) {
	k := NewKernel()
	if err := k.Load(); err != nil {
		b.Skip(err)
	}
	a := k.syms[len(k.syms)/2].addr + 7
	for b.Loop() {
		k.Lookup(a)
	}
}

func FuzzParseKallsyms(f *testing.F) {
	f.Add([]byte(fixture))
	f.Add([]byte("0000000000000000 T _text\n"))
	f.Add([]byte("ffffffff81000000 T x\tmod]\nffffffff81000000 t y\t[\n"))
	f.Add([]byte("1 T a\n2 T b\n1 T c"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKallsyms(data)
		if err != nil {
			if !errors.Is(err, ErrNoKernelSymbols) || k.Len() != 0 {
				t.Fatalf("err %v with %d symbols", err, k.Len())
			}
			return
		}
		if k.Len() == 0 {
			t.Fatal("no error and no symbols")
		}
		for i, s := range k.syms {
			if i > 0 && k.syms[i-1].addr >= s.addr {
				t.Fatalf("not sorted at %d", i)
			}
			name := k.name(s)
			if name == "" || strings.ContainsAny(name, " \n\t") {
				t.Fatalf("bad name %q", name)
			}
			if got, off, ok := k.Lookup(s.addr); !ok || got != name || off != 0 {
				t.Fatalf("Lookup(%#x) = %q %d %v, want %q", s.addr, got, off, ok, name)
			}
			if a := s.addr + 1; a != 0 && (i+1 == len(k.syms) || k.syms[i+1].addr != a) {
				if got, off, ok := k.Lookup(a); !ok || got != name || off != 1 {
					t.Fatalf("Lookup(%#x) = %q %d %v, want %q+1", a, got, off, ok, name)
				}
			}
			_ = k.Format(s.addr)
		}
		_ = k.Format(0)
		_ = k.Format(^uint64(0))
	})
}
