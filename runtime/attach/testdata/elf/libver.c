/*
 * A shared library whose symbols trip naive resolution (runtime/attach's
 * elfsym_test.go):
 *   f         two versions: f@VER_1 (old) and f@@VER_2 (default), each
 *             counting differently;
 *   pick      a global function, while libver_local.c has a static pick;
 *   ifn       an IFUNC whose resolver returns ifn_impl.
 */
__attribute__((noinline)) int f_v1(int x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

__attribute__((noinline)) int f_v2(int x)
{
	__asm__ volatile("" ::: "memory");
	return x + 2;
}

__asm__(".symver f_v1, f@VER_1");
__asm__(".symver f_v2, f@@VER_2");

__attribute__((noinline)) int pick(int x)
{
	__asm__ volatile("" ::: "memory");
	return x * 3;
}

__attribute__((noinline)) int ifn_impl(int x)
{
	__asm__ volatile("" ::: "memory");
	return x - 1;
}

static int (*resolve_ifn(void))(int)
{
	return ifn_impl;
}

int ifn(int x) __attribute__((ifunc("resolve_ifn")));
