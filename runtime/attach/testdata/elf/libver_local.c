/* A static function named like libver.c's global pick, and twins of dup. */
static __attribute__((noinline)) int pick(int x)
{
	__asm__ volatile("" ::: "memory");
	return x * 5;
}

static __attribute__((noinline)) int dup(int x)
{
	__asm__ volatile("" ::: "memory");
	return x * 7;
}

int call_local_pick(int x)
{
	return pick(x) + dup(x);
}
