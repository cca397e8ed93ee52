package loader

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/ecc-bpf/ecc/internal/bpfobj"
	"github.com/ecc-bpf/ecc/runtime/attach"
)

// KconfigMap is the name of the map holding the values of __kconfig externs.
const KconfigMap = ".kconfig"

// KernelConfigEnv names a kernel config file to use instead of the
// running kernel's.
const KernelConfigEnv = "ECLI_KERNEL_CONFIG"

// maxKernelConfig bounds how much of a kernel config file is read
// (decompressed); real ones are 100–300 KiB.
const maxKernelConfig = 8 << 20

// kconfigHost is what the values come from: the running kernel, or a
// test's fixture.
type kconfigHost struct {
	// release and version are uname -r and uname -v.
	release, version string
	// signature is /proc/version_signature (Ubuntu), "" when absent.
	signature string
	// configs are the config files to try, in order.
	configs []string
	// syscallWrapper and bpfCookie probe the kernel.
	syscallWrapper, bpfCookie func() (bool, error)
}

func runningKernel() (*kconfigHost, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return nil, fmt.Errorf("uname: %w", err)
	}
	h := &kconfigHost{
		release:        unix.ByteSliceToString(u.Release[:]),
		version:        unix.ByteSliceToString(u.Version[:]),
		syscallWrapper: haveSyscallWrapper,
		// The same answer USDT attachment acts on (and its
		// ECLI_USDT_NO_COOKIE switch): the program and the loader must
		// agree on how a probe finds its spec.
		bpfCookie: func() (bool, error) { return attach.HaveBPFCookie(), nil },
	}
	if sig, err := readBounded("/proc/version_signature", 4096); err == nil {
		h.signature = strings.TrimSpace(string(sig))
	}
	if p := os.Getenv(KernelConfigEnv); p != "" {
		h.configs = []string{p}
	} else {
		h.configs = []string{"/boot/config-" + h.release, "/proc/config.gz"}
	}
	return h, nil
}

// ResolveKconfig gives the __kconfig externs of spec (read with
// bpfobj.LoadSpec from object) their values for the running kernel. A spec
// without externs is left alone. object tells which externs are weak (nil:
// none).
func ResolveKconfig(spec *ebpf.CollectionSpec, object []byte) error {
	if kconfigDatasec(spec) == nil {
		return nil
	}
	h, err := runningKernel()
	if err != nil {
		return fmt.Errorf("kconfig: %w", err)
	}
	return resolveKconfig(spec, object, h)
}

func kconfigDatasec(spec *ebpf.CollectionSpec) *btf.Datasec {
	if spec == nil || spec.Types == nil {
		return nil
	}
	var ds *btf.Datasec
	if err := spec.Types.TypeByName(bpfobj.KconfigDatasec, &ds); err != nil {
		return nil
	}
	return ds
}

type kconfigVar struct {
	name   string
	offset uint32
	typ    btf.Type
	weak   bool
}

func resolveKconfig(spec *ebpf.CollectionSpec, object []byte, h *kconfigHost) error {
	ds := kconfigDatasec(spec)
	if ds == nil {
		return nil
	}
	weak := map[string]bool{}
	if object != nil {
		w, err := bpfobj.WeakExterns(object)
		if err != nil {
			return fmt.Errorf("kconfig: %w", err)
		}
		weak = w
	}
	bo := spec.ByteOrder
	if bo == nil {
		bo = binary.NativeEndian
	}

	data := make([]byte, ds.Size)
	offsets := map[string]uint32{}
	var vars []kconfigVar
	for _, vs := range ds.Vars {
		v, ok := vs.Type.(*btf.Var)
		if !ok {
			continue
		}
		if uint64(vs.Offset)+uint64(vs.Size) > uint64(ds.Size) {
			return fmt.Errorf("kconfig: extern %s lies outside its section", v.Name)
		}
		offsets[v.Name] = vs.Offset
		vars = append(vars, kconfigVar{name: v.Name, offset: vs.Offset, typ: v.Type, weak: weak[v.Name]})
	}

	var config map[string]string // loaded on first use
	configFile := ""
	var missing []string
	for _, v := range vars {
		dst := data[v.offset:]
		var err error
		switch {
		case v.name == "LINUX_KERNEL_VERSION":
			var kv uint32
			if kv, err = h.kernelVersion(); err == nil {
				err = putNumber(dst, v.typ, strconv.FormatUint(uint64(kv), 10), bo)
			}
		case v.name == "LINUX_HAS_SYSCALL_WRAPPER":
			err = putProbe(dst, v.typ, h.syscallWrapper, bo)
		case v.name == "LINUX_HAS_BPF_COOKIE":
			err = putProbe(dst, v.typ, h.bpfCookie, bo)
		case strings.HasPrefix(v.name, "LINUX_"):
			if !v.weak {
				err = errors.New("not a LINUX_ extern libbpf knows (LINUX_KERNEL_VERSION, LINUX_HAS_SYSCALL_WRAPPER, LINUX_HAS_BPF_COOKIE); declare it __weak to have 0")
			}
		default:
			if config == nil {
				config, configFile, err = h.loadConfig()
				if errors.Is(err, errNoConfig) {
					if strong := strongConfig(vars); strong != "" {
						return fmt.Errorf("kconfig: %s: %w", strong, err)
					}
					config, err = map[string]string{}, nil
				}
				if err != nil {
					return fmt.Errorf("kconfig: %w", err)
				}
			}
			value, ok := config[v.name]
			if ok && value == notSet {
				// Only bool and tristate externs read an unset option
				// as n; for the others, as for libbpf, it is missing.
				k, _, _ := kcfgType(v.typ)
				value, ok = "n", k == kcfgBool || k == kcfgTristate
			}
			switch {
			case ok:
				err = putConfig(dst, v.typ, value, bo)
			case !v.weak:
				missing = append(missing, v.name)
			}
		}
		if err != nil {
			return fmt.Errorf("kconfig: extern %s: %w", v.name, err)
		}
	}
	if len(missing) > 0 {
		them := "them"
		if len(missing) == 1 {
			them = "it"
		}
		return fmt.Errorf("kconfig: %s not set in the kernel config %s; declare %s __weak to have 0 where missing",
			strings.Join(missing, ", "), configFile, them)
	}

	if spec.Maps == nil {
		spec.Maps = map[string]*ebpf.MapSpec{}
	}
	spec.Maps[KconfigMap] = &ebpf.MapSpec{
		Name:       KconfigMap,
		Type:       ebpf.Array,
		KeySize:    4,
		ValueSize:  ds.Size,
		MaxEntries: 1,
		Flags:      unix.BPF_F_RDONLY_PROG,
		Contents:   []ebpf.MapKV{{Key: uint32(0), Value: data}},
	}
	for name, ps := range spec.Programs {
		for i := range ps.Instructions {
			ins := &ps.Instructions[i]
			if !ins.OpCode.IsDWordLoad() || ins.Src != asm.R0 {
				continue
			}
			off, ok := offsets[ins.Reference()]
			if !ok {
				continue
			}
			at := int64(off) + int64(int32(ins.Constant))
			if at < 0 || at >= int64(ds.Size) {
				return fmt.Errorf("kconfig: program %s: load of %s at offset %d is outside the externs", name, ins.Reference(), at)
			}
			*ins = ins.WithReference(KconfigMap)
			ins.Src = asm.PseudoMapValue
			ins.Constant = at << 32
		}
	}
	return nil
}

// strongConfig names a config extern that is not weak, "" if none.
func strongConfig(vars []kconfigVar) string {
	for _, v := range vars {
		if !strings.HasPrefix(v.name, "LINUX_") && !v.weak {
			return v.name
		}
	}
	return ""
}

// kernelVersion is KERNEL_VERSION(a, b, c) of the running kernel.
func (h *kconfigHost) kernelVersion() (uint32, error) {
	// Ubuntu: "Ubuntu 5.4.0-42.46-generic 5.4.44", upstream version last.
	if f := strings.Fields(h.signature); len(f) >= 3 && f[0] == "Ubuntu" {
		if kv, ok := parseKernelVersion(f[len(f)-1]); ok {
			return kv, nil
		}
	}
	// Debian: uname -r "5.10.0-8-amd64", uname -v "#1 SMP Debian 5.10.46-4 (2021-08-03)".
	if i := strings.Index(h.version, "Debian "); i >= 0 {
		if kv, ok := parseKernelVersion(h.version[i+len("Debian "):]); ok {
			return kv, nil
		}
	}
	if kv, ok := parseKernelVersion(h.release); ok {
		return kv, nil
	}
	return 0, fmt.Errorf("cannot tell the kernel version from uname -r %q", h.release)
}

// parseKernelVersion reads "a.b[.c]" at the start of s.
func parseKernelVersion(s string) (uint32, bool) {
	var parts [3]uint64
	n := 0
	for n < 3 {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 {
			break
		}
		v, err := strconv.ParseUint(s[:i], 10, 32)
		if err != nil {
			return 0, false
		}
		parts[n] = v
		n++
		s = s[i:]
		if n < 3 && (len(s) == 0 || s[0] != '.') {
			break
		}
		if n < 3 {
			s = s[1:]
		}
	}
	if n < 2 || parts[0] > 255 || parts[1] > 255 {
		return 0, false
	}
	return uint32(parts[0]<<16 | parts[1]<<8 | min(parts[2], 255)), true
}

// loadConfig reads the first config file that exists.
func (h *kconfigHost) loadConfig() (map[string]string, string, error) {
	for _, p := range h.configs {
		data, err := readConfigFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, p, err
		}
		m, err := parseKernelConfig(data)
		if err != nil {
			return nil, p, fmt.Errorf("%s: %w", p, err)
		}
		return m, p, nil
	}
	return nil, "", fmt.Errorf("%w (looked for %s); set %s=FILE to the running kernel's config, or declare the CONFIG_ externs __weak",
		errNoConfig, strings.Join(h.configs, ", "), KernelConfigEnv)
}

var errNoConfig = errors.New("no kernel config file found")

// notSet is the value of "# CONFIG_X is not set".
const notSet = "\x00not set"

// readConfigFile reads a config file, gunzipping it when it is compressed,
// up to maxKernelConfig bytes.
func readConfigFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	data, err := io.ReadAll(io.LimitReader(r, maxKernelConfig+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxKernelConfig {
		return nil, fmt.Errorf("%s: more than %d MiB: not a kernel config", path, maxKernelConfig>>20)
	}
	return data, nil
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

// parseKernelConfig reads CONFIG_X=value lines, and "# CONFIG_X is not
// set" (as notSet). Values keep their quotes (strings) for putConfig.
func parseKernelConfig(data []byte) (map[string]string, error) {
	m := map[string]string{}
	for n, line := range bytes.Split(data, []byte("\n")) {
		s := strings.TrimSpace(string(line))
		if name, ok := strings.CutPrefix(s, "# "); ok {
			if name, ok = strings.CutSuffix(name, " is not set"); ok && strings.HasPrefix(name, "CONFIG_") {
				m[name] = notSet
			}
			continue
		}
		if s == "" || s[0] == '#' {
			continue
		}
		name, value, ok := strings.Cut(s, "=")
		if !ok || !strings.HasPrefix(name, "CONFIG_") || value == "" {
			return nil, fmt.Errorf("line %d: %q is not CONFIG_NAME=value", n+1, truncate(s, 80))
		}
		m[name] = value
	}
	return m, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

type kcfgKind int

const (
	kcfgUnknown kcfgKind = iota
	kcfgBool
	kcfgChar
	kcfgInt
	kcfgTristate
	kcfgCharArray
)

// kcfgType classifies an extern's type as libbpf does, through typedefs and
// qualifiers: its kind, size and signedness.
func kcfgType(t btf.Type) (kcfgKind, int, bool) {
	switch t := btf.UnderlyingType(t).(type) {
	case *btf.Int:
		if t.Encoding&btf.Bool != 0 {
			if t.Size == 1 {
				return kcfgBool, 1, false
			}
			return kcfgUnknown, 0, false
		}
		signed := t.Encoding&btf.Signed != 0
		switch t.Size {
		case 1:
			return kcfgChar, 1, signed
		case 2, 4, 8:
			return kcfgInt, int(t.Size), signed
		}
	case *btf.Enum:
		if t.Name == "libbpf_tristate" && t.Size == 4 {
			return kcfgTristate, 4, false
		}
	case *btf.Array:
		if k, _, _ := kcfgType(t.Type); k == kcfgChar && t.Nelems > 0 && t.Nelems <= math.MaxInt32 {
			return kcfgCharArray, int(t.Nelems), false
		}
	}
	return kcfgUnknown, 0, false
}

func describe(t btf.Type) string {
	if n := t.TypeName(); n != "" {
		return n
	}
	return fmt.Sprintf("%T", btf.UnderlyingType(t))
}

// putConfig encodes a config value into dst for an extern of type t.
func putConfig(dst []byte, t btf.Type, value string, bo binary.ByteOrder) error {
	kind, size, _ := kcfgType(t)
	if kind == kcfgUnknown {
		return fmt.Errorf("type %s cannot hold a config value (use bool, char, an integer, enum libbpf_tristate or a char array)", describe(t))
	}
	if len(dst) < size {
		return errors.New("extern larger than its section")
	}
	switch value {
	case "y", "n", "m":
		switch kind {
		case kcfgBool:
			if value == "m" {
				return errors.New("value m (module) for a bool; declare it enum libbpf_tristate")
			}
			dst[0] = b2u8(value == "y")
		case kcfgChar:
			dst[0] = value[0]
		case kcfgTristate:
			bo.PutUint32(dst, map[string]uint32{"n": 0, "y": 1, "m": 2}[value])
		default:
			return fmt.Errorf("value %s for %s, which is no bool, char or enum libbpf_tristate", value, describe(t))
		}
		return nil
	}
	if strings.HasPrefix(value, `"`) {
		if kind != kcfgCharArray {
			return fmt.Errorf("string value %s for %s, which is no char array", value, describe(t))
		}
		s, err := strconv.Unquote(value)
		if err != nil {
			// Kconfig escapes only \ and "; take the text as it is.
			s = strings.TrimSuffix(value[1:], `"`)
		}
		if len(s) >= size {
			s = s[:size-1] // truncated, like libbpf
		}
		clear(dst[:size])
		copy(dst, s)
		return nil
	}
	return putNumber(dst, t, value, bo)
}

// putNumber encodes a decimal, hex or octal (possibly negative) number.
func putNumber(dst []byte, t btf.Type, value string, bo binary.ByteOrder) error {
	kind, size, signed := kcfgType(t)
	if kind != kcfgInt && kind != kcfgChar && kind != kcfgBool {
		return fmt.Errorf("number %s for %s, which is no integer", value, describe(t))
	}
	if len(dst) < size {
		return errors.New("extern larger than its section")
	}
	neg := strings.HasPrefix(value, "-")
	u, err := strconv.ParseUint(strings.TrimPrefix(value, "-"), 0, 64)
	if err != nil {
		return fmt.Errorf("value %q is not a number", value)
	}
	if kind == kcfgBool {
		dst[0] = b2u8(u != 0)
		return nil
	}
	bits := uint(size * 8)
	var raw uint64
	switch {
	case neg:
		if !signed || u > 1<<(bits-1) {
			return fmt.Errorf("value %s does not fit %s", value, describe(t))
		}
		raw = -u
	case signed && u >= 1<<(bits-1), !signed && bits < 64 && u >= 1<<bits:
		return fmt.Errorf("value %s does not fit %s", value, describe(t))
	default:
		raw = u
	}
	switch size {
	case 1:
		dst[0] = uint8(raw)
	case 2:
		bo.PutUint16(dst, uint16(raw))
	case 4:
		bo.PutUint32(dst, uint32(raw))
	case 8:
		bo.PutUint64(dst, raw)
	}
	return nil
}

func putProbe(dst []byte, t btf.Type, probe func() (bool, error), bo binary.ByteOrder) error {
	ok, err := probe()
	if err != nil {
		return err
	}
	return putNumber(dst, t, strconv.Itoa(int(b2u8(ok))), bo)
}

func b2u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// syscallPrefix is the arch part of the kernel's syscall wrapper names
// (__x64_sys_bpf), as libbpf knows them.
var syscallPrefix = map[string]string{
	"amd64": "x64", "386": "ia32", "arm64": "arm64", "arm": "arm",
	"s390x": "s390x", "riscv64": "riscv", "ppc64": "powerpc", "ppc64le": "powerpc",
	"mips64": "mips", "mips64le": "mips", "loong64": "loongarch",
}

// haveSyscallWrapper looks for __ARCH_sys_bpf among the kernel's symbols.
func haveSyscallWrapper() (bool, error) {
	pfx, ok := syscallPrefix[runtime.GOARCH]
	if !ok {
		return false, nil
	}
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return false, fmt.Errorf("LINUX_HAS_SYSCALL_WRAPPER: %w", err)
	}
	defer f.Close()
	// "ffffffff81234560 T __x64_sys_bpf"
	want := " __" + pfx + "_sys_bpf"
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasSuffix(sc.Text(), want) {
			return true, nil
		}
	}
	return false, sc.Err()
}
