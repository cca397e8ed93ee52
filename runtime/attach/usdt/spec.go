package usdt

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// The layout of struct __bpf_usdt_spec in <bpf/usdt.bpf.h>:
//
//	struct __bpf_usdt_arg_spec {   // 16 bytes
//		__u64 val_off;             // 0
//		enum __bpf_usdt_arg_type arg_type; // 8 (libbpf ≥ 1.6: an 8-bit field
//		                           //    in the low byte, with zero bits after it)
//		short reg_off;             // 12
//		bool arg_signed;           // 14
//		char arg_bitshift;         // 15
//	};
//	struct __bpf_usdt_spec {
//		struct __bpf_usdt_arg_spec args[12]; // 0
//		__u64 usdt_cookie;         // 192
//		short arg_cnt;             // 200
//	};                             // 208 bytes
const (
	argSpecSize  = 16
	cookieOffset = MaxArgs * argSpecSize
	argCntOffset = cookieOffset + 8
	// SpecSize is sizeof(struct __bpf_usdt_spec), the value size of the
	// __bpf_usdt_specs map.
	SpecSize = 208
)

// Spec is what the BPF side reads for one probe site: struct
// __bpf_usdt_spec.
type Spec struct {
	Args []Arg
	// Cookie is what bpf_usdt_cookie() returns.
	Cookie uint64
}

// MarshalBinary encodes the spec as struct __bpf_usdt_spec in the host's
// byte order, the map value the BPF program reads.
func (s *Spec) MarshalBinary() ([]byte, error) {
	if len(s.Args) > MaxArgs {
		return nil, fmt.Errorf("%d arguments: at most %d", len(s.Args), MaxArgs)
	}
	b := make([]byte, SpecSize)
	bo := binary.NativeEndian
	for i, a := range s.Args {
		p := b[i*argSpecSize:]
		bo.PutUint64(p[0:], a.ValOff)
		bo.PutUint32(p[8:], uint32(a.Type))
		bo.PutUint16(p[12:], uint16(a.RegOff))
		if a.Signed {
			p[14] = 1
		}
		p[15] = byte(a.BitShift)
	}
	bo.PutUint64(b[cookieOffset:], s.Cookie)
	bo.PutUint16(b[argCntOffset:], uint16(len(s.Args)))
	return b, nil
}

// String describes the spec, e.g. "-4@%eax 8@-8(%rbp)".
func (s *Spec) String() string {
	t := make([]string, len(s.Args))
	for i := range s.Args {
		t[i] = s.Args[i].Text
	}
	return strings.Join(t, " ")
}
