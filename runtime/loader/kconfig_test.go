package loader

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/internal/bpfobj"
	"github.com/ecc-bpf/ecc/internal/testenv"
)

func TestParseKernelConfig(t *testing.T) {
	m, err := parseKernelConfig([]byte(`#
# Automatically generated file; DO NOT EDIT.
#
CONFIG_CC_VERSION_TEXT="gcc (GCC) 15.3.0"
CONFIG_BPF_SYSCALL=y
CONFIG_MODULE_X=m
# CONFIG_KPROBES is not set
CONFIG_HZ=250
CONFIG_PHYSICAL_START=0x1000000

# end of General setup
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"CONFIG_CC_VERSION_TEXT": `"gcc (GCC) 15.3.0"`, "CONFIG_BPF_SYSCALL": "y", "CONFIG_MODULE_X": "m",
		"CONFIG_KPROBES": notSet, "CONFIG_HZ": "250", "CONFIG_PHYSICAL_START": "0x1000000"}
	if len(m) != len(want) {
		t.Errorf("got %v", m)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	for _, bad := range []string{"CONFIG_X\n", "FOO=1\n", "CONFIG_Y=\n", "\x00\x01garbage\n"} {
		if _, err := parseKernelConfig([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestReadConfigFile(t *testing.T) {
	dir := t.TempDir()
	text := "CONFIG_A=y\n"
	plain := filepath.Join(dir, "config")
	os.WriteFile(plain, []byte(text), 0o644)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(text))
	zw.Close()
	packed := filepath.Join(dir, "config.gz")
	os.WriteFile(packed, gz.Bytes(), 0o644)
	for _, p := range []string{plain, packed} {
		if b, err := readConfigFile(p); err != nil || string(b) != text {
			t.Errorf("%s: %q %v", p, b, err)
		}
	}
	// A config file is small: a huge one (or a gzip bomb) is refused
	// after maxKernelConfig bytes.
	huge := filepath.Join(dir, "huge.gz")
	var hb bytes.Buffer
	zw = gzip.NewWriter(&hb)
	zw.Write(bytes.Repeat([]byte("# padding\n"), maxKernelConfig/10+10))
	zw.Close()
	os.WriteFile(huge, hb.Bytes(), 0o644)
	if _, err := readConfigFile(huge); err == nil || !strings.Contains(err.Error(), "not a kernel config") {
		t.Errorf("huge config: %v", err)
	}
	if _, err := readConfigFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestKernelVersion(t *testing.T) {
	for _, c := range []struct {
		release, version, signature string
		want                        uint32
	}{
		{"6.18.44-fc-v1272", "#1 SMP PREEMPT_DYNAMIC @0", "", 6<<16 | 18<<8 | 44},
		{"5.4.300", "", "", 5<<16 | 4<<8 | 255}, // clamped like KERNEL_VERSION
		{"6.1", "", "", 6<<16 | 1<<8},
		{"4.19.0-17-amd64", "#1 SMP Debian 4.19.194-3 (2021-07-18)", "", 4<<16 | 19<<8 | 194},
		{"5.4.0-42-generic", "#46-Ubuntu SMP", "Ubuntu 5.4.0-42.46-generic 5.4.44", 5<<16 | 4<<8 | 44},
	} {
		h := &kconfigHost{release: c.release, version: c.version, signature: c.signature}
		got, err := h.kernelVersion()
		if err != nil || got != c.want {
			t.Errorf("%q %q %q: %#x %v, want %#x", c.release, c.version, c.signature, got, err, c.want)
		}
	}
	if _, err := (&kconfigHost{release: "garbage"}).kernelVersion(); err == nil {
		t.Error("garbage release accepted")
	}
}

var (
	tBool  = &btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}
	tChar  = &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	tS8    = &btf.Int{Name: "signed char", Size: 1, Encoding: btf.Signed}
	tU16   = &btf.Int{Name: "unsigned short", Size: 2}
	tS32   = &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	tU32   = &btf.Int{Name: "unsigned int", Size: 4}
	tS64   = &btf.Int{Name: "long", Size: 8, Encoding: btf.Signed}
	tU64   = &btf.Int{Name: "unsigned long", Size: 8}
	tTri   = &btf.Enum{Name: "libbpf_tristate", Size: 4, Values: []btf.EnumValue{{Name: "TRI_NO"}, {Name: "TRI_YES", Value: 1}, {Name: "TRI_MODULE", Value: 2}}}
	tTd    = &btf.Typedef{Name: "__u32", Type: tU32}
	tConst = &btf.Const{Type: &btf.Volatile{Type: &btf.Typedef{Name: "__u64", Type: tU64}}}
	tStr   = &btf.Array{Index: tU32, Type: tChar, Nelems: 8}
)

func TestPutConfig(t *testing.T) {
	le := binary.LittleEndian
	for _, c := range []struct {
		typ   btf.Type
		value string
		want  []byte // nil: an error
	}{
		{tBool, "y", []byte{1}},
		{tBool, "n", []byte{0}},
		{tBool, "m", nil},
		{tBool, "5", []byte{1}},
		{tChar, "y", []byte{'y'}},
		{tChar, "m", []byte{'m'}},
		{tChar, "65", []byte{65}},
		{tTri, "y", []byte{1, 0, 0, 0}},
		{tTri, "m", []byte{2, 0, 0, 0}},
		{tTri, "n", []byte{0, 0, 0, 0}},
		{tS32, "y", nil},
		{tS32, "250", []byte{250, 0, 0, 0}},
		{tS32, "-2", []byte{0xfe, 0xff, 0xff, 0xff}},
		{tS32, "0x7fffffff", []byte{0xff, 0xff, 0xff, 0x7f}},
		{tS32, "0x80000000", nil},
		{tS32, "-2147483648", []byte{0, 0, 0, 0x80}},
		{tS32, "-2147483649", nil},
		{tU32, "-1", nil},
		{tU32, "0xffffffff", []byte{0xff, 0xff, 0xff, 0xff}},
		{tU32, "010", []byte{8, 0, 0, 0}}, // octal, as strtoull base 0
		{tU16, "65536", nil},
		{tU16, "0x1234", []byte{0x34, 0x12}},
		{tS8, "-128", []byte{0x80}},
		{tS8, "128", nil},
		{tTd, "0x1000000", []byte{0, 0, 0, 1}},
		{tConst, "0xdead000000000000", []byte{0, 0, 0, 0, 0, 0, 0xad, 0xde}},
		{tS64, "-9223372036854775808", []byte{0, 0, 0, 0, 0, 0, 0, 0x80}},
		{tU64, "18446744073709551615", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{tU64, "18446744073709551616", nil},
		{tS32, "12abc", nil},
		{tS32, `"text"`, nil},
		{tStr, `"(none)"`, []byte("(none)\x00\x00")},
		{tStr, `"gcc (GCC) 15.3.0"`, []byte("gcc (GC\x00")}, // truncated
		{tStr, `"a\"b"`, []byte("a\"b\x00\x00\x00\x00\x00")},
		{tStr, "5", nil},
		{tStr, "y", nil},
		{&btf.Struct{Name: "s", Size: 4}, "y", nil},
		{&btf.Int{Name: "__int128", Size: 16}, "1", nil},
	} {
		dst := bytes.Repeat([]byte{0xaa}, 8)
		err := putConfig(dst, c.typ, c.value, le)
		switch {
		case c.want == nil && err == nil:
			t.Errorf("%v = %s: accepted: % x", c.typ, c.value, dst)
		case c.want != nil && err != nil:
			t.Errorf("%v = %s: %v", c.typ, c.value, err)
		case c.want != nil && !bytes.Equal(dst[:len(c.want)], c.want):
			t.Errorf("%v = %s: % x, want % x", c.typ, c.value, dst[:len(c.want)], c.want)
		case c.want != nil && len(c.want) < 8 && dst[len(c.want)] != 0xaa:
			t.Errorf("%v = %s: wrote past the value: % x", c.typ, c.value, dst)
		}
	}
	// Big-endian targets.
	dst := make([]byte, 4)
	if err := putConfig(dst, tU32, "0x01020304", binary.BigEndian); err != nil || !bytes.Equal(dst, []byte{1, 2, 3, 4}) {
		t.Errorf("big endian: % x %v", dst, err)
	}
}

const kconfigSource = `
typedef unsigned int __u32;
typedef unsigned long long __u64;
enum libbpf_tristate { TRI_NO = 0, TRI_YES = 1, TRI_MODULE = 2 };
#define __kconfig __attribute__((section(".kconfig")))
#define __weak __attribute__((weak))
extern __u32 LINUX_KERNEL_VERSION __kconfig;
extern _Bool LINUX_HAS_SYSCALL_WRAPPER __kconfig;
extern int LINUX_HAS_BPF_COOKIE __kconfig __weak;
extern int LINUX_SOMETHING_NEW __kconfig __weak;
extern _Bool CONFIG_BPF_SYSCALL __kconfig __weak;
extern enum libbpf_tristate CONFIG_MOD __kconfig;
extern _Bool CONFIG_KPROBES __kconfig;
extern int CONFIG_KPROBES_INT __kconfig __weak;
extern __u64 CONFIG_PHYSICAL_START __kconfig;
extern char CONFIG_LOCALVERSION[8] __kconfig;
extern int CONFIG_ECC_DOES_NOT_EXIST __kconfig __weak;
__u64 out[16];
__attribute__((section("tracepoint/x"), used))
int prog(void *ctx)
{
	out[0] = LINUX_KERNEL_VERSION;
	out[1] = LINUX_HAS_SYSCALL_WRAPPER;
	out[2] = LINUX_HAS_BPF_COOKIE;
	out[3] = LINUX_SOMETHING_NEW;
	out[4] = CONFIG_BPF_SYSCALL;
	out[5] = CONFIG_MOD;
	out[6] = CONFIG_KPROBES;
	out[7] = CONFIG_KPROBES_INT;
	out[8] = CONFIG_PHYSICAL_START;
	out[9] = CONFIG_LOCALVERSION[1];
	out[10] = CONFIG_ECC_DOES_NOT_EXIST;
	return 0;
}
char LICENSE[] __attribute__((section("license"), used)) = "GPL";
`

const kconfigFixture = `CONFIG_BPF_SYSCALL=y
CONFIG_MOD=m
# CONFIG_KPROBES is not set
# CONFIG_KPROBES_INT is not set
CONFIG_PHYSICAL_START=0x1000000
CONFIG_LOCALVERSION="-fc-v1272"
`

func compileObject(t *testing.T, src string) []byte {
	t.Helper()
	clang := testenv.Clang(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "p.c"), filepath.Join(dir, "p.o")
	os.WriteFile(in, []byte(src), 0o644)
	if b, err := exec.Command(clang, "-target", "bpf", "-O2", "-g", "-c", in, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", clang, err, b)
	}
	obj, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

func fixtureHost(t *testing.T, config string) *kconfigHost {
	p := filepath.Join(t.TempDir(), "config")
	os.WriteFile(p, []byte(config), 0o644)
	return &kconfigHost{
		release:        "6.18.44-test",
		configs:        []string{filepath.Join(t.TempDir(), "missing"), p},
		syscallWrapper: func() (bool, error) { return true, nil },
		bpfCookie:      func() (bool, error) { return true, nil },
	}
}

// The whole resolution on a real object, with a fixture for the kernel: the
// values land in the .kconfig map at the externs' offsets, and every load
// of an extern points into it.
func TestResolveKconfig(t *testing.T) {
	obj := compileObject(t, kconfigSource)
	spec, err := bpfobj.LoadSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	if err := resolveKconfig(spec, obj, fixtureHost(t, kconfigFixture)); err != nil {
		t.Fatal(err)
	}
	m := spec.Maps[KconfigMap]
	if m == nil || m.Type != ebpf.Array || m.MaxEntries != 1 || len(m.Contents) != 1 {
		t.Fatalf("map %+v", m)
	}
	data := m.Contents[0].Value.([]byte)
	var ds *btf.Datasec
	spec.Types.TypeByName(bpfobj.KconfigDatasec, &ds)
	if uint32(len(data)) != ds.Size || m.ValueSize != ds.Size {
		t.Fatalf("%d bytes for a %d-byte section", len(data), ds.Size)
	}
	off := map[string]uint32{}
	for _, vs := range ds.Vars {
		off[vs.Type.TypeName()] = vs.Offset
	}
	le := binary.LittleEndian
	u32 := func(name string) uint32 { return le.Uint32(data[off[name]:]) }
	for name, want := range map[string]uint32{
		"LINUX_KERNEL_VERSION": 6<<16 | 18<<8 | 44, "LINUX_HAS_BPF_COOKIE": 1, "LINUX_SOMETHING_NEW": 0,
		"CONFIG_MOD": 2, "CONFIG_KPROBES_INT": 0, "CONFIG_ECC_DOES_NOT_EXIST": 0,
	} {
		if got := u32(name); got != want {
			t.Errorf("%s = %#x, want %#x", name, got, want)
		}
	}
	for name, want := range map[string]byte{"LINUX_HAS_SYSCALL_WRAPPER": 1, "CONFIG_BPF_SYSCALL": 1, "CONFIG_KPROBES": 0} {
		if got := data[off[name]]; got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	if got := le.Uint64(data[off["CONFIG_PHYSICAL_START"]:]); got != 0x1000000 {
		t.Errorf("CONFIG_PHYSICAL_START = %#x", got)
	}
	if got := string(data[off["CONFIG_LOCALVERSION"]:][:8]); got != "-fc-v12\x00" {
		t.Errorf("CONFIG_LOCALVERSION = %q", got)
	}

	loads := 0
	for _, ins := range spec.Programs["prog"].Instructions {
		if _, ext := off[ins.Reference()]; ext && ins.OpCode.IsDWordLoad() && ins.Src == asm.R0 {
			t.Errorf("load of %s left as a symbol reference", ins.Reference())
		}
		if ins.Reference() == KconfigMap {
			if ins.Src != asm.PseudoMapValue {
				t.Errorf("load from .kconfig: %v", ins)
			}
			loads++
		}
	}
	if loads != 11 {
		t.Errorf("%d loads point into .kconfig, want 11", loads)
	}
}

func TestResolveKconfigErrors(t *testing.T) {
	obj := compileObject(t, kconfigSource)
	for _, c := range []struct {
		name, config string
		configs      []string
		wants        []string
	}{
		{"strong missing", "CONFIG_MOD=m\nCONFIG_PHYSICAL_START=1\n", nil,
			[]string{"CONFIG_KPROBES, CONFIG_LOCALVERSION not set in the kernel config ", "/config; declare them __weak"}},
		{"bool module", strings.Replace(kconfigFixture, "# CONFIG_KPROBES is not set", "CONFIG_KPROBES=m", 1), nil,
			[]string{"extern CONFIG_KPROBES: value m (module) for a bool"}},
		{"no config", "", []string{"/nonexistent/config"},
			[]string{"kconfig: CONFIG_MOD: no kernel config file found (looked for /nonexistent/config); set ECLI_KERNEL_CONFIG=FILE"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec, err := bpfobj.LoadSpec(obj)
			if err != nil {
				t.Fatal(err)
			}
			h := fixtureHost(t, c.config)
			if c.configs != nil {
				h.configs = c.configs
			}
			err = resolveKconfig(spec, obj, h)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if spec.Maps[KconfigMap] != nil {
				t.Error("map added despite the error")
			}
		})
	}

	// Only weak config externs: no config file is fine, all zero.
	weakOnly := compileObject(t, `
#define __kconfig __attribute__((section(".kconfig")))
extern int CONFIG_X __kconfig __attribute__((weak));
int out;
__attribute__((section("tracepoint/x"), used)) int prog(void *ctx) { out = CONFIG_X; return 0; }
char LICENSE[] __attribute__((section("license"), used)) = "GPL";
`)
	spec, err := bpfobj.LoadSpec(weakOnly)
	if err != nil {
		t.Fatal(err)
	}
	h := fixtureHost(t, "")
	h.configs = []string{"/nonexistent/config"}
	if err := resolveKconfig(spec, weakOnly, h); err != nil {
		t.Fatal(err)
	}
	if data := spec.Maps[KconfigMap].Contents[0].Value.([]byte); !bytes.Equal(data, []byte{0, 0, 0, 0}) {
		t.Errorf("CONFIG_X % x", data)
	}
}

// Objects without kconfig externs are left alone.
func TestResolveKconfigNone(t *testing.T) {
	obj := compileObject(t, `
int x;
__attribute__((section("tracepoint/x"), used)) int prog(void *ctx) { return x; }
char LICENSE[] __attribute__((section("license"), used)) = "GPL";
`)
	spec, err := bpfobj.LoadSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	before := len(spec.Maps)
	if err := ResolveKconfig(spec, obj); err != nil || len(spec.Maps) != before {
		t.Errorf("%v, %d maps (was %d)", err, len(spec.Maps), before)
	}
}
