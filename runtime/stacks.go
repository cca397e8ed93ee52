package runtime

import (
	"encoding/binary"
	"encoding/json"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/runtime/symbol"
)

// Stacks in events are found by member names, as BCC's and eunomia's tools
// name them:
//   - kstack / ustack (or kernel_stack / user_stack): arrays of u64 return
//     addresses, with an optional length member NAME_len / NAME_depth
//     (frames) or NAME_sz / NAME_size (bytes); without one, frames run to
//     the first zero;
//   - kstack_id / ustack_id (or kern_stack_id / user_stack_id): ids into the
//     object's BPF_MAP_TYPE_STACK_TRACE map.
// User stacks are resolved in the process named by a pid / tgid member.

type stackField struct {
	member string // the array or id member
	kernel bool
	// array of addresses
	off, n int
	// length member (-1: none), its size, and whether it counts bytes
	lenOff, lenSize int
	lenBytes        bool
	// stack id member instead of an array
	id     bool
	idSize int
	json   string // JSON key of the symbolised frames
}

type stackPrinter struct {
	fields []stackField
	// raw names the address-array members, left out of text rows since
	// their frames are printed symbolised below the row.
	raw []string
	// lens names the length members of those arrays: what they say is in
	// the frames, so text rows leave them out too.
	lens    []string
	pidOff  int // -1: none
	pidSize int
	f       *stackPrinterFactory
}

type stackPrinterFactory struct {
	r        *runner
	once     sync.Once
	resolver *symbol.Resolver
	stackMap *ebpf.Map
	order    binary.ByteOrder
}

func newStackPrinterFactory(r *runner) *stackPrinterFactory {
	f := &stackPrinterFactory{r: r, order: r.spec.ByteOrder}
	if f.order == nil {
		f.order = binary.NativeEndian
	}
	for name, ms := range r.spec.Maps {
		if ms.Type == ebpf.StackTrace {
			f.stackMap = r.maps[name]
			break
		}
	}
	return f
}

func (f *stackPrinterFactory) syms() *symbol.Resolver {
	f.once.Do(func() {
		f.resolver = symbol.NewResolver()
		f.r.after = append(f.r.after, f.resolver.Close)
	})
	return f.resolver
}

func member(st *btf.Struct, names ...string) (btf.Member, bool) {
	for _, n := range names {
		for _, m := range st.Members {
			if m.Name == n && m.BitfieldSize == 0 {
				return m, true
			}
		}
	}
	return btf.Member{}, false
}

func intSize(t btf.Type) int {
	if it, ok := btf.UnderlyingType(t).(*btf.Int); ok && it.Size <= 8 {
		return int(it.Size)
	}
	return 0
}

// forType returns a stack printer for events of type t, or nil when they
// carry no stacks.
func (f *stackPrinterFactory) forType(t btf.Type) *stackPrinter {
	st, ok := btf.UnderlyingType(t).(*btf.Struct)
	if !ok {
		return nil
	}
	p := &stackPrinter{f: f, pidOff: -1}
	for _, kind := range []struct {
		kernel bool
		names  []string
		ids    []string
	}{
		{true, []string{"kstack", "kernel_stack", "kstack_addrs"}, []string{"kstack_id", "kern_stack_id", "kernel_stack_id"}},
		{false, []string{"ustack", "user_stack", "ustack_addrs"}, []string{"ustack_id", "user_stack_id"}},
	} {
		jsonKey := "ustack_syms"
		if kind.kernel {
			jsonKey = "kstack_syms"
		}
		if m, ok := member(st, kind.names...); ok {
			a, isArr := btf.UnderlyingType(m.Type).(*btf.Array)
			if isArr && intSize(a.Type) == 8 {
				sf := stackField{member: m.Name, kernel: kind.kernel, off: int(m.Offset.Bytes()), n: int(a.Nelems), lenOff: -1, json: jsonKey}
				for _, suffix := range []string{"_len", "_depth", "_sz", "_size", "_nr"} {
					if lm, ok := member(st, m.Name+suffix); ok && intSize(lm.Type) > 0 {
						sf.lenOff, sf.lenSize = int(lm.Offset.Bytes()), intSize(lm.Type)
						sf.lenBytes = suffix == "_sz" || suffix == "_size"
						p.lens = append(p.lens, lm.Name)
						break
					}
				}
				p.fields = append(p.fields, sf)
				p.raw = append(p.raw, m.Name)
				continue
			}
		}
		if m, ok := member(st, kind.ids...); ok && intSize(m.Type) > 0 && f.stackMap != nil {
			p.fields = append(p.fields, stackField{member: m.Name, kernel: kind.kernel, id: true, off: int(m.Offset.Bytes()), idSize: intSize(m.Type), json: jsonKey})
		}
	}
	if len(p.fields) == 0 {
		return nil
	}
	if m, ok := member(st, "pid", "tgid"); ok && intSize(m.Type) > 0 {
		p.pidOff, p.pidSize = int(m.Offset.Bytes()), intSize(m.Type)
	}
	return p
}

// only returns a printer of the stacks whose member keep says to print,
// nil when none is left.
func (p *stackPrinter) only(keep func(member string) bool) *stackPrinter {
	if p == nil {
		return nil
	}
	c := *p
	c.fields = nil
	for _, sf := range p.fields {
		if keep(sf.member) {
			c.fields = append(c.fields, sf)
		}
	}
	if len(c.fields) == 0 {
		return nil
	}
	return &c
}

// frames returns the symbolised frames of one stack field of an event.
func (p *stackPrinter) frames(sf *stackField, data []byte) []string {
	f := p.f
	var addrs []uint64
	if sf.id {
		if sf.off+sf.idSize > len(data) {
			return nil
		}
		id := int64(readUint(f.order, data[sf.off:], sf.idSize))
		if sf.idSize == 4 {
			id = int64(int32(id))
		}
		if id < 0 {
			return nil
		}
		var raw []byte
		if err := f.stackMap.Lookup(uint32(id), &raw); err != nil {
			return nil
		}
		for i := 0; i+8 <= len(raw); i += 8 {
			a := f.order.Uint64(raw[i:])
			if a == 0 {
				break
			}
			addrs = append(addrs, a)
		}
	} else {
		n := sf.n
		if sf.lenOff >= 0 && sf.lenOff+sf.lenSize <= len(data) {
			l := int(readUint(f.order, data[sf.lenOff:], sf.lenSize))
			if sf.lenBytes {
				l /= 8
			}
			if l >= 0 && l < n {
				n = l
			}
		}
		for i := 0; i < n && sf.off+8*i+8 <= len(data); i++ {
			a := f.order.Uint64(data[sf.off+8*i:])
			if a == 0 {
				if sf.lenOff < 0 {
					break
				}
				continue
			}
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil
	}
	res := f.syms()
	var pid uint32
	if p.pidOff >= 0 && p.pidOff+p.pidSize <= len(data) {
		pid = uint32(readUint(f.order, data[p.pidOff:], p.pidSize))
	}
	out := make([]string, len(addrs))
	for i, a := range addrs {
		if sf.kernel {
			out[i] = res.Kernel(a)
		} else {
			out[i] = res.User(pid, a)
		}
	}
	return out
}

// appendText appends the stacks after a text row, one frame per line.
func (p *stackPrinter) appendText(b []byte, data []byte) []byte {
	for i := range p.fields {
		sf := &p.fields[i]
		fr := p.frames(sf, data)
		if len(fr) == 0 {
			continue
		}
		b = append(b, '\n')
		label := "    [user]"
		if sf.kernel {
			label = "    [kernel]"
		}
		b = append(b, label...)
		for _, s := range fr {
			b = append(b, "\n        "...)
			b = append(b, s...)
		}
	}
	return b
}

// appendJSON adds "kstack_syms"/"ustack_syms" arrays to an event object.
func (p *stackPrinter) appendJSON(b []byte, data []byte) []byte {
	if len(b) == 0 || b[len(b)-1] != '}' {
		return b
	}
	var extra []byte
	for i := range p.fields {
		sf := &p.fields[i]
		fr := p.frames(sf, data)
		if fr == nil {
			fr = []string{}
		}
		js, _ := json.Marshal(fr)
		extra = append(extra, ',')
		extra = append(extra, '"')
		extra = append(extra, sf.json...)
		extra = append(extra, `":`...)
		extra = append(extra, js...)
	}
	b = b[:len(b)-1]
	if strings.HasSuffix(string(b), "{") && len(extra) > 0 {
		extra = extra[1:]
	}
	b = append(b, extra...)
	return append(b, '}')
}
