/* Another static dup: a probe on dup is ambiguous. */
static __attribute__((noinline)) int dup(int x)
{
	__asm__ volatile("" ::: "memory");
	return x * 11;
}

int call_dup(int x)
{
	return dup(x);
}
