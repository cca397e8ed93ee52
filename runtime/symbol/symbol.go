package symbol

import (
	"path/filepath"
	"strconv"
	"sync/atomic"
)

// Unknown is printed for addresses that cannot be resolved.
const Unknown = "[unknown]"

// Symbol is a resolved address.
type Symbol struct {
	// Name of the function; "" when only Module is known.
	Name string
	// Offset of the address from the start of the function.
	Offset uint64
	// Module: for kernel symbols the module ("" for the kernel image), for
	// user symbols the mapped file as /proc/PID/maps names it, or a special
	// mapping such as "[vdso]".
	Module string
}

// userString formats a user symbol.
func (s Symbol) userString() string {
	if s.Name == "" && s.Module == "" {
		return Unknown
	}
	b := make([]byte, 0, len(s.Name)+len(s.Module)+24)
	if s.Name == "" {
		b = append(b, Unknown...)
	} else {
		b = append(b, s.Name...)
		b = append(b, "+0x"...)
		b = strconv.AppendUint(b, s.Offset, 16)
	}
	if s.Module != "" {
		b = append(b, " ("...)
		base := s.Module
		if base[0] != '[' {
			base = filepath.Base(base)
		}
		b = append(b, base...)
		b = append(b, ')')
	}
	return string(b)
}

// Resolver resolves kernel and user addresses, caching what it reads. It
// is safe for concurrent use.
type Resolver struct {
	kernel atomic.Pointer[Kernel]
	user   *userCache
}

// NewResolver returns a Resolver. Nothing is read until the first lookup.
func NewResolver() *Resolver {
	r := &Resolver{user: newUserCache()}
	r.kernel.Store(NewKernel())
	return r
}

// Kernel formats a kernel address: "name+0xOFF", "name+0xOFF [module]" or
// "[unknown]".
func (r *Resolver) Kernel(addr uint64) string { return r.kernel.Load().Format(addr) }

// KernelSymbol resolves a kernel address; ok is false when no symbol
// covers it.
func (r *Resolver) KernelSymbol(addr uint64) (sym Symbol, ok bool) {
	return r.kernel.Load().Symbol(addr)
}

// KernelErr says why kernel addresses resolve to "[unknown]", or is nil.
// It loads the kernel symbols if needed.
func (r *Resolver) KernelErr() error { return r.kernel.Load().Err() }

// KernelSymbols returns the kernel symbol table in use.
func (r *Resolver) KernelSymbols() *Kernel { return r.kernel.Load() }

// User formats an address of process pid: "name+0xOFF (FILE)",
// "[unknown] (FILE)" or "[unknown]".
func (r *Resolver) User(pid uint32, addr uint64) string {
	s, _ := r.UserSymbol(pid, addr)
	return s.userString()
}

// UserSymbol resolves an address of process pid; ok is false when no
// symbol covers it, in which case sym.Module may still name the mapping.
func (r *Resolver) UserSymbol(pid uint32, addr uint64) (sym Symbol, ok bool) {
	return r.user.lookup(pid, addr)
}

// Close drops everything the Resolver has read, to free memory. The
// Resolver stays usable and reads again what later lookups need, which
// also picks up kernel symbols added since (modules, BPF programs).
func (r *Resolver) Close() {
	r.kernel.Store(NewKernelFile(r.kernel.Load().path))
	r.user.reset()
}
