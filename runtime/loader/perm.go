package loader

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/ecc-bpf/ecc/packager/capability"
	"github.com/ecc-bpf/ecc/packager/section"
	"github.com/ecc-bpf/ecc/runtime/attach"
)

// ErrPermission is matched (errors.Is) by every *PermissionError.
var ErrPermission = errors.New("not permitted")

// Need is a capability some programs of a package need besides CAP_BPF
// and CAP_PERFMON, and why (packager/capability).
type Need = capability.Need

// Needs are what loading and attaching a package's programs take: root,
// or CAP_BPF and CAP_PERFMON and the Extra ones (packager/capability).
type Needs = capability.Needs

// The capabilities Needs name, by number.
var capNumbers = map[string]int{
	"CAP_BPF":       unix.CAP_BPF,
	"CAP_PERFMON":   unix.CAP_PERFMON,
	"CAP_NET_ADMIN": unix.CAP_NET_ADMIN,
	"CAP_NET_RAW":   unix.CAP_NET_RAW,
	"CAP_SYS_ADMIN": unix.CAP_SYS_ADMIN,
	// tracefs is root's alone (mode 0700) where it is mounted by default.
	"CAP_DAC_READ_SEARCH": unix.CAP_DAC_READ_SEARCH,
}

// NeedsOf says which capabilities the planned programs of spec need
// besides CAP_BPF and CAP_PERFMON (capability.Of: the table is shared
// with ecc deploy).
func NeedsOf(spec *ebpf.CollectionSpec, plans map[string]*attach.Plan) Needs {
	kinds := make(map[string]section.Kind, len(plans))
	for name, plan := range plans {
		if plan != nil {
			kinds[name] = plan.Kind
		}
	}
	return capability.Of(spec, kinds)
}

// missing lists the capabilities of n that the effective set eff lacks.
// CAP_SYS_ADMIN stands in for those the kernel's BPF checks take it for
// (bpf_token_capable): CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN.
func missing(n Needs, eff uint64) []string {
	has := func(name string) bool {
		if eff&(1<<capNumbers[name]) != 0 {
			return true
		}
		switch name {
		case "CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN":
			return eff&(1<<unix.CAP_SYS_ADMIN) != 0
		}
		return false
	}
	var out []string
	for _, c := range append([]string{"CAP_BPF", "CAP_PERFMON"}, n.Caps()...) {
		if !has(c) {
			out = append(out, c)
		}
	}
	return out
}

// PermissionError is the kernel refusing to create a map or to load or
// attach a program (EPERM, EACCES) to a process that lacks capabilities
// the package needs. The kernel's error is in its chain.
type PermissionError struct {
	// Op is what was refused: "loading" or "attaching".
	Op string
	// Needs are the package's extra needs; Missing the capabilities this
	// process lacks of them and of CAP_BPF and CAP_PERFMON.
	Needs   Needs
	Missing []string
	Err     error
}

// Error is one line: e.g. "loading needs root or CAP_BPF and CAP_PERFMON
// (this package also attaches XDP: CAP_NET_ADMIN); this process lacks
// CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN".
func (e *PermissionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s needs root or CAP_BPF and CAP_PERFMON", e.Op)
	if len(e.Needs.Extra) > 0 {
		b.WriteString(" (this package also ")
		for i, need := range e.Needs.Extra {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(need.Why + ": " + need.Cap)
		}
		b.WriteString(")")
	}
	b.WriteString("; this process lacks " + joinAnd(e.Missing))
	return b.String()
}

func (e *PermissionError) Unwrap() error { return e.Err }

func (e *PermissionError) Is(target error) bool { return target == ErrPermission }

func joinAnd(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// effectiveCaps reads this process's effective capability set.
var effectiveCaps = func() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, err
	}
	return uint64(data[0].Effective) | uint64(data[1].Effective)<<32, nil
}

// Permission returns err as a *PermissionError when it is the kernel's
// EPERM or EACCES and this process lacks a capability n or BPF itself
// needs; otherwise err unchanged (a process with every capability gets
// EPERM for other reasons: fentry under lockdown, a memlock limit).
func Permission(op string, err error, n Needs) error {
	if err == nil || !errors.Is(err, os.ErrPermission) {
		return err
	}
	eff, cerr := effectiveCaps()
	if cerr != nil {
		return err
	}
	missing := missing(n, eff)
	if len(missing) == 0 {
		return err
	}
	return &PermissionError{Op: op, Needs: n, Missing: missing, Err: err}
}
