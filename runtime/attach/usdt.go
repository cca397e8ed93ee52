package attach

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/ecc-bpf/ecc/runtime/attach/usdt"
)

// The maps of libbpf's <bpf/usdt.bpf.h>, and the names the kernel knows
// them by (BPF object names keep 15 characters).
const (
	usdtSpecsMap = "__bpf_usdt_specs"
	usdtIPMap    = "__bpf_usdt_ip_to_spec_id"
)

// HaveBPFCookie reports whether this kernel passes an attachment's cookie
// to the program (bpf_get_attach_cookie, Linux 5.15+). USDT programs find
// the spec of the probe that fired through it; without it, through the
// probe's address in __bpf_usdt_ip_to_spec_id. The runtime's loader sets
// <bpf/usdt.bpf.h>'s LINUX_HAS_BPF_COOKIE from the same answer.
// ECLI_USDT_NO_COOKIE=1 takes the path of kernels without cookies.
func HaveBPFCookie() bool {
	if os.Getenv("ECLI_USDT_NO_COOKIE") == "1" {
		return false
	}
	return haveCookie()
}

var haveCookie = sync.OnceValue(func() bool {
	return features.HaveProgramHelper(ebpf.Kprobe, asm.FnGetAttachCookie) == nil
})

var haveUprobeMulti = sync.OnceValue(func() bool {
	return features.HaveBPFLinkUprobeMulti() == nil
})

// usdtMulti says whether USDT programs attach through one uprobe_multi
// link each (Linux 6.6+), as libbpf does where it can: a link for all
// sites, removed with one RCU grace period instead of one per site
// (closing 256 single uprobes took 18 s here). Kernels that have it have
// BPF cookies too, which it needs.
func usdtMulti() bool {
	return HaveBPFCookie() && os.Getenv("ECLI_USDT_NO_MULTI") != "1" && haveUprobeMulti()
}

// isUSDTSection reports whether a program is in a usdt or usdt.s section.
func isUSDTSection(section string) bool {
	s, _, _ := strings.Cut(strings.TrimPrefix(section, "?"), "/")
	return s == "usdt" || s == "usdt.s"
}

// PrepareUSDT readies a collection's USDT programs before they load:
// where the kernel has uprobe_multi links, they load with that expected
// attach type, which attaching them needs. (Attach falls back to a uprobe
// per site for programs loaded without it.)
func PrepareUSDT(spec *ebpf.CollectionSpec) {
	for _, p := range spec.Programs {
		if isUSDTSection(p.SectionName) && p.AttachType == 0 && usdtMulti() {
			p.AttachType = ebpf.AttachTraceUprobeMulti
		}
	}
}

var progName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// splitUSDTFlag splits a --usdt value, [PROG=]BINARY:PROVIDER:NAME.
func splitUSDTFlag(v string) (prog, target string) {
	if p, t, ok := strings.Cut(v, "="); ok && progName.MatchString(p) {
		return p, t
	}
	return "", v
}

// parseUSDTTarget parses BINARY:PROVIDER:NAME. The binary may contain
// colons; provider and name cannot.
func parseUSDTTarget(s string) (bin, provider, name string, err error) {
	i := strings.LastIndexByte(s, ':')
	j := -1
	if i > 0 {
		j = strings.LastIndexByte(s[:i], ':')
	}
	if j < 0 {
		return "", "", "", errors.New("want BINARY:PROVIDER:NAME")
	}
	bin, provider, name = s[:j], s[j+1:i], s[i+1:]
	if bin == "" || provider == "" || name == "" {
		return "", "", "", errors.New("want BINARY:PROVIDER:NAME, none of them empty")
	}
	return bin, provider, name, nil
}

// isBareUSDT reports whether a program is a SEC("usdt") (or "usdt.s")
// program that names no probe.
func isBareUSDT(spec *ebpf.ProgramSpec) bool {
	s := strings.TrimPrefix(spec.SectionName, "?")
	return s == "usdt" || s == "usdt.s"
}

// CheckOptions checks the options that concern several programs of a
// collection, before PlanFor plans each: every --usdt PROG=TARGET names a
// bare SEC("usdt") program, once, and a --usdt TARGET without PROG= is
// given only when exactly one such program exists.
func CheckOptions(spec *ebpf.CollectionSpec, o *Options) error {
	if o == nil || len(o.USDT) == 0 {
		return nil
	}
	var bare []string
	for name, p := range spec.Programs {
		if isBareUSDT(p) {
			bare = append(bare, name)
		}
	}
	sort.Strings(bare)
	seen := map[string]bool{}
	for _, v := range o.USDT {
		prog, target := splitUSDTFlag(v)
		if _, _, _, err := parseUSDTTarget(target); err != nil {
			return fmt.Errorf("--usdt %q: %v (e.g. --usdt ./app:myprov:myprobe, or PROG=BINARY:PROVIDER:NAME)", v, err)
		}
		switch {
		case prog == "" && len(bare) == 0:
			return fmt.Errorf("--usdt %q: the package has no SEC(\"usdt\") program without a target", v)
		case prog == "" && len(bare) > 1:
			return fmt.Errorf("--usdt %q names no program, but %d programs take a target (%s): write --usdt PROG=%s",
				v, len(bare), strings.Join(bare, ", "), target)
		case prog != "":
			p := spec.Programs[prog]
			if p == nil {
				return fmt.Errorf("--usdt %q: the package has no program %s (SEC(\"usdt\") programs: %s)", v, prog, orNone(bare))
			}
			if !isBareUSDT(p) {
				return fmt.Errorf("--usdt %q: program %s is SEC(%q), not a SEC(\"usdt\") program without a target", v, prog, p.SectionName)
			}
		}
		key := prog
		if key == "" {
			key = bare[0]
		}
		if seen[key] {
			return fmt.Errorf("--usdt %q: program %s already has a target", v, key)
		}
		seen[key] = true
	}
	return nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// usdtTarget returns the --usdt target for a bare usdt program: the one
// naming it, else the one naming no program.
func (o *Options) usdtTarget(prog string) (string, bool) {
	unnamed := ""
	for _, v := range o.USDT {
		p, t := splitUSDTFlag(v)
		if p == prog {
			return t, true
		}
		if p == "" && unnamed == "" {
			unnamed = t
		}
	}
	return unnamed, unnamed != ""
}

// planUSDT fills a USDT plan: the binary, the probe and its sites.
func planUSDT(p *Plan, extra string, opts *Options) error {
	if opts.PID < 0 {
		return fmt.Errorf("bad --pid %d", opts.PID)
	}
	target, from := extra, "section"
	if target == "" {
		t, ok := opts.usdtTarget(p.Program)
		if !ok {
			// Attach says what to pass; the other programs run.
			return nil
		}
		target, from = t, "--usdt"
	}
	bin, provider, name, err := parseUSDTTarget(target)
	if err != nil {
		return fmt.Errorf("%s target %q: %v", from, target, err)
	}
	path, err := ResolveBinary(bin)
	if err != nil {
		return fmt.Errorf("%s target %q: %v", from, target, err)
	}
	f, err := usdt.Open(path)
	if err != nil {
		return fmt.Errorf("usdt %s:%s in %s: %w", provider, name, path, err)
	}
	if f.GOARCH != runtime.GOARCH {
		return fmt.Errorf("usdt %s:%s in %s: the binary is for %s, this machine is %s", provider, name, path, f.GOARCH, runtime.GOARCH)
	}
	sites, err := f.Sites(provider, name)
	if err != nil {
		return fmt.Errorf("usdt %s:%s in %s: %w (readelf -n %s lists its probes)", provider, name, path, err, path)
	}
	p.Binary, p.Group, p.Name, p.Sites, p.PID = path, provider, name, sites, opts.PID
	p.usdtFile = f
	return nil
}

func usdtString(p *Plan) string {
	if p.Binary == "" {
		return "usdt, no probe given (--usdt)"
	}
	s := fmt.Sprintf("usdt %s:%s:%s", p.Binary, p.Group, p.Name)
	switch n := len(p.Sites); n {
	case 0:
	case 1:
		s += " (1 site)"
	default:
		s += fmt.Sprintf(" (%d sites)", n)
	}
	if p.PID != 0 {
		s += fmt.Sprintf(" pid %d", p.PID)
	}
	return s
}

// specTable hands out the slots of one __bpf_usdt_specs map: identical
// specs share a slot, freed when no attachment uses it. Programs of one
// collection share the map, so they share the table.
type specTable struct {
	size  uint32
	ids   map[string]uint32 // encoded spec → slot
	refs  map[uint32]int    // slot → attachments using it
	users int
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
	if l.maps != nil {
		for _, ip := range l.ips {
			l.maps.ips.Delete(ip)
		}
		l.ips = nil
		if l.table != nil {
			specTables.Lock()
			l.table.release(l.slots)
			l.table.users--
			if l.table.users == 0 {
				delete(specTables.m, l.maps.specsID)
			}
			specTables.Unlock()
			l.table = nil
		}
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
			t = &specTable{size: maps.specsSize, ids: map[string]uint32{}, refs: map[uint32]int{}}
			specTables.m[maps.specsID] = t
		}
		t.users++
		l.table = t
		for i, s := range sites {
			enc, err := (&usdt.Spec{Args: s.Args}).MarshalBinary()
			if err == nil {
				slots[i], err = t.acquire(maps.specs, enc)
			}
			if err != nil {
				specTables.Unlock()
				return nil, err
			}
			l.slots = append(l.slots, slots[i])
		}
		specTables.Unlock()
		if !cookies {
			if err := l.writeIPs(f, sites, slots, p.PID); err != nil {
				return nil, err
			}
		}
	}

	ex, err := link.OpenExecutable(p.Binary)
	if err != nil {
		return nil, err
	}
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
				return nil, fmt.Errorf("%w: this kernel has no uprobes (CONFIG_UPROBE_EVENTS off): %w", ErrNotSupported, err)
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
// their addresses come from the traced process's mappings.
func (l *usdtLink) writeIPs(f *usdt.File, sites []usdt.Site, slots []uint32, pid int) error {
	if l.maps.ips == nil {
		return fmt.Errorf("the program has no %s map, which kernels without BPF cookies need", usdtIPMap)
	}
	var mapping usdt.Mapping
	if f.Type != elf.ET_EXEC {
		if pid == 0 {
			return fmt.Errorf("%s is a PIE executable or a shared library: on kernels without BPF cookies (before 5.15) USDT needs --pid to know where it is loaded", f.Path)
		}
		var st unix.Stat_t
		if err := unix.Stat(f.Path, &st); err != nil {
			return err
		}
		mapping = usdt.Mapping{Major: unix.Major(st.Dev), Minor: unix.Minor(st.Dev), Inode: st.Ino}
	}
	for i, s := range sites {
		ip := s.PC
		if f.Type != elf.ET_EXEC {
			mf, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
			if err != nil {
				return fmt.Errorf("--pid %d: %w", pid, err)
			}
			ip, err = usdt.AbsIP(mf, mapping, s.Offset)
			mf.Close()
			if err != nil {
				return fmt.Errorf("process %d does not map %s: %w", pid, f.Path, err)
			}
		}
		if err := l.maps.ips.Put(int64(ip), slots[i]); err != nil {
			return fmt.Errorf("write %s: %w", usdtIPMap, err)
		}
		l.ips = append(l.ips, int64(ip))
	}
	return nil
}

// closeParallel bounds how many uprobes closeConcurrently closes at once.
const closeParallel = 64

// closeConcurrently closes links several at a time. Each uprobe's removal
// waits for an RCU grace period in the kernel (tens of milliseconds);
// closed one after another, 256 sites took 18 s, while concurrent closes
// share their grace periods.
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
