// Package loader creates a BPF object's maps and programs in the kernel, as
// ecli runs them: maps sized where the object leaves it to the loader, no
// pinning, CO-RE relocations from a cache per (object, kernel), and — when
// the whole collection does not load — programs loaded one by one against
// shared maps, so that those the kernel refuses are skipped and reported
// instead of failing the others (libbpf-tools' alternative pairs).
//
// # __kconfig externs
//
// A program may declare
//
//	extern __u32 LINUX_KERNEL_VERSION __kconfig;
//	extern bool CONFIG_BPF_SYSCALL __kconfig __weak;
//
// and read values the loader fills in from the running kernel: libbpf's
// LINUX_* virtual externs and the options of the kernel's build
// configuration. bpfobj.LoadSpec keeps them away from cilium/ebpf (see
// there why); ResolveKconfig gives them libbpf's values, in a read-only
// array map ".kconfig" (cilium/ebpf freezes maps of that name, so the
// verifier knows the values and prunes branches on them), and points the
// programs' loads of the externs into it.
//
// Values, as libbpf gives them:
//   - LINUX_KERNEL_VERSION: KERNEL_VERSION(a, b, c) of the running kernel,
//     c clamped to 255; Ubuntu's upstream version from
//     /proc/version_signature, Debian's from uname -v (their uname -r does
//     not carry the upstream sublevel).
//   - LINUX_HAS_SYSCALL_WRAPPER: whether the kernel's syscalls have
//     arch-prefixed wrappers (__x64_sys_bpf in /proc/kallsyms).
//   - LINUX_HAS_BPF_COOKIE: whether programs can call bpf_get_attach_cookie.
//   - CONFIG_*: from /boot/config-$(uname -r), else /proc/config.gz, or the
//     file $ECLI_KERNEL_CONFIG names. y/n/m for bool (m refused), char
//     ('y', 'n', 'm') and enum libbpf_tristate; numbers (decimal, hex,
//     octal, negative) for integers of any size and char; strings for char
//     arrays (truncated to fit, NUL-terminated). "# CONFIG_X is not set"
//     reads as n for bool and tristate externs (libbpf refuses strong
//     ones), and as missing for the others.
//
// Externs of any integer type are accepted through typedefs and
// qualifiers. An extern neither the kernel nor its config has is zero when
// declared __weak, and an error otherwise.
package loader
