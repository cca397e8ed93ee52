/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ecc compatibility layer for <bpf/bpf_tracing.h>.
 *
 * Includes the distribution's header (next include directory) and adds what
 * newer libbpf releases provide, each item only if it is still undefined:
 *
 *   BPF_UPROBE(name, args...)     uprobe handler with typed arguments
 *   BPF_URETPROBE(name, ret)      uretprobe handler with typed return value
 *
 * User-space probes receive the same struct pt_regs context as kprobes, so
 * the arguments are fetched exactly like BPF_KPROBE/BPF_KRETPROBE do.
 */
#ifndef __ECC_COMPAT_BPF_TRACING_H
#define __ECC_COMPAT_BPF_TRACING_H

#include <bpf/bpf_helpers.h>
#include_next <bpf/bpf_tracing.h>

#ifndef BPF_UPROBE
#define BPF_UPROBE(name, args...) BPF_KPROBE(name, ##args)
#endif

#ifndef BPF_URETPROBE
#define BPF_URETPROBE(name, args...) BPF_KRETPROBE(name, ##args)
#endif

/*
 * Cross builds on the host's BTF (ecc build --arch arm64 without --btf
 * arm64=FILE define __ECC_FOREIGN_BTF): the x86 vmlinux.h has no
 * struct user_pt_regs, which arm64's PT_REGS_* macros read. Declare it with
 * CO-RE relocations, so field accesses are fixed against the arm64 kernel's
 * own BTF at load time.
 */
#if defined(__ECC_FOREIGN_BTF) && defined(__TARGET_ARCH_arm64)
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
} __attribute__((preserve_access_index));
#endif

#endif /* __ECC_COMPAT_BPF_TRACING_H */
