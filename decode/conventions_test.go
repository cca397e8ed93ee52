package decode

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

var (
	tU16  = &btf.Typedef{Name: "__u16", Type: tUShort}
	tBE16 = &btf.Typedef{Name: "__be16", Type: tU16}
	tBE32 = &btf.Typedef{Name: "__be32", Type: tU32}
	tBE64 = &btf.Typedef{Name: "__be64", Type: tU64}
	tLE16 = &btf.Typedef{Name: "__le16", Type: tU16}
)

// be appends big-endian (network order) data.
func (b le) be16(v uint16) le { return binary.BigEndian.AppendUint16(b, v) }
func (b le) be32(v uint32) le { return binary.BigEndian.AppendUint32(b, v) }
func (b le) be64(v uint64) le { return binary.BigEndian.AppendUint64(b, v) }
func (b le) ip(s string) le {
	a := netip.MustParseAddr(s)
	if a.Is4() {
		v := a.As4()
		return append(b, v[:]...)
	}
	v := a.As16()
	return append(b, v[:]...)
}

// ip4in16 is an IPv4 address in the first 4 of 16 bytes, as libbpf-tools
// fill a 16-byte saddr for AF_INET.
func (b le) ip4in16(s string) le {
	return append(b.ip(s), make([]byte, 12)...)
}

func TestByteOrderTypedefs(t *testing.T) {
	typ := st("ev", 24,
		mem("dport", tBE16, 0), mem("sport", tU16, 2),
		mem("n32", tBE32, 4), mem("n64", tBE64, 8),
		mem("ports", arr(tBE16, 2), 16), mem("l16", tLE16, 20),
		mem("cv", &btf.Const{Type: tBE16}, 22))
	data := le{}.be16(8080).u16(443).be32(0xdeadbeef).be64(1<<40 + 5).
		be16(53).be16(65535).u16(0x0102).be16(1)
	g := golden{
		name: "be", typ: typ, data: data,
		json: `{"dport":8080,"sport":443,"n32":3735928559,"n64":1099511627781,"ports":[53,65535],"l16":258,"cv":1}`,
		text: " 8080   443 3735928559    1099511627781 [53,65535]   258     1",
	}
	t.Run("be", g.check)

	// The program's byte order does not matter to __be and __le.
	bigData := append(le{}, data[:20]...)
	bigData = binary.BigEndian.AppendUint16(bigData, 0x0102)
	bigData = append(bigData, data[22:]...)
	// l16 is little-endian whatever the program's order: 0x0201 here.
	g2 := golden{
		name: "big-endian program", typ: typ, data: bigData, opts: &Options{ByteOrder: binary.BigEndian},
		json: `{"dport":8080,"sport":443,"n32":3735928559,"n64":1099511627781,"ports":[53,65535],"l16":513,"cv":1}`,
	}
	// sport is the program's order: 443 written big-endian.
	binary.BigEndian.PutUint16(g2.data[2:], 443)
	t.Run("big-endian program", g2.check)

	// Plain: as the C types say.
	g3 := golden{
		name: "plain", typ: typ, data: data, opts: &Options{Plain: true},
		json: `{"dport":36895,"sport":443,"n32":4022250974,"n64":360287970189705216,"ports":[13568,65535],"l16":258,"cv":256}`,
	}
	t.Run("plain", g3.check)
}

func TestIPv6Text(t *testing.T) {
	cases := []string{
		"::", "::1", "1::", "fe80::1", "2001:db8::1", "2001:db8:0:0:1:0:0:1", "2001:db8:0:1:1:1:1:1",
		"1:0:0:2:0:0:0:3", "1:0:2:0:3:0:4:0", "0:1:0:2:0:3:0:4", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		"::ffff:127.0.0.1", "::ffff:0.0.0.0", "::127.0.0.1", "64:ff9b::1.2.3.4", "::ffff:0:1",
	}
	check := func(b [16]byte) {
		want := netip.AddrFrom16(b).String()
		if got := string(appendIPv6(nil, b[:])); got != want {
			t.Errorf("%x: got %s, want %s", b, got, want)
		}
	}
	for _, c := range cases {
		check(netip.MustParseAddr(c).As16())
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b [16]byte
		for i := range 8 {
			// Mostly zero groups, to exercise the runs.
			if r.IntN(3) == 0 {
				binary.BigEndian.PutUint16(b[2*i:], uint16(r.IntN(0x10000)))
			}
		}
		if r.IntN(20) == 0 {
			copy(b[:12], []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff})
		}
		check(b)
	}
	if got := string(appendIPv4(nil, []byte{192, 168, 0, 255})); got != "192.168.0.255" {
		t.Errorf("IPv4: %s", got)
	}
}

// tcpconnect is libbpf-tools' tcpconnect event: anonymous unions of
// saddr_v4 and saddr_v6 chosen by af, a __u16 port already in host order.
func tcpconnect() *btf.Struct {
	saddr := &btf.Union{Size: 16, Members: []btf.Member{mem("saddr_v4", tU32, 0), mem("saddr_v6", arr(tU8, 16), 0)}}
	daddr := &btf.Union{Size: 16, Members: []btf.Member{mem("daddr_v4", tU32, 0), mem("daddr_v6", arr(tU8, 16), 0)}}
	return st("event", 56,
		mem("", saddr, 0), mem("", daddr, 16),
		mem("task", arr(tChar, 16), 32),
		mem("af", tU32, 48), mem("pid", tU32, 52))
}

func TestAddressPairs(t *testing.T) {
	typ := tcpconnect()
	v4 := le{}.ip4in16("127.0.0.1").ip4in16("10.1.2.3").str("curl", 16).u32(afInet).u32(42)
	v6 := le{}.ip("::1").ip("fe80::1").str("curl", 16).u32(afInet6).u32(42)
	unknown := le{}.ip4in16("1.2.3.4").ip("::2").str("x", 16).u32(0).u32(1)
	for _, g := range []golden{{
		name: "AF_INET", data: v4,
		json: `{"saddr_v4":"127.0.0.1","daddr_v4":"10.1.2.3","task":"curl","af":2,"pid":42}`,
		text: "127.0.0.1       10.1.2.3        curl                   2      42",
	}, {
		name: "AF_INET6", data: v6,
		json: `{"saddr_v6":"::1","daddr_v6":"fe80::1","task":"curl","af":10,"pid":42}`,
		text: "::1             fe80::1         curl                  10      42",
	}, {
		// Any other family shows the v4 member.
		name: "other family", data: unknown,
		json: `{"saddr_v4":"1.2.3.4","daddr_v4":"0.0.0.0","task":"x","af":0,"pid":1}`,
	}} {
		g.typ = typ
		t.Run(g.name, g.check)
	}
	d, err := New(typ, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h := string(d.AppendHeader(nil)); h != "SADDR           DADDR           TASK                  AF     PID" {
		t.Errorf("header %q", h)
	}
	var members []string
	for _, c := range d.Columns() {
		members = append(members, c.Member)
	}
	if strings.Join(members, ",") != "saddr,daddr,task,af,pid" {
		t.Errorf("columns %v", members)
	}
	// The v6 member first, as some tools declare it: same output.
	saddr := &btf.Union{Size: 16, Members: []btf.Member{mem("saddr_v6", arr(tU8, 16), 0), mem("saddr_v4", tU32, 0)}}
	rev := st("event", 24, mem("", saddr, 0), mem("family", tU16, 16))
	for _, g := range []golden{
		{name: "v6 first/4", data: le{}.ip4in16("1.2.3.4").u16(afInet).u16(0).u32(0), json: `{"saddr_v4":"1.2.3.4","family":2}`, text: "1.2.3.4              2"},
		{name: "v6 first/6", data: le{}.ip("2001:db8::7").u16(afInet6).u16(0).u32(0), json: `{"saddr_v6":"2001:db8::7","family":10}`, text: "2001:db8::7         10"},
	} {
		g.typ = rev
		t.Run(g.name, g.check)
	}

	// Without a family member both print, each as its type says.
	nofam := st("event", 20, mem("", saddr, 0), mem("pid", tU32, 16))
	t.Run("no family", golden{
		typ: nofam, data: le{}.ip4in16("1.2.3.4").u32(7),
		json: `{"saddr_v6":"102:304::","saddr_v4":"1.2.3.4","pid":7}`,
	}.check)

	// In a nested struct, the struct's own family member selects.
	outer := st("outer", 64, mem("ev", typ, 0), mem("n", tU32, 56))
	t.Run("nested", golden{
		typ: outer, data: append(v6, le{}.u32(9).u32(0)...),
		json: `{"ev":{"saddr_v6":"::1","daddr_v6":"fe80::1","task":"curl","af":10,"pid":42},"n":9}`,
		text: "{saddr_v6=::1 daddr_v6=fe80::1 task=curl af=10 pid=42}       9",
	}.check)
}

func TestAddressMembers(t *testing.T) {
	u128 := tU128
	u32x4 := arr(tU32, 4)
	inAddr := st("in_addr", 4, mem("s_addr", tBE32, 0))
	in6Addr := st("in6_addr", 16, mem("in6_u", &btf.Union{Size: 16, Members: []btf.Member{
		mem("u6_addr8", arr(tU8, 16), 0), mem("u6_addr32", arr(tBE32, 4), 0)}}, 0))
	sockaddrIn := st("sockaddr_in", 16, mem("sin_family", tU16, 0), mem("sin_port", tBE16, 2),
		mem("sin_addr", inAddr, 4), mem("zero", arr(tChar, 8), 8))
	cases := []golden{{
		// tcplife: unsigned __int128 saddr/daddr and a family member.
		name: "int128 with family v4",
		typ:  st("event", 40, mem("saddr", u128, 0), mem("daddr", u128, 16), mem("family", tU16, 32), mem("sport", tU16, 34), mem("dport", tU16, 36)),
		data: le{}.ip4in16("127.0.0.1").ip4in16("127.0.0.2").u16(afInet).u16(5000).u16(8080).u16(0),
		json: `{"saddr":"127.0.0.1","daddr":"127.0.0.2","family":2,"sport":5000,"dport":8080}`,
		text: "127.0.0.1       127.0.0.2            2  5000  8080",
	}, {
		name: "int128 with family v6",
		typ:  st("event", 40, mem("saddr", u128, 0), mem("daddr", u128, 16), mem("family", tU16, 32), mem("sport", tU16, 34), mem("dport", tU16, 36)),
		data: le{}.ip("::1").ip("::ffff:10.0.0.1").u16(afInet6).u16(5000).u16(8080).u16(0),
		json: `{"saddr":"::1","daddr":"::ffff:10.0.0.1","family":10,"sport":5000,"dport":8080}`,
	}, {
		// Without a family member 16 bytes are IPv6.
		name: "u32[4] without family",
		typ:  st("event", 36, mem("saddr", u32x4, 0), mem("daddr", arr(tUChar, 16), 16), mem("pid", tU32, 32)),
		data: le{}.ip("fe80::1:2").ip("::ffff:192.168.1.1").u32(5),
		json: `{"saddr":"fe80::1:2","daddr":"::ffff:192.168.1.1","pid":5}`,
	}, {
		// __u32 saddr is IPv4 in network order as stored, whatever af says.
		name: "u32 and be32",
		typ:  st("event", 16, mem("saddr", tU32, 0), mem("daddr", tBE32, 4), mem("src_ip", tU32, 8), mem("af", tU32, 12)),
		data: le{}.ip("127.0.0.1").ip("8.8.4.4").ip("1.1.1.1").u32(afInet6),
		json: `{"saddr":"127.0.0.1","daddr":"8.8.4.4","src_ip":"1.1.1.1","af":10}`,
	}, {
		// libbpf-bootstrap's sockfilter: __be32 src_addr, dst_addr.
		name: "src_addr and dst_addr",
		typ:  st("so_event", 12, mem("src_addr", tBE32, 0), mem("dst_addr", tBE32, 4), mem("raddr", tU32, 8)),
		data: le{}.ip("127.0.0.1").ip("10.1.2.3").ip("192.0.2.7"),
		json: `{"src_addr":"127.0.0.1","dst_addr":"10.1.2.3","raddr":"192.0.2.7"}`,
	}, {
		name: "in_addr and in6_addr",
		typ:  st("event", 20, mem("saddr", inAddr, 0), mem("daddr", in6Addr, 4)),
		data: le{}.ip("9.9.9.9").ip("2606:4700::1111"),
		json: `{"saddr":"9.9.9.9","daddr":"2606:4700::1111"}`,
	}, {
		// Not addresses: text in a char array, a sockaddr, other sizes,
		// other names, and a family of a kind that is not an integer.
		name: "not addresses",
		typ: st("event", 48, mem("saddr", arr(tChar, 16), 0), mem("daddr", sockaddrIn, 16),
			mem("saddr_v4", tU64, 32), mem("addr", tU32, 40), mem("dst_ip", tU16, 44)),
		data: le{}.str("10.0.0.1", 16).u16(2).be16(80).ip("1.2.3.4").str("", 8).u64(7).u32(1).u16(2).u16(0),
		json: `{"saddr":"10.0.0.1","daddr":{"sin_family":2,"sin_port":80,"sin_addr":{"s_addr":16909060},"zero":""},"saddr_v4":7,"addr":1,"dst_ip":2}`,
	}, {
		name: "plain",
		typ:  st("event", 8, mem("saddr", tU32, 0), mem("dport", tBE16, 4), mem("af", tU16, 6)),
		opts: &Options{Plain: true},
		data: le{}.ip("127.0.0.1").be16(80).u16(2),
		json: `{"saddr":16777343,"dport":20480,"af":2}`,
	}, {
		// unsigned char arrays are strings; __u8 and u8 arrays numbers.
		name: "unsigned char",
		typ: st("event", 40, mem("comm", arr(tUChar, 16), 0), mem("buf", arr(tU8, 8), 16),
			mem("u8s", arr(&btf.Typedef{Name: "u8", Type: tU8}, 8), 24), mem("cbuf", arr(&btf.Const{Type: tUChar}, 8), 32)),
		data: le{}.str("systemd", 16).str("ab", 8).str("cd", 8).str("é", 8),
		json: `{"comm":"systemd","buf":[97,98,0,0,0,0,0,0],"u8s":[99,100,0,0,0,0,0,0],"cbuf":"é"}`,
	}}
	for _, g := range cases {
		t.Run(g.name, g.check)
	}
}

func TestAddressTypedefs(t *testing.T) {
	ip4 := &btf.Typedef{Name: "ecc_ipv4_t", Type: tUInt}
	ip6 := &btf.Typedef{Name: "ecc_ipv6_t", Type: arr(tUChar, 16)}
	ipAny := &btf.Typedef{Name: "ecc_ip_t", Type: &btf.Union{Size: 16, Members: []btf.Member{
		mem("v4", tUInt, 0), mem("v6", arr(tUChar, 16), 0)}}}
	typ := st("flow", 44, mem("a", ip4, 0), mem("b", ip6, 4), mem("c", ipAny, 20), mem("c_family", tU16, 36),
		mem("list", arr(ip4, 1), 40))
	for _, g := range []golden{{
		name: "v4", typ: typ,
		data: le{}.ip("192.0.2.1").ip("2001:db8::1").ip4in16("198.51.100.7").u16(afInet).u16(0).ip("1.2.3.4"),
		json: `{"a":"192.0.2.1","b":"2001:db8::1","c":"198.51.100.7","c_family":2,"list":["1.2.3.4"]}`,
		text: "192.0.2.1       2001:db8::1               198.51.100.7           2 [1.2.3.4]",
	}, {
		name: "v6", typ: typ,
		data: le{}.ip("192.0.2.1").ip("::").ip("2001:db8::2").u16(afInet6).u16(0).ip("1.2.3.4"),
		json: `{"a":"192.0.2.1","b":"::","c":"2001:db8::2","c_family":10,"list":["1.2.3.4"]}`,
	}, {
		// Without a family member ecc_ip_t is IPv6.
		name: "no family", typ: st("flow", 16, mem("c", ipAny, 0)),
		data: le{}.ip("::1"),
		json: `{"c":"::1"}`,
	}, {
		// A typedef name that does not fit its type is ignored.
		name: "misfit", typ: st("x", 8, mem("a", &btf.Typedef{Name: "ecc_ipv4_t", Type: tU64}, 0)),
		data: le{}.u64(5),
		json: `{"a":5}`,
	}} {
		t.Run(g.name, g.check)
	}
}

func TestFormats(t *testing.T) {
	in := &btf.Union{Size: 16, Members: []btf.Member{mem("a4", tU32, 0), mem("a6", arr(tU8, 16), 0)}}
	typ := st("event", 48,
		mem("src", tU32, 0), mem("dst", arr(tU8, 16), 4), mem("port", tU16, 20), mem("flags", tU16, 22),
		mem("name", arr(tU8, 8), 24), mem("", in, 32))
	data := le{}.ip("10.0.0.1").ip("::1").be16(8080).u16(0x1f).str("eth0", 8).ip("fe80::2")
	formats := map[string]map[string]Format{"event": {
		"src": FormatIPv4, "dst": FormatIPv6, "port": FormatBE, "flags": FormatHex,
		"name": FormatString, "a4": FormatHex, "a6": FormatIPv6,
	}}
	t.Run("formats", golden{
		typ: typ, data: data, opts: &Options{Formats: formats},
		json: `{"src":"10.0.0.1","dst":"::1","port":8080,"flags":"0x1f","name":"eth0","a4":"0x80fe","a6":"fe80::2"}`,
		text: "10.0.0.1        ::1                        8080 0x1f   eth0     0x80fe     fe80::2",
	}.check)

	// Formats apply to the struct they name, nested too; raw undoes
	// conventions; others are untouched.
	named := st("event", 12, mem("saddr", tU32, 0), mem("p", tBE16, 4), mem("x", tU32, 8))
	outer := st("outer", 16, mem("e", named, 0), mem("saddr", tU32, 12))
	t.Run("raw", golden{
		typ: outer, data: le{}.ip("1.2.3.4").be16(80).u16(0).ip("0.0.0.1").ip("5.6.7.8"),
		opts: &Options{Formats: map[string]map[string]Format{"event": {"saddr": FormatRaw, "p": FormatRaw, "x": FormatIP}}},
		json: `{"e":{"saddr":67305985,"p":20480,"x":"0.0.0.1"},"saddr":"5.6.7.8"}`,
	}.check)
	t.Run("hex bytes", golden{
		typ: st("event", 16, mem("b", arr(tU8, 3), 0), mem("u", tU128, 0)), data: le{}.u8(1).u8(0xab).u8(0xff).str("", 13),
		opts: &Options{Formats: map[string]map[string]Format{"event": {"b": FormatHex, "u": FormatHex}}},
		json: `{"b":"0x01abff","u":"0x01abff00000000000000000000000000"}`,
	}.check)
	t.Run("be on a big-endian program", golden{
		typ: st("event", 4, mem("p", tU32, 0)), data: le{}.be32(7),
		opts: &Options{ByteOrder: binary.BigEndian, Formats: map[string]map[string]Format{"event": {"p": FormatBE}}},
		json: `{"p":7}`,
	}.check)

	for _, bad := range []struct {
		member string
		f      Format
		want   string
	}{
		{"port", FormatIPv4, "needs 4 bytes, not 2"},
		{"src", FormatIPv6, "needs 16 bytes, not 4"},
		{"dst", FormatBE, "needs an integer"},
		{"src", FormatString, "needs an array of bytes"},
		{"name", FormatIP, "needs 4 or 16 bytes, not 8"},
		{"src", "ipv5", `unknown format "ipv5"`},
	} {
		_, err := New(typ, &Options{Formats: map[string]map[string]Format{"event": {bad.member: bad.f}}})
		if !errors.Is(err, ErrUnsupportedType) || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), bad.member) {
			t.Errorf("%s as %s: %v, want an error with %q", bad.member, bad.f, err, bad.want)
		}
	}
	// Plain ignores formats (but still checks their names).
	if d, err := New(typ, &Options{Plain: true, Formats: map[string]map[string]Format{"event": {"port": FormatIPv4}}}); err != nil {
		t.Errorf("plain: %v", err)
	} else if js, _ := d.AppendJSON(nil, data); !strings.HasPrefix(string(js), `{"src":16777226,"dst":[0,`) {
		t.Errorf("plain: %s", js)
	}
}

func TestConventionsAllocs(t *testing.T) {
	d, err := New(tcpconnect(), nil)
	if err != nil {
		t.Fatal(err)
	}
	v6 := le{}.ip("::1").ip("fe80::1").str("curl", 16).u32(afInet6).u32(42)
	buf := make([]byte, 0, 4096)
	for _, data := range [][]byte{v6, v6[:40]} {
		if n := testing.AllocsPerRun(100, func() { buf, _ = d.AppendJSON(buf[:0], data) }); n != 0 {
			t.Errorf("AppendJSON of %d bytes allocates %v times", len(data), n)
		}
		if n := testing.AllocsPerRun(100, func() { buf, _ = d.AppendText(buf[:0], data) }); n != 0 {
			t.Errorf("AppendText of %d bytes allocates %v times", len(data), n)
		}
	}
}
