package decode

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// Format names a way to print a value other than its C type says: what an
// `@format` doc comment above a member of an export header asks for (see
// [Options.Formats]), and what typedef names such as __be16 imply.
type Format string

const (
	// FormatIPv4 prints 4 bytes in memory order, network order as the
	// kernel stores addresses, as 1.2.3.4.
	FormatIPv4 Format = "ipv4"
	// FormatIPv6 prints 16 bytes as an IPv6 address in RFC 5952 text,
	// ::1, fe80::1, ::ffff:1.2.3.4.
	FormatIPv6 Format = "ipv6"
	// FormatIP prints 16 bytes as IPv4 (the first 4 bytes) when the
	// struct's family member is AF_INET (2), else as IPv6; 4 bytes as
	// IPv4.
	FormatIP Format = "ip"
	// FormatBE prints an integer of 2, 4 or 8 bytes stored in network
	// (big-endian) byte order in host order, as __be16 members print.
	FormatBE Format = "be"
	// FormatString prints an array of 1-byte integers (__u8[N]) as a
	// string, as char[N] prints.
	FormatString Format = "string"
	// FormatHex prints an integer of 1, 2, 4 or 8 bytes as 0x and its
	// value in hex, and any other value as 0x and its bytes in memory
	// order.
	FormatHex Format = "hex"
	// FormatRaw prints the value as its C type says, without the
	// member-name conventions and the typedef formats.
	FormatRaw Format = "raw"

	// formatLE is what __le16, __le32 and __le64 imply.
	formatLE Format = "le"
)

var formats = []Format{FormatIPv4, FormatIPv6, FormatIP, FormatBE, FormatString, FormatHex, FormatRaw}

// ParseFormat checks the name of a format.
func ParseFormat(s string) (Format, error) {
	if slices.Contains(formats, Format(s)) {
		return Format(s), nil
	}
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown format %q (known: %s)", s, strings.Join(names, ", "))
}

// Address families, as Linux numbers them.
const (
	afInet  = 2
	afInet6 = 10
)

type byteOrder uint8

const (
	orderData   byteOrder = iota // the decoder's byte order
	orderBig                     // network order
	orderLittle                  //
)

// famRef locates the member that holds an address family.
type famRef struct {
	off  int32 // relative to the struct for selectors, to the value for kInet
	size uint8
}

// selector shows a field only when the family member is AF_INET6 (v6) or
// anything else (!v6).
type selector struct {
	fam famRef
	v6  bool
}

// typedefFormats are the typedef names that imply a format (see doc.go).
var typedefFormats = map[string]Format{
	"__be16": FormatBE, "__be32": FormatBE, "__be64": FormatBE,
	"__le16": formatLE, "__le32": formatLE, "__le64": formatLE,
	// <ecc.h>
	"ecc_ipv4_t": FormatIPv4,
	"ecc_ipv6_t": FormatIPv6,
	"ecc_ip_t":   FormatIP,
}

// formatTypedef returns the first typedef of t's chain of typedefs and
// qualifiers whose name implies a format, or nil.
func formatTypedef(t btf.Type) *btf.Typedef {
	for range maxResolve {
		td, ok := btf.QualifiedType(t).(*btf.Typedef)
		if !ok {
			return nil
		}
		if _, ok := typedefFormats[td.Name]; ok {
			return td
		}
		t = td.Type
	}
	return nil
}

// compileTypedef compiles a typedef whose name implies a format. When the
// format does not fit the type (a __be16 that is not 2 bytes), the name
// is ignored.
func (c *compiler) compileTypedef(td *btf.Typedef, depth int) (*node, error) {
	if n, ok := c.memo[td]; ok {
		if n == inProgress {
			return nil, errorf("%v contains itself", td)
		}
		return n, nil
	}
	c.memo[td] = inProgress
	p, err := c.compile(td.Type, depth)
	if err != nil {
		delete(c.memo, td)
		return nil, err
	}
	n, err := formatNode(p, typedefFormats[td.Name])
	if err != nil {
		n = p
	}
	c.memo[td] = n
	return n, nil
}

// formatNode returns the node that prints values of p in format f.
func formatNode(p *node, f Format) (*node, error) {
	base := p
	if p.plain != nil {
		base = p.plain
	}
	fixed := func(k kind) *node {
		return &node{kind: k, size: base.size, cost: 1, plain: base}
	}
	switch f {
	case FormatRaw:
		return base, nil
	case FormatIPv4, FormatIPv6, FormatIP:
		if !addressable(base) {
			return nil, fmt.Errorf("format %s does not apply to a %s", f, base.describe())
		}
		switch {
		case base.size == 4 && f != FormatIPv6:
			return fixed(kIPv4), nil
		case base.size == 16 && f == FormatIPv6:
			return fixed(kIPv6), nil
		case base.size == 16 && f == FormatIP:
			return fixed(kInet), nil
		}
		want := "4 or 16"
		switch f {
		case FormatIPv4:
			want = "4"
		case FormatIPv6:
			want = "16"
		}
		return nil, fmt.Errorf("format %s needs %s bytes, not %d", f, want, base.size)
	case FormatBE, formatLE:
		if !isInt(base) || base.size == 1 {
			return nil, fmt.Errorf("format %s needs an integer of 2, 4 or 8 bytes, not a %s", f, base.describe())
		}
		n := fixed(kOrdered)
		n.order = orderBig
		if f == formatLE {
			n.order = orderLittle
		}
		return n, nil
	case FormatString:
		switch {
		case base.kind == kString:
			return base, nil
		case base.kind == kArray && (base.elem.kind == kU8 || base.elem.kind == kS8):
			return &node{kind: kString, size: base.size, cost: 1 + uint64(base.size)/16, plain: base}, nil
		}
		return nil, fmt.Errorf("format string needs an array of bytes, not a %s", base.describe())
	case FormatHex:
		switch {
		case isInt(base):
			n := fixed(kHex)
			if p.kind == kOrdered {
				n.order = p.order
			}
			return n, nil
		case addressable(base) || base.kind == kStruct || base.kind == kUnion:
			return fixed(kHexBytes), nil
		}
		return nil, fmt.Errorf("format hex does not apply to a %s", base.describe())
	}
	_, err := ParseFormat(string(f))
	return nil, err
}

// isInt reports whether n is an integer of 1, 2, 4 or 8 bytes.
func isInt(n *node) bool {
	switch n.kind {
	case kU8, kU16, kU32, kU64, kS8, kS16, kS32, kS64, kOrdered:
		return true
	}
	return false
}

// addressable reports whether the bytes of n may be an address: any
// value of fixed size but floats, pointers, bools and bitfields.
func addressable(n *node) bool {
	switch n.kind {
	case kBits, kPtr, kBool, kF16, kF32, kF64, kFRaw, kFlex, kFlexStr:
		return false
	}
	return n.size > 0
}

func (n *node) describe() string {
	switch n.kind {
	case kString, kArray:
		return fmt.Sprintf("%d-byte array", n.size)
	case kStruct:
		return fmt.Sprintf("%d-byte struct", n.size)
	case kUnion:
		return fmt.Sprintf("%d-byte union", n.size)
	case kBits:
		return "bitfield"
	case kPtr:
		return "pointer"
	case kF16, kF32, kF64, kFRaw:
		return "float"
	case kBool:
		return "bool"
	case kEnum:
		return "enum"
	}
	return fmt.Sprintf("%d-byte value", n.size)
}

// addrShape returns 4 or 16 when a member of type t, named as addresses
// are (addrName), holds an IPv4 or IPv6 address: integers of 4 or 16
// bytes, arrays of integers of that size but char arrays (which may hold
// the text of an address), struct in_addr and in6_addr, and unions of
// such integers and arrays. It returns 0 otherwise.
func addrShape(t btf.Type) uint32 {
	t = btf.UnderlyingType(t)
	size := func(s uint32) uint32 {
		if s == 4 || s == 16 {
			return s
		}
		return 0
	}
	switch v := t.(type) {
	case *btf.Int:
		if v.Encoding&btf.Bool == 0 {
			return size(v.Size)
		}
	case *btf.Array:
		if isPlainChar(v.Type) {
			return 0
		}
		if e, ok := btf.UnderlyingType(v.Type).(*btf.Int); ok && e.Encoding&btf.Bool == 0 {
			return size(e.Size * v.Nelems)
		}
	case *btf.Struct:
		if v.Name == "in_addr" && v.Size == 4 || v.Name == "in6_addr" && v.Size == 16 {
			return v.Size
		}
	case *btf.Union:
		if v.Name == "" || v.Name == "in6_addr" {
			for _, m := range v.Members {
				if m.BitfieldSize != 0 || addrShape(m.Type) == 0 && !isIntType(m.Type) {
					return 0
				}
			}
			return size(v.Size)
		}
	}
	return 0
}

func isIntType(t btf.Type) bool {
	i, ok := btf.UnderlyingType(t).(*btf.Int)
	return ok && i.Encoding&btf.Bool == 0
}

// addrBases are the member names that hold addresses in libbpf-tools,
// libbpf-bootstrap and common network programs; each may end in _v4 or
// _v6.
var addrBases = []string{"saddr", "daddr", "src_ip", "dst_ip", "src_addr", "dst_addr", "laddr", "raddr", "local_addr", "remote_addr"}

// addrName splits a member name that holds an address into its base and
// its suffix ("", "_v4" or "_v6").
func addrName(name string) (base, suffix string, ok bool) {
	base = name
	for _, s := range []string{"_v4", "_v6"} {
		if b, found := strings.CutSuffix(name, s); found {
			base, suffix = b, s
			break
		}
	}
	return base, suffix, slices.Contains(addrBases, base)
}

// isFamilyName reports whether a member named name holds an address
// family: af, family, or a name ending in _family (sa_family, ...).
func isFamilyName(name string) bool {
	return name == "af" || name == "family" || strings.HasSuffix(name, "_family")
}

// annotate decides how each field of a struct or union prints: by its
// type, the format Options.Formats gives it, or the conventions for
// members named as addresses. It runs again on the fields an anonymous
// member brings into its parent, so that a family member of the parent
// applies to them.
func (c *compiler) annotate(n *node, name string) error {
	var fam *field
	for i := range n.fields {
		f := &n.fields[i]
		if isFamilyName(f.name) {
			switch f.typ.kind {
			case kU8, kU16, kU32, kU64, kS8, kS16, kS32, kS64, kEnum:
				fam = f
			}
		}
		if fam != nil {
			break
		}
	}
	var overrides map[string]Format
	if name != "" && !c.plain {
		overrides = c.formats[name]
	}
	n.conds = false
	for i := range n.fields {
		f := &n.fields[i]
		f.node, f.sel, f.pair = f.typ, nil, 0
		if format, ok := overrides[f.name]; ok {
			fn, err := formatNode(f.typ, format)
			if err != nil {
				return errorf("struct %s member %s: %v", name, f.name, err)
			}
			f.node = fn
		} else if !c.plain {
			switch f.typ.kind {
			case kIPv4, kIPv6, kInet, kHex, kHexBytes:
				// The type says.
			default:
				if _, suffix, ok := addrName(f.name); ok && f.shape != 0 {
					switch {
					case f.shape == 4:
						f.node, _ = formatNode(f.typ, FormatIPv4)
					case suffix == "_v6":
						f.node, _ = formatNode(f.typ, FormatIPv6)
					default:
						f.node, _ = formatNode(f.typ, FormatIP)
					}
					if f.node == nil {
						f.node = f.typ
					}
				}
			}
		}
		if f.node.kind == kInet && fam != nil {
			inet := *f.node
			inet.fam = &famRef{off: int32(fam.off) - int32(f.off), size: uint8(fam.typ.size)}
			f.node = &inet
		}
	}
	if fam == nil || c.plain {
		return nil
	}
	// Address pairs: saddr_v4 and saddr_v6, usually in an anonymous
	// union; the family member selects the one that prints.
	for i := range n.fields {
		v4 := &n.fields[i]
		base, suffix, ok := addrName(v4.name)
		if !ok || suffix != "_v4" || v4.node.kind != kIPv4 || v4.pair != 0 {
			continue
		}
		for j := range n.fields {
			v6 := &n.fields[j]
			if v6.name != base+"_v6" || v6.pair != 0 || (v6.node.kind != kIPv6 && v6.node.kind != kInet) {
				continue
			}
			ref := famRef{off: int32(fam.off), size: uint8(fam.typ.size)}
			v4.sel = &selector{fam: ref}
			v6.sel = &selector{fam: ref, v6: true}
			v4.pair, v6.pair = int32(j+1), int32(i+1)
			n.conds = true
			break
		}
	}
	return nil
}

// family reads the family member ref at data[at:]; ok is false when data
// does not hold it.
func (d *Decoder) family(data []byte, at int, ref *famRef) (uint64, bool) {
	if at < 0 || at+int(ref.size) > len(data) {
		return 0, false
	}
	return d.uint(data, at, int(ref.size)), true
}

// shown reports whether a field with selector s of the struct at
// data[off:] prints.
func (d *Decoder) shown(data []byte, off int, s *selector) bool {
	v, ok := d.family(data, off+int(s.fam.off), &s.fam)
	return (ok && v == afInet6) == s.v6
}

// isV4 reports whether a kInet value at data[off:] holds an IPv4 address.
func (d *Decoder) isV4(data []byte, off int, n *node) bool {
	if n.fam == nil {
		return false
	}
	v, ok := d.family(data, off+int(n.fam.off), n.fam)
	return ok && v == afInet
}

// ordered reads the unsigned integer of a kOrdered or kHex node.
func (d *Decoder) ordered(data []byte, off int, n *node) uint64 {
	b := data[off : off+int(n.size)]
	big := n.order == orderBig || n.order == orderData && d.be
	var v uint64
	if big {
		for _, c := range b {
			v = v<<8 | uint64(c)
		}
	} else {
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
	}
	return v
}
