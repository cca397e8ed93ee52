package attach

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// socketLink is a socket filter attached to an AF_PACKET socket of its
// own; closing the socket detaches it.
type socketLink struct {
	fd   int
	desc string
}

func (s *socketLink) String() string     { return s.desc }
func (s *socketLink) Links() []link.Link { return nil }

func (s *socketLink) Close() error {
	if s.fd < 0 {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return err
}

// attachSocket opens a raw AF_PACKET socket, attaches the program with
// SO_ATTACH_BPF, then binds the socket to the interface for every protocol
// (ETH_P_ALL). The program so sees every packet sent or received on the
// interface, but it only filters what reaches this socket, which nobody
// reads: it observes traffic, it cannot drop it.
func attachSocket(prog *ebpf.Program, p *Plan) (Link, error) {
	idx, err := ifIndex(p.IfName)
	if err != nil {
		return nil, err
	}
	// Protocol 0 until bound: no packet is queued before the filter is in place.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open AF_PACKET socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ATTACH_BPF, prog.FD()); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("SO_ATTACH_BPF: %w", err)
	}
	// Keep the queue small: the runtime never reads from the socket.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4096)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: idx}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind AF_PACKET socket to %s: %w", p.IfName, err)
	}
	return &socketLink{fd: fd, desc: p.String()}, nil
}
