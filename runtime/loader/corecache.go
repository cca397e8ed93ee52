package loader

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/packager"
)

// CO-RE relocation cache.
//
// Relocating a program's field offsets against the kernel's BTF means
// decoding several megabytes of kernel types: most of a small tool's start-up.
// The result only depends on the object and on the kernel's BTF (vmlinux
// and loaded modules), so ecli stores the relocated instructions per
// (object, kernel) in its cache folder, and later runs load pre-relocated
// programs without touching the kernel's BTF.
//
// Relocations are computed exactly as cilium/ebpf computes them at load
// (btf.CORERelocate against the kernel and its modules) and applied to the
// spec before load. Objects whose relocations need local type IDs, or that
// fail to relocate, are left to cilium/ebpf untouched.

// coreCacheVersion changes when the entry format or the algorithm does.
const coreCacheVersion = "core-1"

type fixedIns struct {
	Op  uint8  `json:"op"`
	Reg uint8  `json:"reg"`
	Off int16  `json:"off"`
	Imm int64  `json:"imm"`
	Src string `json:"src,omitempty"`
}

type coreEntry struct {
	Progs map[string][]fixedIns `json:"progs"`
}

var errLocalTypeID = errors.New("relocation needs a local type ID")

// kernelBTFIdentity names the kernel's BTF without reading it: the boot
// (vmlinux cannot change while the kernel runs) and the BTF files of the
// loaded modules.
func kernelBTFIdentity() (string, error) {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", err
	}
	ents, err := os.ReadDir("/sys/kernel/btf")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(strings.TrimSpace(string(boot)))
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "|%s:%d", e.Name(), info.Size())
	}
	return b.String(), nil
}

// CacheDir is where relocations are cached ($ECC_CACHE_DIR/core, else the
// user cache dir).
func CacheDir() string {
	if d := os.Getenv("ECC_CACHE_DIR"); d != "" {
		return filepath.Join(d, "core")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "ecc", "core")
	}
	return ""
}

// PendingRelocations counts the CO-RE relocations left in spec.
func PendingRelocations(spec *ebpf.CollectionSpec) int {
	_, n := relocInsns(spec)
	return n
}

// relocInsns lists, per program, the indexes of instructions that carry a
// CO-RE relocation.
func relocInsns(spec *ebpf.CollectionSpec) (map[string][]int, int) {
	out := map[string][]int{}
	total := 0
	for name, ps := range spec.Programs {
		for i := range ps.Instructions {
			if btf.CORERelocationMetadata(&ps.Instructions[i]) != nil {
				out[name] = append(out[name], i)
				total++
			}
		}
	}
	return out, total
}

// Prerelocate applies CO-RE relocations to spec from the cache, or computes
// them (sharing c with the load that follows) and stores them. It reports
// whether the spec no longer needs the kernel's BTF for relocations.
func Prerelocate(object []byte, spec *ebpf.CollectionSpec, c *btf.Cache) bool {
	idx, total := relocInsns(spec)
	if total == 0 {
		return false
	}
	dir := CacheDir()
	kid, err := kernelBTFIdentity()
	if dir == "" || err != nil {
		return false
	}
	sum := sha256.New()
	fmt.Fprintf(sum, "%s\x00%s\x00", coreCacheVersion, kid)
	sum.Write(object)
	file := filepath.Join(dir, hex.EncodeToString(sum.Sum(nil))[:40]+".json")

	if data, err := os.ReadFile(file); err == nil {
		var e coreEntry
		if json.Unmarshal(data, &e) == nil && applyEntry(spec, idx, &e) {
			return true
		}
	}
	e, err := computeEntry(spec, idx, c)
	if err != nil {
		return false
	}
	if !applyEntry(spec, idx, e) {
		return false
	}
	if data, err := json.Marshal(e); err == nil && os.MkdirAll(dir, 0o755) == nil {
		packager.WriteFileAtomic(file, data, 0o644)
	}
	return true
}

// computeEntry relocates every program as cilium/ebpf would at load.
func computeEntry(spec *ebpf.CollectionSpec, idx map[string][]int, c *btf.Cache) (*coreEntry, error) {
	if c == nil {
		return nil, errors.New("no BTF cache")
	}
	kernel, err := c.Kernel()
	if err != nil {
		return nil, err
	}
	targets := []*btf.Spec{kernel}
	mods, err := c.Modules()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	sort.Strings(mods)
	for _, m := range mods {
		s, err := c.Module(m)
		if err != nil {
			return nil, err
		}
		targets = append(targets, s)
	}
	bo := spec.ByteOrder
	if bo == nil {
		bo = binary.NativeEndian
	}
	e := &coreEntry{Progs: map[string][]fixedIns{}}
	for name, list := range idx {
		ins := spec.Programs[name].Instructions
		relos := make([]*btf.CORERelocation, len(list))
		for i, at := range list {
			relos[i] = btf.CORERelocationMetadata(&ins[at])
		}
		fixups, err := btf.CORERelocate(relos, targets, bo, func(btf.Type) (btf.TypeID, error) { return 0, errLocalTypeID })
		if err != nil {
			return nil, err
		}
		fixed := make([]fixedIns, len(list))
		for i, at := range list {
			cp := ins[at]
			if err := fixups[i].Apply(&cp); err != nil {
				return nil, err
			}
			fixed[i] = fixedIns{Op: uint8(cp.OpCode), Reg: uint8(cp.Dst) | uint8(cp.Src)<<4, Off: cp.Offset, Imm: cp.Constant}
			if s := cp.Source(); s != nil && cp.Constant == btf.COREBadRelocationSentinel {
				fixed[i].Src = s.String()
			}
		}
		e.Progs[name] = fixed
	}
	return e, nil
}

// applyEntry writes relocated instructions into spec and drops their CO-RE
// metadata; it changes nothing unless the entry fits every program.
func applyEntry(spec *ebpf.CollectionSpec, idx map[string][]int, e *coreEntry) bool {
	if len(e.Progs) != len(idx) {
		return false
	}
	for name, list := range idx {
		if len(e.Progs[name]) != len(list) {
			return false
		}
	}
	for name, list := range idx {
		ins := spec.Programs[name].Instructions
		for i, at := range list {
			f := e.Progs[name][i]
			in := btf.WithCORERelocationMetadata(ins[at], nil)
			in.OpCode = asm.OpCode(f.Op)
			in.Dst, in.Src = asm.Register(f.Reg&0xf), asm.Register(f.Reg>>4)
			in.Offset, in.Constant = f.Off, f.Imm
			if f.Src != "" {
				in = in.WithSource(asm.Comment(f.Src))
			}
			ins[at] = in
		}
	}
	return true
}
