package attach

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// forceLegacyTC makes Kind TC skip TCX (tests of the fallback).
var forceLegacyTC bool

// attachTC attaches a sched_cls program: with a TCX link (6.6+); for Kind
// TC on kernels without TCX, through a clsact qdisc and a direct-action
// bpf filter, as tc(8) and libbpf's bpf_tc_attach do.
func attachTC(prog *ebpf.Program, p *Plan) (Link, error) {
	idx, err := ifIndex(p.IfName)
	if err != nil {
		return nil, err
	}
	var errTCX error
	if !(forceLegacyTC && p.Kind == TC) {
		l, err := link.AttachTCX(link.TCXOptions{Interface: idx, Program: prog, Attach: p.Attach})
		if err == nil {
			return single(l, fmt.Sprintf("tcx %s on %s", direction(p.Attach), p.IfName)), nil
		}
		if p.Kind == TCX || !errors.Is(err, ebpf.ErrNotSupported) {
			return nil, err
		}
		errTCX = err
	}
	l, err := attachLegacyTC(prog, idx, p)
	if err != nil {
		if errTCX != nil {
			return nil, &fallbackError{text: fmt.Sprintf("tcx: %v; clsact filter: %v", errTCX, err), err: err}
		}
		return nil, err
	}
	return l, nil
}

// Netlink and tc constants missing from x/sys/unix (linux/pkt_sched.h,
// linux/pkt_cls.h).
const (
	tcHClsact     = 0xFFFFFFF1 // TC_H_CLSACT (== TC_H_INGRESS)
	tcHMinIngress = 0xFFF2
	tcHMinEgress  = 0xFFF3
	tcaBPFFD      = 6 // TCA_BPF_FD
	tcaBPFName    = 7 // TCA_BPF_NAME
	tcaBPFFlags   = 8 // TCA_BPF_FLAGS
	tcaBPFFlagAct = 1 // TCA_BPF_FLAG_ACT_DIRECT
	sizeofTcMsg   = 20
)

// tcFilter is a bpf filter under a clsact qdisc, which Close deletes.
type tcFilter struct {
	desc    string
	ifindex int32
	parent  uint32
	handle  uint32
	info    uint32 // priority << 16 | protocol
}

func (f *tcFilter) String() string     { return f.desc }
func (f *tcFilter) Links() []link.Link { return nil }

func (f *tcFilter) Close() error {
	if f.handle == 0 {
		return nil
	}
	msg := tcMsg(f.ifindex, f.handle, f.parent, f.info)
	msg = appendAttr(msg, unix.TCA_KIND, cstr("bpf"))
	_, err := netlinkRequest(unix.RTM_DELTFILTER, 0, msg)
	f.handle = 0
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete tc filter on %s: %w", f.desc, err)
	}
	return nil
}

func attachLegacyTC(prog *ebpf.Program, ifindex int, p *Plan) (Link, error) {
	// clsact qdisc: create it unless it exists (it stays after Close, as
	// with tc(8); it is harmless and may hold other filters).
	q := tcMsg(int32(ifindex), 0xFFFF0000, tcHClsact, 0)
	q = appendAttr(q, unix.TCA_KIND, cstr("clsact"))
	if _, err := netlinkRequest(unix.RTM_NEWQDISC, unix.NLM_F_CREATE|unix.NLM_F_EXCL, q); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("create clsact qdisc on %s: %w", p.IfName, err)
	}

	minor := uint32(tcHMinIngress)
	if p.Attach == ebpf.AttachTCXEgress {
		minor = tcHMinEgress
	}
	parent := tcHClsact&0xFFFF0000 | minor
	proto := uint32(htons(unix.ETH_P_ALL))
	// Priority 0 and handle 0: the kernel picks free ones and echoes them.
	f := tcMsg(int32(ifindex), 0, parent, proto)
	f = appendAttr(f, unix.TCA_KIND, cstr("bpf"))
	var opts []byte
	opts = appendAttr(opts, tcaBPFFD, u32(uint32(prog.FD())))
	opts = appendAttr(opts, tcaBPFName, cstr(p.Program))
	opts = appendAttr(opts, tcaBPFFlags, u32(tcaBPFFlagAct))
	f = appendAttr(f, unix.TCA_OPTIONS, opts)
	echo, err := netlinkRequest(unix.RTM_NEWTFILTER, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ECHO, f)
	if err != nil {
		return nil, fmt.Errorf("add bpf filter to clsact on %s: %w", p.IfName, err)
	}
	if len(echo) < sizeofTcMsg {
		return nil, fmt.Errorf("add bpf filter to clsact on %s: the kernel did not echo the new filter", p.IfName)
	}
	filt := &tcFilter{
		desc:    fmt.Sprintf("tc %s on %s (clsact bpf filter)", direction(p.Attach), p.IfName),
		ifindex: int32(ifindex),
		parent:  parent,
		handle:  binary.NativeEndian.Uint32(echo[8:12]),
		info:    binary.NativeEndian.Uint32(echo[16:20]),
	}
	return filt, nil
}

func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func cstr(s string) []byte { return append([]byte(s), 0) }

// tcMsg builds a struct tcmsg.
func tcMsg(ifindex int32, handle, parent, info uint32) []byte {
	b := make([]byte, sizeofTcMsg) // family, pad
	binary.NativeEndian.PutUint32(b[4:], uint32(ifindex))
	binary.NativeEndian.PutUint32(b[8:], handle)
	binary.NativeEndian.PutUint32(b[12:], parent)
	binary.NativeEndian.PutUint32(b[16:], info)
	return b
}

func align4(n int) int { return (n + 3) &^ 3 }

// appendAttr appends a netlink attribute (struct rtattr + value, padded).
func appendAttr(b []byte, typ uint16, val []byte) []byte {
	n := unix.SizeofRtAttr + len(val)
	b = binary.NativeEndian.AppendUint16(b, uint16(n))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, val...)
	for i := n; i < align4(n); i++ {
		b = append(b, 0)
	}
	return b
}

var nlSeq atomic.Uint32

// netlinkRequest sends one NETLINK_ROUTE request and waits for its
// acknowledgement. It returns the payload of the first message of the
// same type that arrives before the ack (what NLM_F_ECHO sends back).
func netlinkRequest(typ, flags uint16, payload []byte) ([]byte, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	seq := nlSeq.Add(1)
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(payload))
	binary.NativeEndian.PutUint32(msg[0:], uint32(unix.SizeofNlMsghdr+len(payload)))
	binary.NativeEndian.PutUint16(msg[4:], typ)
	binary.NativeEndian.PutUint16(msg[6:], flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(msg[8:], seq)
	msg = append(msg, payload...)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("netlink send: %w", err)
	}
	var echo []byte
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("netlink receive: %w", err)
		}
		for b := buf[:n]; len(b) >= unix.SizeofNlMsghdr; {
			l := int(binary.NativeEndian.Uint32(b[0:]))
			if l < unix.SizeofNlMsghdr || l > len(b) {
				return nil, errors.New("netlink: truncated message")
			}
			mtyp := binary.NativeEndian.Uint16(b[4:])
			mseq := binary.NativeEndian.Uint32(b[8:])
			body := b[unix.SizeofNlMsghdr:l]
			b = b[min(align4(l), len(b)):]
			if mseq != seq {
				continue
			}
			switch mtyp {
			case unix.NLMSG_ERROR:
				if len(body) < 4 {
					return nil, errors.New("netlink: short error message")
				}
				if errno := -int32(binary.NativeEndian.Uint32(body)); errno != 0 {
					return nil, os.NewSyscallError("netlink", unix.Errno(errno))
				}
				return echo, nil
			case unix.NLMSG_DONE:
				return echo, nil
			case typ:
				if echo == nil {
					echo = append([]byte(nil), body...)
				}
			}
		}
	}
}
