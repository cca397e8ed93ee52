/* An arm64 USDT binary (clang --target=aarch64-linux-gnu, lld, no libc):
 * real arm64 argument strings for the tests. */
#include <sys/sdt.h>

long ecc_g;

__attribute__((noinline)) long f(long a, int x)
{
	volatile long loc = a * 3;
	DTRACE_PROBE3(ecc, args, loc, x, a);
	return loc;
}

void _start(void)
{
	DTRACE_PROBE2(ecc, tick, ecc_g, 5);
	f(4, 3);
	for (;;)
		;
}
