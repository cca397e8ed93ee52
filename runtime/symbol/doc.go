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
