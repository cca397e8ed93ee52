package progflags_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/packager/extract"
	"github.com/ecc-bpf/ecc/runtime/progflags"
)

var update = flag.Bool("update", false, "rewrite testdata/help.golden")

const srcPath = "testdata/globals.bpf.c"

var (
	objOnce sync.Once
	objData []byte
	objErr  error
)

// object compiles testdata/globals.bpf.c once per test binary.
func object(t testing.TB) []byte {
	t.Helper()
	clang := testenv.Clang(t)
	objOnce.Do(func() {
		dir, err := os.MkdirTemp("", "progflags")
		if err != nil {
			objErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "globals.bpf.o")
		cmd := exec.Command(clang, "-g", "-O2", "-target", "bpf", "-c", srcPath, "-o", out)
		if msg, err := cmd.CombinedOutput(); err != nil {
			objErr = errors.New(clang + ": " + err.Error() + "\n" + string(msg))
			return
		}
		objData, objErr = os.ReadFile(out)
	})
	if objErr != nil {
		t.Fatal(objErr)
	}
	return objData
}

// fixture returns fresh metadata (as ecc build makes it) and a fresh spec.
func fixture(t testing.TB) (*packager.Meta, *ebpf.CollectionSpec) {
	t.Helper()
	obj := object(t)
	src, err := os.ReadFile(srcPath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := extract.Extract(&extract.Input{Object: obj, Name: "globals", Source: srcPath, SourceText: src})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		t.Fatal(err)
	}
	return m, spec
}

func newSet(t testing.TB) (*progflags.Set, *ebpf.CollectionSpec) {
	t.Helper()
	m, spec := fixture(t)
	s, err := progflags.New(m, spec)
	if err != nil {
		t.Fatal(err)
	}
	return s, spec
}

// ne encodes fixed-size values in native byte order.
func ne(v any) []byte {
	b, err := binary.Append(nil, binary.NativeEndian, v)
	if err != nil {
		panic(err)
	}
	return b
}

func u128(hi, lo uint64) []byte {
	if binary.NativeEndian.Uint16([]byte{0, 1}) == 1 { // big-endian host
		return append(ne(hi), ne(lo)...)
	}
	return append(ne(lo), ne(hi)...)
}

func str(s string, n int) []byte {
	b := make([]byte, n)
	copy(b, s)
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func values(spec *ebpf.CollectionSpec) map[string][]byte {
	out := map[string][]byte{}
	for name, v := range spec.Variables {
		out[name] = bytes.Clone(v.Value)
	}
	return out
}

// baseline is what Apply writes with no flags: the @cmdarg defaults that
// differ from the object's values.
func baseline(t *testing.T) map[string][]byte {
	_, spec := fixture(t)
	want := values(spec)
	want["show_args"] = []byte{1}
	want["color"] = ne(uint32(5))
	want["scale"] = ne(2.25)
	return want
}

func TestInitialValues(t *testing.T) {
	// Guards the fixture: the object holds what the C source says.
	_, spec := fixture(t)
	got := values(spec)
	want := map[string][]byte{
		"targ_pid": ne(int32(0)), "v_u8": {200}, "v_s8": ne(int8(-100)),
		"v_u16": ne(uint16(8080)), "v_s16": ne(int16(-300)),
		"v_u32": ne(uint32(4000000000)), "v_s32": ne(int32(-2000000000)),
		"v_u64": ne(uint64(18000000000000000000)), "v_s64": ne(int64(-9000000000000000000)),
		"v_char": {'x'}, "v_u128": u128(0, 1),
		"verbose": {0}, "show_args": {0}, "on_by_default": {1},
		"comm": str("bash", 16), "ucomm": str("", 8), "scomm": str("ab", 4),
		"color": ne(uint32(0)), "level": ne(int32(1)), "big": ne(uint64(1 << 32)),
		"pid2": ne(uint32(42)), "ratio": ne(float32(1.5)), "scale": ne(0.5),
		"ints":  cat(ne(int32(1)), ne(int32(2)), ne(int32(3)), ne(int32(4))),
		"ports": cat(ne(uint16(22)), ne(uint16(0)), ne(uint16(0))),
		"addr":  {127, 0, 0, 1}, "bits": {1, 0}, "names": cat(str("a", 8), str("b", 8)),
		"cfg":    cat(ne(int32(1)), str("x", 8)),
		"either": ne(int32(3)), "min_duration_ns": ne(uint64(16)),
		"counter": ne(int32(5)), "data_x": ne(uint32(7)),
		"hits": ne(uint64(0)), "seen": {0}, "ptr": ne(uint64(0)),
	}
	for name, w := range want {
		if !bytes.Equal(got[name], w) {
			t.Errorf("%s = %x, want %x", name, got[name], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("object has %d variables, want %d", len(got), len(want))
	}
}

func TestParseApply(t *testing.T) {
	base := baseline(t)
	tests := []struct {
		args []string
		want map[string][]byte
	}{
		{nil, nil},
		{[]string{"--pid", "1234"}, map[string][]byte{"targ_pid": ne(int32(1234))}},
		{[]string{"--pid=-5"}, map[string][]byte{"targ_pid": ne(int32(-5))}},
		{[]string{"--pid", "-5"}, map[string][]byte{"targ_pid": ne(int32(-5))}},
		{[]string{"--pid", "-0x10"}, map[string][]byte{"targ_pid": ne(int32(-16))}},
		{[]string{"-p", "0x10"}, map[string][]byte{"targ_pid": ne(int32(16))}},
		{[]string{"-p0o17"}, map[string][]byte{"targ_pid": ne(int32(15))}},
		{[]string{"-p=0b101"}, map[string][]byte{"targ_pid": ne(int32(5))}},
		{[]string{"-p", "010"}, map[string][]byte{"targ_pid": ne(int32(8))}},
		{[]string{"-p", "1_000"}, map[string][]byte{"targ_pid": ne(int32(1000))}},
		{[]string{"--pid", "1", "--pid", "2"}, map[string][]byte{"targ_pid": ne(int32(2))}},
		{[]string{"--pid", "1", "--"}, map[string][]byte{"targ_pid": ne(int32(1))}},
		{[]string{"--pid", "2147483647"}, map[string][]byte{"targ_pid": ne(int32(math.MaxInt32))}},
		{[]string{"--pid", "-2147483648"}, map[string][]byte{"targ_pid": ne(int32(math.MinInt32))}},
		{[]string{"--v_u8", "255"}, map[string][]byte{"v_u8": {255}}},
		{[]string{"--v-u8", "x"}, map[string][]byte{"v_u8": {'x'}}},
		{[]string{"--v_u8=7"}, map[string][]byte{"v_u8": {7}}},
		{[]string{"--v_s8", "-128"}, map[string][]byte{"v_s8": {0x80}}},
		{[]string{"-P", "65535"}, map[string][]byte{"v_u16": ne(uint16(65535))}},
		{[]string{"--v_u16", "0xffff"}, map[string][]byte{"v_u16": ne(uint16(65535))}},
		{[]string{"--v_s16", "-32768"}, map[string][]byte{"v_s16": ne(int16(math.MinInt16))}},
		{[]string{"--v_u32", "4294967295"}, map[string][]byte{"v_u32": ne(uint32(math.MaxUint32))}},
		{[]string{"--v_s32", "-2147483648"}, map[string][]byte{"v_s32": ne(int32(math.MinInt32))}},
		{[]string{"--v_u64", "18446744073709551615"}, map[string][]byte{"v_u64": ne(uint64(math.MaxUint64))}},
		{[]string{"--v_s64", "-9223372036854775808"}, map[string][]byte{"v_s64": ne(int64(math.MinInt64))}},
		{[]string{"--v_s64", "0x7fffffffffffffff"}, map[string][]byte{"v_s64": ne(int64(math.MaxInt64))}},
		{[]string{"--v_char", "a"}, map[string][]byte{"v_char": {'a'}}},
		{[]string{"--v_char", "65"}, map[string][]byte{"v_char": {65}}},
		{[]string{"--v_char=-1"}, map[string][]byte{"v_char": {0xff}}},
		{[]string{"--v_u128", "0xffffffffffffffffffffffffffffffff"}, map[string][]byte{"v_u128": u128(math.MaxUint64, math.MaxUint64)}},
		{[]string{"--v_u128", "18446744073709551616"}, map[string][]byte{"v_u128": u128(1, 0)}},
		// bool
		{[]string{"--verbose"}, map[string][]byte{"verbose": {1}}},
		{[]string{"--verbose=false"}, map[string][]byte{"verbose": {0}}},
		{[]string{"--verbose=YES"}, map[string][]byte{"verbose": {1}}},
		{[]string{"--enable-verbose"}, map[string][]byte{"verbose": {1}}},
		{[]string{"--enable_verbose", "--disable-verbose"}, map[string][]byte{"verbose": {0}}},
		{[]string{"--disable-on_by_default"}, map[string][]byte{"on_by_default": {0}}},
		{[]string{"--disable-on-by-default"}, map[string][]byte{"on_by_default": {0}}},
		{[]string{"--on-by-default=no"}, map[string][]byte{"on_by_default": {0}}},
		{[]string{"--on_by_default=0"}, map[string][]byte{"on_by_default": {0}}},
		{[]string{"-a=false"}, map[string][]byte{"show_args": {0}}},
		{[]string{"--disable-args"}, map[string][]byte{"show_args": {0}}},
		{[]string{"--args=1"}, map[string][]byte{"show_args": {1}}},
		{[]string{"--seen"}, map[string][]byte{"seen": {1}}},
		// short clusters
		{[]string{"-ap5"}, map[string][]byte{"show_args": {1}, "targ_pid": ne(int32(5))}},
		{[]string{"-a=0", "-czsh"}, map[string][]byte{"show_args": {0}, "comm": str("zsh", 16)}},
		{[]string{"-ac", "sh"}, map[string][]byte{"show_args": {1}, "comm": str("sh", 16)}},
		// strings
		{[]string{"-c", "zsh"}, map[string][]byte{"comm": str("zsh", 16)}},
		{[]string{"--comm="}, map[string][]byte{"comm": str("", 16)}},
		{[]string{"--comm", "abcdefghijklmno"}, map[string][]byte{"comm": str("abcdefghijklmno", 16)}},
		{[]string{"--comm=-bash"}, map[string][]byte{"comm": str("-bash", 16)}},
		{[]string{"--ucomm", "abcdefg"}, map[string][]byte{"ucomm": str("abcdefg", 8)}},
		{[]string{"--scomm", "abc"}, map[string][]byte{"scomm": str("abc", 4)}},
		// enums
		{[]string{"--color", "BLUE"}, map[string][]byte{"color": ne(uint32(6))}},
		{[]string{"--color", "blue"}, map[string][]byte{"color": ne(uint32(10))}},
		{[]string{"--color", "green"}, map[string][]byte{"color": ne(uint32(5))}},
		{[]string{"--color", "RED"}, map[string][]byte{"color": ne(uint32(0))}},
		{[]string{"--color", "9"}, map[string][]byte{"color": ne(uint32(9))}},
		{[]string{"--color", "100"}, map[string][]byte{"color": ne(uint32(100))}},
		{[]string{"--level", "LVL_LOW"}, map[string][]byte{"level": ne(int32(-1))}},
		{[]string{"--level", "lvl_mid"}, map[string][]byte{"level": ne(int32(0))}},
		{[]string{"--level", "-5"}, map[string][]byte{"level": ne(int32(-5))}},
		{[]string{"--big", "BIG_MAX"}, map[string][]byte{"big": ne(uint64(math.MaxUint64))}},
		{[]string{"--big", "big_small"}, map[string][]byte{"big": ne(uint64(1))}},
		{[]string{"--big", "0x200000000"}, map[string][]byte{"big": ne(uint64(2 << 32))}},
		// typedef chain
		{[]string{"--pid2", "4294967295"}, map[string][]byte{"pid2": ne(uint32(math.MaxUint32))}},
		// floats
		{[]string{"--ratio", "0.1"}, map[string][]byte{"ratio": ne(float32(0.1))}},
		{[]string{"--ratio=-inf"}, map[string][]byte{"ratio": ne(float32(math.Inf(-1)))}},
		{[]string{"--scale", "-1e300"}, map[string][]byte{"scale": ne(-1e300)}},
		{[]string{"--scale", "0.5"}, map[string][]byte{"scale": ne(0.5)}},
		// arrays
		{[]string{"--ints", "5,-6,7"}, map[string][]byte{"ints": cat(ne(int32(5)), ne(int32(-6)), ne(int32(7)), ne(int32(0)))}},
		{[]string{"--ints", " 1, 2 ,0x3,4"}, map[string][]byte{"ints": cat(ne(int32(1)), ne(int32(2)), ne(int32(3)), ne(int32(4)))}},
		{[]string{"--ints="}, map[string][]byte{"ints": make([]byte, 16)}},
		{[]string{"--ports", "22,80,443"}, map[string][]byte{"ports": cat(ne(uint16(22)), ne(uint16(80)), ne(uint16(443)))}},
		{[]string{"--addr", "10,0,0,255"}, map[string][]byte{"addr": {10, 0, 0, 255}}},
		{[]string{"--bits", "false,yes"}, map[string][]byte{"bits": {0, 1}}},
		// other sections
		{[]string{"--min-duration", "100"}, map[string][]byte{"min_duration_ns": ne(uint64(100))}},
		{[]string{"--min_duration", "5"}, map[string][]byte{"min_duration_ns": ne(uint64(5))}},
		{[]string{"--counter", "-1"}, map[string][]byte{"counter": ne(int32(-1))}},
		{[]string{"--data_x", "9"}, map[string][]byte{"data_x": ne(uint32(9))}},
		{[]string{"--hits", "5"}, map[string][]byte{"hits": ne(uint64(5))}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			s, spec := newSet(t)
			if err := s.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if err := s.Apply(spec); err != nil {
				t.Fatal(err)
			}
			got := values(spec)
			for name, b := range base {
				want := b
				if w, ok := tt.want[name]; ok {
					want = w
				}
				if !bytes.Equal(got[name], want) {
					t.Errorf("%s = %x, want %x", name, got[name], want)
				}
			}
			for name := range tt.want {
				if _, ok := base[name]; !ok {
					t.Errorf("test wants unknown variable %s", name)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const see = "; see 'ecli run PACKAGE --help'"
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--foo"}, "unknown flag --foo" + see},
		{[]string{"--foo=1"}, "unknown flag --foo" + see},
		{[]string{"--pidd", "1"}, "unknown flag --pidd (did you mean --pid?)" + see},
		{[]string{"--ui", "1"}, "unknown flag --ui" + see}, // not close enough to --pid to guess
		{[]string{"--verbos"}, "unknown flag --verbos (did you mean --verbose?)" + see},
		{[]string{"--enable-verbos"}, "unknown flag --enable-verbos (did you mean --enable-verbose?)" + see},
		{[]string{"--targ_pid", "1"}, "unknown flag --targ_pid (did you mean --pid?)" + see},
		{[]string{"--targ-pid=1"}, "unknown flag --targ-pid (did you mean --pid?)" + see},
		{[]string{"--min-duration-ns", "1"}, "unknown flag --min-duration-ns (did you mean --min-duration?)" + see},
		{[]string{"--zzzzzz"}, "unknown flag --zzzzzz" + see},
		{[]string{"--hlep"}, "unknown flag --hlep (did you mean --help?)" + see},
		{[]string{"-x"}, "unknown flag -x" + see},
		{[]string{"-ax"}, "unknown flag -x" + see},
		{[]string{"--pid", "abc"}, `--pid expects int (a decimal or 0x hex number), got "abc"`},
		{[]string{"--pid", "1.5"}, `--pid expects int (a decimal or 0x hex number), got "1.5"`},
		{[]string{"--pid="}, `--pid expects int (a decimal or 0x hex number), got ""`},
		{[]string{"--pid", "2147483648"}, "--pid: 2147483648 is out of range for int (-2147483648..2147483647)"},
		{[]string{"-P", "70000"}, "--v_u16: 70000 is out of range for u16 (0..65535)"},
		{[]string{"--v_u16", "-1"}, "--v_u16: -1 is out of range for u16 (0..65535)"},
		{[]string{"--v_u8", "256"}, "--v_u8: 256 is out of range for u8 (0..255)"},
		{[]string{"--v_u8", "ab"}, `--v_u8 expects u8 (a number or a single character), got "ab"`},
		{[]string{"--v_s8", "128"}, "--v_s8: 128 is out of range for s8 (-128..127)"},
		{[]string{"--v_u64", "-1"}, "--v_u64: -1 is out of range for u64 (0..18446744073709551615)"},
		{[]string{"--v_s64", "9223372036854775808"}, "--v_s64: 9223372036854775808 is out of range for s64 (-9223372036854775808..9223372036854775807)"},
		{[]string{"--v_u128", "-1"}, "--v_u128: -1 is out of range for unsigned __int128 (0..340282366920938463463374607431768211455)"},
		{[]string{"--pid2", "0x100000000"}, "--pid2: 0x100000000 is out of range for pid2_t (0..4294967295)"},
		{[]string{"--comm", "abcdefghijklmnopqrst"}, `--comm: "abcdefghijklmnopqrst" is 20 bytes, char[16] holds at most 15`},
		{[]string{"--comm", "abcdefghijklmnop"}, `--comm: "abcdefghijklmnop" is 16 bytes, char[16] holds at most 15`},
		{[]string{"--scomm", "abcd"}, `--scomm: "abcd" is 4 bytes, signed char[4] holds at most 3`},
		{[]string{"--color", "purple"}, `--color: unknown value "purple" for enum color; valid names: RED, GREEN, BLUE, Blue2, blue`},
		{[]string{"--color", "Blue"}, `--color: "Blue" matches BLUE and blue; write the exact name`},
		{[]string{"--color", "4294967296"}, "--color: 4294967296 is out of range for enum color (0..4294967295)"},
		{[]string{"--color", "-1"}, "--color: -1 is out of range for enum color (0..4294967295)"},
		{[]string{"--level", "2147483648"}, "--level: 2147483648 is out of range for enum level (-2147483648..2147483647)"},
		{[]string{"--big", "-1"}, "--big: -1 is out of range for enum big (0..18446744073709551615)"},
		{[]string{"--ratio", "abc"}, `--ratio expects float (a decimal number), got "abc"`},
		{[]string{"--ratio", "1e40"}, "--ratio: 1e40 is out of range for float"},
		{[]string{"--scale", "1e400"}, "--scale: 1e400 is out of range for double"},
		{[]string{"--verbose=maybe"}, `--verbose expects bool (true, false, 1, 0, yes or no), got "maybe"`},
		{[]string{"--verbose="}, `--verbose expects bool (true, false, 1, 0, yes or no), got ""`},
		{[]string{"--enable-verbose=1"}, "--enable-verbose takes no value"},
		{[]string{"--enable-pid"}, "--enable-pid: --pid is not a bool flag; write --pid=VALUE"},
		{[]string{"--ints", "1,2,3,4,5"}, "--ints: 5 values given, int[4] holds at most 4"},
		{[]string{"--ints", "1,,3"}, `--ints: element 2 expects int (a decimal or 0x hex number), got ""`},
		{[]string{"--ports", "1,x"}, `--ports: element 2 expects u16 (a decimal or 0x hex number), got "x"`},
		{[]string{"--ports", "1,70000"}, "--ports: element 2: 70000 is out of range for u16 (0..65535)"},
		{[]string{"--addr", "1,2,3,256"}, "--addr: element 4: 256 is out of range for u8 (0..255)"},
		{[]string{"--bits", "true,maybe"}, `--bits: element 2 expects bool (true, false, 1, 0, yes or no), got "maybe"`},
		{[]string{"--cfg", "x"}, "--cfg: struct config cannot be set from the command line"},
		{[]string{"--cfg"}, "--cfg: struct config cannot be set from the command line"},
		{[]string{"--either=1"}, "--either: union either cannot be set from the command line"},
		{[]string{"--ptr", "0"}, "--ptr: u64 * cannot be set from the command line"},
		{[]string{"--names", "a,b"}, "--names: char[2][8] cannot be set from the command line"},
		{[]string{"--pid"}, "--pid needs a value (int)"},
		{[]string{"-p"}, "--pid needs a value (int)"},
		{[]string{"--comm", "--pid", "5"}, "--comm needs a value (char[16]), got flag --pid; write --comm=VALUE for a value that begins with -"},
		{[]string{"foo"}, `unexpected argument "foo"; program flags begin with - or --`},
		{[]string{"-"}, `unexpected argument "-"; program flags begin with - or --`},
		{[]string{"--verbose", "false"}, `unexpected argument "false"; a bool flag takes its value after =, as in --verbose=false`},
		{[]string{"--", "x"}, `unexpected argument "x"`},
		{[]string{"--pid", "1", "--", "--pid", "2"}, `unexpected argument "--pid"`},
	}
	s, _ := newSet(t)
	for _, tt := range tests {
		err := s.Parse(tt.args)
		if err == nil {
			t.Errorf("Parse(%q) = nil, want %s", tt.args, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Parse(%q):\n got %s\nwant %s", tt.args, err, tt.want)
		}
		// Every one is a *ParseError: the command line's fault.
		var pe *progflags.ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q): %#v is not a *ParseError", tt.args, err)
		}
		// Unknown flags are an *UnknownFlagError naming the flag.
		var uf *progflags.UnknownFlagError
		if isUnknown := strings.HasPrefix(tt.want, "unknown flag "); isUnknown != errors.As(err, &uf) {
			t.Errorf("Parse(%q): %#v, want an *UnknownFlagError: %v", tt.args, err, isUnknown)
		} else if isUnknown && !strings.HasPrefix(tt.want, "unknown flag "+uf.Flag+" ") && !strings.HasPrefix(tt.want, "unknown flag "+uf.Flag+";") {
			t.Errorf("Parse(%q): UnknownFlagError.Flag = %q", tt.args, uf.Flag)
		}
	}
}

func TestHelpRequested(t *testing.T) {
	s, _ := newSet(t)
	for _, args := range [][]string{{"--help"}, {"-h"}, {"--pid", "1", "-h"}, {"-ah"}} {
		if err := s.Parse(args); !errors.Is(err, progflags.ErrHelp) {
			t.Errorf("Parse(%q) = %v, want ErrHelp", args, err)
		}
	}
	// After --, -h is an argument.
	if err := s.Parse([]string{"--", "-h"}); err == nil || errors.Is(err, progflags.ErrHelp) {
		t.Errorf(`Parse("--", "-h") = %v, want an unexpected argument`, err)
	}
}

func TestShortHClaimed(t *testing.T) {
	m, spec := fixture(t)
	setCmdarg(t, m, "v_u8", `{"short": "h"}`)
	s, err := progflags.New(m, spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Parse([]string{"-h", "5"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(spec); err != nil {
		t.Fatal(err)
	}
	if got := spec.Variables["v_u8"].Value; !bytes.Equal(got, []byte{5}) {
		t.Errorf("v_u8 = %x, want 05", got)
	}
	if err := s.Parse([]string{"--help"}); !errors.Is(err, progflags.ErrHelp) {
		t.Errorf("--help = %v, want ErrHelp", err)
	}
}

func TestFlags(t *testing.T) {
	s, _ := newSet(t)
	type row struct {
		Name, Short, Var, Section, Type string
		Kind                            progflags.Kind
		Default, Help                   string
		Len                             int
		Enumerators                     []string
	}
	got := map[string]row{}
	var order []string
	for _, f := range s.Flags() {
		got[f.Var] = row{f.Name, f.Short, f.Var, f.Section, f.Type, f.Kind, f.Default, f.Help, f.Len, f.Enumerators}
		order = append(order, f.Var)
	}
	want := []row{
		{"pid", "p", "targ_pid", ".rodata", "int", progflags.Int, "0", "Process ID to trace", 0, nil},
		{"v_u8", "", "v_u8", ".rodata", "u8", progflags.Int, "200", "set v_u8 (u8)", 0, nil},
		{"v_u16", "P", "v_u16", ".rodata", "u16", progflags.Int, "8080", "port to watch", 0, nil},
		{"v_char", "", "v_char", ".rodata", "char", progflags.Int, "120", "set v_char (char)", 0, nil},
		{"v_u128", "", "v_u128", ".rodata", "unsigned __int128", progflags.Int, "1", "set v_u128 (unsigned __int128)", 0, nil},
		{"verbose", "", "verbose", ".rodata", "bool", progflags.Bool, "false", "Print more", 0, nil},
		{"args", "a", "show_args", ".rodata", "bool", progflags.Bool, "true", "set show_args (bool)", 0, nil},
		{"comm", "c", "comm", ".rodata", "char[16]", progflags.String, `"bash"`, "Command name to match", 16, nil},
		{"ucomm", "", "ucomm", ".rodata", "unsigned char[8]", progflags.String, `""`, "set ucomm (unsigned char[8])", 8, nil},
		{"color", "", "color", ".rodata", "enum color", progflags.Enum, "GREEN", "set color (enum color)", 0, []string{"RED", "GREEN", "BLUE", "Blue2", "blue"}},
		{"level", "", "level", ".rodata", "enum level", progflags.Enum, "LVL_HIGH", "set level (enum level)", 0, []string{"LVL_LOW", "LVL_MID", "LVL_HIGH"}},
		{"big", "", "big", ".rodata", "enum big", progflags.Enum, "BIG_HUGE", "set big (enum big)", 0, []string{"BIG_SMALL", "BIG_HUGE", "BIG_MAX"}},
		{"pid2", "", "pid2", ".rodata", "pid2_t", progflags.Int, "42", "set pid2 (pid2_t)", 0, nil},
		{"ratio", "", "ratio", ".rodata", "float", progflags.Float, "1.5", "set ratio (float)", 0, nil},
		{"scale", "", "scale", ".rodata", "double", progflags.Float, "2.25", "set scale (double)", 0, nil},
		{"ints", "", "ints", ".rodata", "int[4]", progflags.Array, "1,2,3,4", "set ints (int[4])", 4, nil},
		{"ports", "", "ports", ".rodata", "u16[3]", progflags.Array, "22,0,0", "set ports (u16[3])", 3, nil},
		{"bits", "", "bits", ".rodata", "bool[2]", progflags.Array, "true,false", "set bits (bool[2])", 2, nil},
		{"names", "", "names", ".rodata", "char[2][8]", progflags.Unsettable, "", "names (char[2][8]), not settable from the command line", 0, nil},
		{"cfg", "", "cfg", ".rodata", "struct config", progflags.Unsettable, "", "Configuration block", 0, nil},
		{"either", "", "either", ".rodata", "union either", progflags.Unsettable, "", "either (union either), not settable from the command line", 0, nil},
		{"counter", "", "counter", ".data", "int", progflags.Int, "5", "events counted so far", 0, nil},
		{"hits", "", "hits", ".bss", "u64", progflags.Int, "0", "set hits (u64)", 0, nil},
		{"seen", "", "seen", ".bss", "bool", progflags.Bool, "false", "set seen (bool)", 0, nil},
		{"ptr", "", "ptr", ".bss", "u64 *", progflags.Unsettable, "", "ptr (u64 *), not settable from the command line", 0, nil},
		{"min-duration", "", "min_duration_ns", ".rodata.extra", "u64", progflags.Int, "16", "set min_duration_ns (u64)", 0, nil},
		{"data_x", "", "data_x", ".data.extra", "u32", progflags.Int, "7", "set data_x (u32)", 0, nil},
	}
	for _, w := range want {
		g, ok := got[w.Var]
		if !ok {
			t.Errorf("no flag for %s", w.Var)
			continue
		}
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		if string(gj) != string(wj) {
			t.Errorf("flag of %s:\n got %s\nwant %s", w.Var, gj, wj)
		}
	}
	if len(order) != 36 {
		t.Errorf("%d flags, want 36 (one per global)", len(order))
	}
	if order[0] != "targ_pid" || order[len(order)-1] != "data_x" {
		t.Errorf("flags are not in metadata order: %v", order)
	}
	if f := s.Lookup("min_duration"); f == nil || f.Var != "min_duration_ns" {
		t.Errorf("Lookup(min_duration) = %v", f)
	}
	if f := s.Lookup("targ_pid"); f != nil {
		t.Errorf("Lookup(targ_pid) = %v, want nil (renamed by @cmdarg long)", f.Name)
	}
}

func TestValueAndChanged(t *testing.T) {
	s, _ := newSet(t)
	if err := s.Parse([]string{"--pid", "3"}); err != nil {
		t.Fatal(err)
	}
	byVar := map[string]*progflags.Flag{}
	for _, f := range s.Flags() {
		byVar[f.Var] = f
	}
	check := func(v string, changed bool, want []byte) {
		t.Helper()
		f := byVar[v]
		if f.Changed() != changed || !bytes.Equal(f.Value(), want) || (want == nil) != (f.Value() == nil) {
			t.Errorf("%s: Changed %v Value %x, want %v %x", v, f.Changed(), f.Value(), changed, want)
		}
	}
	check("targ_pid", true, ne(int32(3)))
	check("color", false, ne(uint32(5))) // @cmdarg default GREEN differs from RED
	check("min_duration_ns", false, nil) // @cmdarg default 0x10 equals the object's 16
	check("verbose", false, nil)         // no default
	check("show_args", false, []byte{1}) // @cmdarg default true
	check("cfg", false, nil)             // unsettable
	if err := s.Parse(nil); err != nil { // a new Parse forgets the old values
		t.Fatal(err)
	}
	check("targ_pid", false, nil)
}

func TestApplyToCopy(t *testing.T) {
	s, spec := newSet(t)
	if err := s.Parse([]string{"-c", "top", "--hits", "1"}); err != nil {
		t.Fatal(err)
	}
	cp := spec.Copy()
	if err := s.Apply(cp); err != nil {
		t.Fatal(err)
	}
	if got := cp.Variables["comm"].Value; !bytes.Equal(got, str("top", 16)) {
		t.Errorf("copy comm = %q", got)
	}
	if got := spec.Variables["comm"].Value; !bytes.Equal(got, str("bash", 16)) {
		t.Errorf("original comm changed to %q", got)
	}
	delete(cp.Variables, "hits")
	if err := s.Apply(cp); err == nil || err.Error() != "set --hits: the BPF object has no global hits" {
		t.Errorf("Apply without hits = %v", err)
	}
}

// setCmdarg replaces the @cmdarg of a variable of the metadata.
func setCmdarg(t *testing.T, m *packager.Meta, name, js string) {
	t.Helper()
	for i := range m.BpfSkel.DataSections {
		vars := m.BpfSkel.DataSections[i].Variables
		for j := range vars {
			if vars[j].Name == name {
				var ca packager.Cmdarg
				if err := json.Unmarshal([]byte(js), &ca); err != nil {
					t.Fatal(err)
				}
				vars[j].Cmdarg = &ca
				return
			}
		}
	}
	t.Fatalf("no variable %s in the metadata", name)
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(*testing.T, *packager.Meta, *ebpf.CollectionSpec)
		want string
	}{
		{"duplicate long", func(t *testing.T, m *packager.Meta, _ *ebpf.CollectionSpec) {
			setCmdarg(t, m, "v_u8", `{"long": "pid"}`)
		}, "globals targ_pid and v_u8 both use flag --pid"},
		{"duplicate long with dashes", func(t *testing.T, m *packager.Meta, _ *ebpf.CollectionSpec) {
			setCmdarg(t, m, "v_u8", `{"long": "min_duration"}`)
		}, "globals v_u8 and min_duration_ns both use flag --min-duration"},
		{"long equal to another variable's name", func(t *testing.T, m *packager.Meta, _ *ebpf.CollectionSpec) {
			setCmdarg(t, m, "hits", `{"long": "v-u16"}`)
		}, "globals v_u16 and hits both use flag --v-u16"},
		{"duplicate short", func(t *testing.T, m *packager.Meta, _ *ebpf.CollectionSpec) {
			setCmdarg(t, m, "hits", `{"short": "p"}`)
		}, "globals targ_pid and hits both use flag -p"},
		{"long short", func(t *testing.T, m *packager.Meta, _ *ebpf.CollectionSpec) {
			setCmdarg(t, m, "v_u8", `{"short": "ab"}`)
		}, `global v_u8: @cmdarg short "ab" must be one character`},
		{"reserved help", func(t *testing.T, m *packager.Meta, _ *ebpf.CollectionSpec) {
			setCmdarg(t, m, "v_u8", `{"long": "help"}`)
		}, "global v_u8: flag --help is reserved for help; choose another @cmdarg long"},
		{"bad long", func(t *testing.T, m *packager.Meta, _ *ebpf.CollectionSpec) {
			setCmdarg(t, m, "v_u8", `{"long": "a b"}`)
		}, `global v_u8: @cmdarg long "a b" is not a valid flag name`},
		{"default out of range", func(t *testing.T, m *packager.Meta, _ *ebpf.CollectionSpec) {
			setCmdarg(t, m, "v_u16", `{"default": 70000}`)
		}, "global v_u16: @cmdarg default: 70000 is out of range for u16 (0..65535)"},
		{"default bad enum", func(t *testing.T, m *packager.Meta, _ *ebpf.CollectionSpec) {
			setCmdarg(t, m, "color", `{"default": "PURPLE"}`)
		}, `global color: @cmdarg default: unknown value "PURPLE" for enum color; valid names: RED, GREEN, BLUE, Blue2, blue`},
		{"default object", func(t *testing.T, m *packager.Meta, _ *ebpf.CollectionSpec) {
			setCmdarg(t, m, "v_u8", `{"default": {"x": 1}}`)
		}, `global v_u8: @cmdarg default {"x": 1} does not fit u8`},
		{"default for struct", func(t *testing.T, m *packager.Meta, _ *ebpf.CollectionSpec) {
			setCmdarg(t, m, "cfg", `{"default": {}}`)
		}, "global cfg: @cmdarg default {}: struct config cannot be set"},
		{"default bool for int", func(t *testing.T, m *packager.Meta, _ *ebpf.CollectionSpec) {
			setCmdarg(t, m, "hits", `{"default": true}`)
		}, `global hits: @cmdarg default expects u64 (a decimal or 0x hex number), got "true"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, spec := fixture(t)
			tt.edit(t, m, spec)
			_, err := progflags.New(m, spec)
			if err == nil || err.Error() != tt.want {
				t.Errorf("New = %v\nwant %s", err, tt.want)
			}
		})
	}
	if _, err := progflags.New(nil, nil); err == nil {
		t.Error("New(nil, nil) succeeded")
	}
}

// Packages built before statics were left out list them (static zero
// values, func.empty, bpf_printk's ____fmt); they are neither flags nor a
// reason to refuse the package.
func TestStaticsListedByOldPackagesAreSkipped(t *testing.T) {
	m, spec := fixture(t)
	delete(spec.Variables, "hits")
	m.BpfSkel.DataSections[0].Variables = append(m.BpfSkel.DataSections[0].Variables,
		packager.Variable{Name: "handle_exec.____fmt", Type: "char[12]"},
		packager.Variable{Name: "zero", Type: "struct hist"})
	s, err := progflags.New(m, spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"hits", "handle_exec.____fmt", "zero"} {
		if s.Lookup(name) != nil {
			t.Errorf("%s became a flag", name)
		}
	}
	skipped := slices.Sorted(slices.Values(s.Skipped()))
	if got := strings.Join(skipped, " "); got != "handle_exec.____fmt hits zero" {
		t.Errorf("Skipped = %q", got)
	}
	if s.Lookup("v_u8") == nil {
		t.Error("the other flags are gone")
	}
}

func TestNoBTF(t *testing.T) {
	m, spec := fixture(t)
	spec.Variables["hits"].Type = nil
	s, err := progflags.New(m, spec)
	if err != nil {
		t.Fatal(err)
	}
	f := s.Lookup("hits")
	if f.Settable() || f.Type != "u64" || f.Default != "" {
		t.Errorf("flag without BTF: settable %v type %q default %q", f.Settable(), f.Type, f.Default)
	}
	if err := s.Parse([]string{"--hits", "1"}); err == nil || err.Error() != "--hits: u64 cannot be set from the command line" {
		t.Errorf("Parse = %v", err)
	}
}

func TestDefaults(t *testing.T) {
	m, spec := fixture(t)
	setCmdarg(t, m, "ints", `{"default": [9, -8]}`)
	setCmdarg(t, m, "ports", `{"default": "1,2,3"}`)
	setCmdarg(t, m, "comm", `{"default": "sshd"}`)
	setCmdarg(t, m, "level", `{"default": -1}`)
	setCmdarg(t, m, "ratio", `{"default": "0x1p-2"}`)
	setCmdarg(t, m, "seen", `{"default": "yes"}`)
	setCmdarg(t, m, "v_char", `{"default": "z"}`)
	setCmdarg(t, m, "hits", `{"default": null}`)
	// Injected variables are skipped even when the object lacks them.
	m.BpfSkel.DataSections[0].Variables = append(m.BpfSkel.DataSections[0].Variables,
		packager.Variable{Name: "__ecc_dummy_event_ptr", Type: "struct event *"},
		packager.Variable{Name: "__eunomia_dummy_event_ptr", Type: "struct event *"})
	s, err := progflags.New(m, spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Parse([]string{"--comm", "cron"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(spec); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{
		"ints":   cat(ne(int32(9)), ne(int32(-8)), ne(int32(0)), ne(int32(0))),
		"ports":  cat(ne(uint16(1)), ne(uint16(2)), ne(uint16(3))),
		"comm":   str("cron", 16), // the command line wins over @cmdarg default
		"level":  ne(int32(-1)),
		"ratio":  ne(float32(0.25)),
		"seen":   {1},
		"v_char": {'z'},
		"hits":   ne(uint64(0)),
	}
	for name, w := range want {
		if got := spec.Variables[name].Value; !bytes.Equal(got, w) {
			t.Errorf("%s = %x, want %x", name, got, w)
		}
	}
	defaults := map[string]string{}
	for _, f := range s.Flags() {
		defaults[f.Var] = f.Default
	}
	wantDef := map[string]string{"ints": "9,-8,0,0", "ports": "1,2,3", "comm": `"sshd"`, "level": "LVL_LOW", "ratio": "0.25", "seen": "true", "v_char": "122", "hits": "0"}
	for name, w := range wantDef {
		if defaults[name] != w {
			t.Errorf("Default of %s = %q, want %q", name, defaults[name], w)
		}
	}
}

func TestHelp(t *testing.T) {
	s, _ := newSet(t)
	var buf bytes.Buffer
	s.WriteHelp(&buf, "ecli run ./globals.json")
	golden := filepath.Join("testdata", "help.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if buf.String() != string(want) {
		t.Errorf("help differs from %s (go test -run TestHelp -update rewrites it):\n%s", golden, buf.String())
	}
}

func TestHelpWithoutDocOrFlags(t *testing.T) {
	m := &packager.Meta{BpfSkel: packager.Skeleton{ObjName: "empty_bpf"}}
	s, err := progflags.New(m, &ebpf.CollectionSpec{})
	if err != nil {
		t.Fatal(err)
	}
	s.RuntimeHelp = "RUNTIME"
	var buf bytes.Buffer
	s.WriteHelp(&buf, "")
	want := `empty

Usage: ecli run PACKAGE [FLAGS]

Flags:
  FLAG        TYPE  DEFAULT  HELP
  -h, --help                 show this help

- and _ are alike in flag names; a value that begins with - (other than a number) needs =, as in --NAME=-VALUE.
RUNTIME
`
	if buf.String() != want {
		t.Errorf("help:\n%s\nwant:\n%s", buf.String(), want)
	}
	if err := s.Parse([]string{"--x"}); err == nil || err.Error() != "unknown flag --x; see 'ecli run PACKAGE --help'" {
		t.Errorf("Parse = %v", err)
	}
	s.Command = "ecli run ./p.json"
	if err := s.Parse([]string{"--x"}); err == nil || err.Error() != "unknown flag --x; see 'ecli run ./p.json --help'" {
		t.Errorf("Parse = %v", err)
	}
}

// FuzzParse checks that no argument list panics, that a successful Parse
// yields values of the variables' sizes that Apply accepts, and that
// numbers, bools and enums print back to the same bytes.
func FuzzParse(f *testing.F) {
	s, spec := newSet(f)
	for _, seed := range []string{
		"--pid\x001", "-ap5", "--comm=bash", "--color\x00Blue", "--ints\x001,2,3",
		"--verbose=no", "--enable-verbose", "--v_u128\x00-0x1", "--ratio\x00nan",
		"--\x00x", "-h", "--bits\x00true,0", "--level\x00-1", "-c", "--big\x00BIG_MAX",
	} {
		f.Add(seed)
	}
	flags := s.Flags()
	f.Fuzz(func(t *testing.T, in string) {
		args := strings.Split(in, "\x00")
		if err := s.Parse(args); err != nil {
			return
		}
		for _, fl := range flags {
			if b := fl.Value(); b != nil && len(b) != len(spec.Variables[fl.Var].Value) {
				t.Fatalf("--%s: %d bytes for a %d-byte variable", fl.Name, len(b), len(spec.Variables[fl.Var].Value))
			}
		}
		if err := s.Apply(spec.Copy()); err != nil {
			t.Fatal(err)
		}
		for _, fl := range flags {
			if !fl.Changed() {
				continue
			}
			switch fl.Kind {
			case progflags.Int, progflags.Bool, progflags.Enum, progflags.Array:
				b, text := fl.Value(), fl.Effective()
				if err := s.Parse([]string{"--" + fl.Name + "=" + text}); err != nil {
					t.Fatalf("--%s=%s does not parse back: %v", fl.Name, text, err)
				}
				if again := fl.Value(); !bytes.Equal(again, b) {
					t.Fatalf("--%s: %x prints as %s, which parses to %x", fl.Name, b, text, again)
				}
				return // Parse forgot the other flags
			}
		}
	})
}
