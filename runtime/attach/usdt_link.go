package attach

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/ecc-bpf/ecc/runtime/attach/usdt"
)

// specTable hands out the slots of one __bpf_usdt_specs map: identical
// specs share a slot, freed when no attachment uses it. Programs of one
// collection share the map (and __bpf_usdt_ip_to_spec_id), so they share
// the table, found by the map's ID.
type specTable struct {
	size   uint32
	ids    map[string]uint32 // encoded spec → slot
	refs   map[uint32]int    // slot → sites using it
	ipRefs map[int64]int     // address in __bpf_usdt_ip_to_spec_id → sites using it
	users  int               // attachments using the table
}

var specTables = struct {
	sync.Mutex
	m map[ebpf.MapID]*specTable
}{m: map[ebpf.MapID]*specTable{}}

// usdtMaps are a program's <bpf/usdt.bpf.h> maps, found among the maps
// it uses (nil when it uses none, e.g. it never reads its arguments).
type usdtMaps struct {
	specs, ips *ebpf.Map
	specsID    ebpf.MapID
	specsSize  uint32
}

func (m *usdtMaps) close() {
	if m.specs != nil {
		m.specs.Close()
	}
	if m.ips != nil {
		m.ips.Close()
	}
}

// findUSDTMaps looks for the two maps among those the loaded program uses.
func findUSDTMaps(prog *ebpf.Program) (*usdtMaps, error) {
	info, err := prog.Info()
	if err != nil {
		return nil, fmt.Errorf("read the program's info: %w", err)
	}
	ids, _ := info.MapIDs()
	out := &usdtMaps{}
	for _, id := range ids {
		m, err := ebpf.NewMapFromID(id)
		if err != nil {
			out.close()
			return nil, fmt.Errorf("open map %d of the program to find %s: %w", id, usdtSpecsMap, err)
		}
		mi, err := m.Info()
		if err != nil {
			m.Close()
			continue
		}
		switch {
		case out.specs == nil && strings.HasPrefix(usdtSpecsMap, mi.Name) && mi.Name != "" && mi.Type == ebpf.Array:
			if mi.ValueSize != usdt.SpecSize {
				m.Close()
				out.close()
				return nil, fmt.Errorf("map %s has values of %d bytes, want sizeof(struct __bpf_usdt_spec) = %d: the program was built with an incompatible <bpf/usdt.bpf.h>",
					usdtSpecsMap, mi.ValueSize, usdt.SpecSize)
			}
			out.specs, out.specsID, out.specsSize = m, id, mi.MaxEntries
		case out.ips == nil && strings.HasPrefix(usdtIPMap, mi.Name) && mi.Name != "" && mi.Type == ebpf.Hash && mi.KeySize == 8 && mi.ValueSize == 4:
			out.ips = m
		default:
			m.Close()
		}
	}
	return out, nil
}

// usdtLink is an attached USDT program: one uprobe per site, the spec
// slots it holds and the address entries it wrote.
type usdtLink struct {
	desc  string
	ls    []link.Link
	maps  *usdtMaps
	table *specTable
	slots []uint32
	ips   []int64
}

func (l *usdtLink) String() string     { return l.desc }
func (l *usdtLink) Links() []link.Link { return l.ls }

func (l *usdtLink) Close() error {
	errs := closeConcurrently(l.ls)
	l.ls = nil
	if l.table != nil {
		specTables.Lock()
		for _, ip := range l.ips {
			if l.table.ipRefs[ip]--; l.table.ipRefs[ip] <= 0 {
				delete(l.table.ipRefs, ip)
				l.maps.ips.Delete(ip)
			}
		}
		l.table.release(l.slots)
		if l.table.users--; l.table.users == 0 {
			delete(specTables.m, l.maps.specsID)
		}
		specTables.Unlock()
		l.table, l.ips, l.slots = nil, nil, nil
	}
	if l.maps != nil {
		l.maps.close()
		l.maps = nil
	}
	return errors.Join(errs...)
}

// acquire returns the slot of an encoded spec, writing it into the map
// when it is new. Call with specTables locked.
func (t *specTable) acquire(m *ebpf.Map, spec []byte) (uint32, error) {
	if id, ok := t.ids[string(spec)]; ok {
		t.refs[id]++
		return id, nil
	}
	for id := uint32(0); id < t.size; id++ {
		if t.refs[id] > 0 {
			continue
		}
		if err := m.Put(id, spec); err != nil {
			return 0, fmt.Errorf("write spec %d into %s: %w", id, usdtSpecsMap, err)
		}
		t.ids[string(spec)] = id
		t.refs[id] = 1
		return id, nil
	}
	return 0, fmt.Errorf("all %d slots of %s are taken by distinct probe specs: build with a larger BPF_USDT_MAX_SPEC_CNT", t.size, usdtSpecsMap)
}

func (t *specTable) release(slots []uint32) {
	for _, id := range slots {
		if t.refs[id]--; t.refs[id] > 0 {
			continue
		}
		delete(t.refs, id)
		for k, v := range t.ids {
			if v == id {
				delete(t.ids, k)
			}
		}
	}
}

// attachUSDT attaches a uprobe at every site of the probe, with the slot
// of the site's spec as BPF cookie (and, on kernels without cookies, the
// site's address → slot in __bpf_usdt_ip_to_spec_id), and the semaphore's
// offset as reference counter, as libbpf does.
func attachUSDT(prog *ebpf.Program, p *Plan) (Link, error) {
	if p.Binary == "" {
		return nil, fmt.Errorf("SEC(%q) names no probe: pass --usdt %s=BINARY:PROVIDER:NAME", p.Section, p.Program)
	}
	sites := p.Sites
	f := p.usdtFile
	if sites == nil || f == nil {
		var err error
		if f, err = usdt.Open(p.Binary); err == nil {
			sites, err = f.Sites(p.Group, p.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("usdt %s:%s in %s: %w", p.Group, p.Name, p.Binary, err)
		}
	}
	maps, err := findUSDTMaps(prog)
	if err != nil {
		return nil, err
	}
	l := &usdtLink{desc: usdtString(&Plan{Binary: p.Binary, Group: p.Group, Name: p.Name, Sites: sites, PID: p.PID}), maps: maps}
	ok := false
	defer func() {
		if !ok {
			l.Close()
		}
	}()

	cookies := HaveBPFCookie()
	slots := make([]uint32, len(sites))
	if maps.specs != nil {
		specTables.Lock()
		t := specTables.m[maps.specsID]
		if t == nil {
			t = &specTable{size: maps.specsSize, ids: map[string]uint32{}, refs: map[uint32]int{}, ipRefs: map[int64]int{}}
			specTables.m[maps.specsID] = t
		}
		t.users++
		l.table = t
		err := func() error {
			for i, s := range sites {
				enc, err := (&usdt.Spec{Args: s.Args}).MarshalBinary()
				if err == nil {
					slots[i], err = t.acquire(maps.specs, enc)
				}
				if err != nil {
					return err
				}
				l.slots = append(l.slots, slots[i])
			}
			if !cookies {
				return l.writeIPs(f, sites, slots, p.PID)
			}
			return nil
		}()
		specTables.Unlock()
		if err != nil {
			return nil, fmt.Errorf("usdt %s:%s in %s: %w", p.Group, p.Name, p.Binary, err)
		}
	}

	ex, err := link.OpenExecutable(p.Binary)
	if err != nil {
		return nil, err
	}
	var multiErr error
	if cookies && usdtMulti() {
		opts := &link.UprobeMultiOptions{PID: uint32(p.PID)}
		sem := false
		for i, s := range sites {
			opts.Addresses = append(opts.Addresses, s.Offset)
			opts.Cookies = append(opts.Cookies, uint64(slots[i]))
			opts.RefCtrOffsets = append(opts.RefCtrOffsets, s.SemOffset)
			sem = sem || s.SemOffset != 0
		}
		if !sem {
			opts.RefCtrOffsets = nil
		}
		up, err := ex.UprobeMulti(nil, prog, opts)
		if err == nil {
			l.ls = append(l.ls, up)
			ok = true
			return l, nil
		}
		// EINVAL: the program was loaded without the uprobe_multi attach
		// type (not through PrepareUSDT); a uprobe per site then.
		if !errors.Is(err, unix.EINVAL) {
			return nil, fmt.Errorf("usdt %s:%s in %s: uprobe_multi link on %d sites: %w", p.Group, p.Name, p.Binary, len(sites), err)
		}
		multiErr = err
	}
	for i, s := range sites {
		opts := &link.UprobeOptions{Address: s.Offset, RefCtrOffset: s.SemOffset, PID: p.PID}
		if cookies {
			opts.Cookie = uint64(slots[i])
		}
		// The symbol only names the event when uprobes go through tracefs.
		up, err := ex.Uprobe(p.Group+"_"+p.Name, prog, opts)
		if err != nil {
			if !probesAvailable("uprobe") {
				return nil, notSupported(err, "this kernel has no uprobes (CONFIG_UPROBE_EVENTS off)")
			}
			if multiErr != nil {
				err = &fallbackError{text: fmt.Sprintf("%v (and as one uprobe_multi link: %v)", err, multiErr), err: err}
			}
			return nil, fmt.Errorf("usdt %s:%s in %s: site %d of %d at file offset %#x: %w", p.Group, p.Name, p.Binary, i+1, len(sites), s.Offset, err)
		}
		l.ls = append(l.ls, up)
	}
	ok = true
	return l, nil
}

// writeIPs fills __bpf_usdt_ip_to_spec_id for kernels without BPF cookies:
// the address each site runs at → its spec slot. Executables (ET_EXEC) run
// at their link addresses; PIE executables and libraries load anywhere, so
// their addresses come from the traced process's mappings. Call with
// specTables locked.
func (l *usdtLink) writeIPs(f *usdt.File, sites []usdt.Site, slots []uint32, pid int) error {
	if l.maps.ips == nil {
		return fmt.Errorf("the program has no %s map, which kernels without BPF cookies need", usdtIPMap)
	}
	var (
		mapping usdt.Mapping
		maps    []byte
	)
	if f.Type != elf.ET_EXEC {
		if pid == 0 {
			return errors.New("the binary is a PIE executable or a shared library: on kernels without BPF cookies (before 5.15) USDT needs --pid to know where it is loaded")
		}
		var st unix.Stat_t
		if err := unix.Stat(f.Path, &st); err != nil {
			return err
		}
		mapping = usdt.Mapping{Major: unix.Major(st.Dev), Minor: unix.Minor(st.Dev), Inode: st.Ino}
		var err error
		if maps, err = os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid)); err != nil {
			return fmt.Errorf("--pid %d: %w", pid, err)
		}
	}
	for i, s := range sites {
		ip := s.PC
		if f.Type != elf.ET_EXEC {
			var err error
			if ip, err = usdt.AbsIP(bytes.NewReader(maps), mapping, s.Offset); err != nil {
				return fmt.Errorf("process %d does not map %s: %w", pid, f.Path, err)
			}
		}
		key := int64(ip)
		if l.table.ipRefs[key] == 0 {
			if err := l.maps.ips.Put(key, slots[i]); err != nil {
				return fmt.Errorf("write %s: %w", usdtIPMap, err)
			}
		}
		l.table.ipRefs[key]++
		l.ips = append(l.ips, key)
	}
	return nil
}

// closeParallel bounds how many uprobes closeConcurrently closes at once.
const closeParallel = 64

// closeConcurrently closes links several at a time. Removing a uprobe
// waits for RCU grace periods in the kernel (tens of milliseconds each);
// for 256 single uprobes, closing them one after another took 18 s here,
// concurrently 12 s (uprobe_multi links avoid both).
func closeConcurrently(ls []link.Link) []error {
	errs := make([]error, len(ls))
	sem := make(chan struct{}, closeParallel)
	var wg sync.WaitGroup
	for i, x := range ls {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			errs[i] = x.Close()
			<-sem
		}()
	}
	wg.Wait()
	return errs
}
