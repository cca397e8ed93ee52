// Package symbol turns the addresses of stack traces into function names:
// kernel addresses with /proc/kallsyms, user addresses with the ELF symbol
// tables of the files a process maps.
//
//	r := symbol.NewResolver()
//	defer r.Close()
//	for _, ip := range kernelStack { fmt.Println(r.Kernel(ip)) } // do_nanosleep+0x3e
//	for _, ip := range userStack { fmt.Println(r.User(pid, ip)) } // getpid+0xb (libc.so.6)
//
// # Output
//
// Kernel addresses print as "name+0xOFF", followed by " [module]" when the
// symbol belongs to a module (" [bpf]" for BPF programs). User addresses
// print as "name+0xOFF (FILE)", FILE being the base name of the mapped
// file. The offset is always there, in hex, 0x0 included. An address that
// no symbol covers prints as "[unknown] (FILE)" when it lies in a mapped
// file (a stripped binary, a PLT stub) or a special mapping ("[unknown]
// ([heap])"), and as "[unknown]" otherwise: anonymous memory such as JIT
// code, a process that has exited, kernel symbols that are unavailable.
// Lookups never fail loudly: callers print the result as is, and may
// report [Resolver.KernelErr] once.
//
// # Kernel
//
// /proc/kallsyms is read once, at the first kernel lookup (or
// [Kernel.Load]), and indexed in a sorted slice searched by bisection.
// When kernel.kptr_restrict hides addresses (every one reads 0), the error
// says so and every lookup gives "[unknown]".
//
// # User space
//
// For a process, /proc/PID/maps is read at the first lookup and again when
// an address falls outside every known mapping (a library loaded since),
// at most once a second. Files are opened through /proc/PID/root, so
// processes in containers resolve against their own files; when the file
// at that path is no longer the one mapped (deleted or replaced by an
// upgrade), /proc/PID/map_files is used. The vDSO is read from the
// process's memory. Symbols come from .symtab and .dynsym (functions
// only), and from the separate debug file of /usr/lib/debug/.build-id when
// the file has no .symtab and one is installed. An address becomes a file
// offset (address - mapping start + mapping offset), then a virtual
// address through the PT_LOAD segment holding that offset, which works
// alike for executables (PIE or not) and shared libraries.
//
// Parsed files are shared by every process mapping them, keyed by device,
// inode, size and modification time. Up to 1024 processes are cached, the
// least recently used dropped first. A process ID reused by a new process
// within the cache's life may resolve against the old process's mappings
// until a lookup misses.
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
