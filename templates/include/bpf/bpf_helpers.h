/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ecc compatibility layer for <bpf/bpf_helpers.h>.
 *
 * ecc puts templates/include on the include path ahead of the system
 * directories, so `#include <bpf/bpf_helpers.h>` lands here first.  We pull in
 * the real header from the next include directory (the distribution's libbpf,
 * e.g. Debian's 1.1) and then fill in the few conveniences that newer libbpf
 * releases ship.  Every addition sits behind an #ifndef, so against a libbpf
 * that already provides an item this file contributes nothing for it.
 *
 * Added when missing:
 *   __ulong(name, val)             64-bit map attribute (e.g. map_extra)
 *   bpf_ksym_exists(sym)           run-time test for a __weak ksym/kfunc
 *   bpf_for(i, start, end)         open-coded numeric iterator loop
 *   bpf_repeat(n)                  loop body executed n times
 *   bpf_for_each(type, cur, ...)   generic open-coded iterator loop
 *   bpf_iter_num_{new,next,destroy} kfunc declarations used by the loops
 *
 * The iterator loops need kernel >= 6.4 and the `struct bpf_iter_num` type
 * from vmlinux.h; they cost nothing if a program does not use them.
 */
#ifndef __ECC_COMPAT_BPF_HELPERS_H
#define __ECC_COMPAT_BPF_HELPERS_H

#include_next <bpf/bpf_helpers.h>

/*
 * __ulong(name, val): like __uint() but for values that do not fit into the
 * array dimension trick (up to 64 bits).  The value is carried as an
 * enumerator, which BTF records exactly; each use gets its own enumerator
 * name so that several maps in one object do not clash.  The loader must
 * understand enum-typed map attributes: libbpf >= 1.2 and cilium/ebpf do,
 * libbpf 1.1 rejects the object ("expected PTR, got enum").
 */
#ifndef __ulong
/* two-step paste so that __COUNTER__ is expanded before pasting */
#define ___ecc_paste(a, b) a##b
#define ___ecc_cat(a, b) ___ecc_paste(a, b)
#define __ulong(name, val)                                                     \
	enum { ___ecc_cat(__ecc_ulong_value_, __COUNTER__) = (val) } name
#endif

/*
 * bpf_ksym_exists(sym): true when the loader resolved a __weak __ksym
 * variable or kfunc against the running kernel.  The compiler assumes that a
 * symbol which is not weak always has a non-NULL address, which would turn
 * the test into a constant; that mistake is rejected at build time.
 */
#ifndef bpf_ksym_exists
#define bpf_ksym_exists(sym)                                                   \
	({                                                                     \
		_Static_assert(!__builtin_constant_p(!!(sym)),                 \
			       #sym " must be declared __weak to be probed");  \
		!!(sym);                                                       \
	})
#endif

/*
 * Open-coded iterators (kernel >= 6.4).
 *
 * The loops below keep the iterator state on the BPF stack (8-byte aligned,
 * as the verifier demands) and have the compiler call the matching _destroy
 * kfunc when the loop scope is left, whichever way it is left.  The
 * `(void)..._destroy` reference makes sure the destructor's BTF is emitted
 * even by compilers that forget about functions used only from cleanup().
 */
#if !defined(bpf_for) || !defined(bpf_repeat)
struct bpf_iter_num;
extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __weak __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __weak __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __weak __ksym;
#endif

/*
 * bpf_for_each(type, cur, args...): iterate with the bpf_iter_<type> family
 * of kfuncs; `cur` receives each element returned by bpf_iter_<type>_next()
 * until it returns NULL.  `args` go to bpf_iter_<type>_new().
 */
#ifndef bpf_for_each
#define bpf_for_each(type, cur, args...)                                       \
	for (struct bpf_iter_##type ___ecc_iter                                \
		     __attribute__((aligned(8),                                \
				    cleanup(bpf_iter_##type##_destroy))),      \
	     *___ecc_init __attribute__((unused)) =                            \
		     (bpf_iter_##type##_new(&___ecc_iter, ##args),             \
		      (void)bpf_iter_##type##_destroy, (void *)0);             \
	     ((cur) = bpf_iter_##type##_next(&___ecc_iter));)
#endif

/*
 * bpf_for(i, start, end): i takes the values start, start+1, ..., end-1.
 * The explicit range test after every step hands the verifier known bounds
 * for `i`, so it can be used to index arrays without extra checks.
 */
#ifndef bpf_for
#define bpf_for(i, start, end)                                                 \
	for (struct bpf_iter_num ___ecc_iter                                   \
		     __attribute__((aligned(8), cleanup(bpf_iter_num_destroy))), \
	     *___ecc_init __attribute__((unused)) =                            \
		     (bpf_iter_num_new(&___ecc_iter, (start), (end)),          \
		      (void)bpf_iter_num_destroy, (void *)0);                  \
	     ({                                                                \
		     int *___ecc_cur = bpf_iter_num_next(&___ecc_iter);        \
		     ___ecc_cur && ((i) = *___ecc_cur,                         \
				    (i) >= (start) && (i) < (end));            \
	     });)
#endif

/* bpf_repeat(n): run the loop body n times (no loop variable). */
#ifndef bpf_repeat
#define bpf_repeat(n)                                                          \
	for (struct bpf_iter_num ___ecc_iter                                   \
		     __attribute__((aligned(8), cleanup(bpf_iter_num_destroy))), \
	     *___ecc_init __attribute__((unused)) =                            \
		     (bpf_iter_num_new(&___ecc_iter, 0, (n)),                  \
		      (void)bpf_iter_num_destroy, (void *)0);                  \
	     bpf_iter_num_next(&___ecc_iter);)
#endif

#endif /* __ECC_COMPAT_BPF_HELPERS_H */
