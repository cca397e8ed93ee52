/* A tiny static USDT binary (under 2 KiB): a seed for FuzzNewFile. */
#include <sys/sdt.h>

long ecc_g;

void _start(void)
{
	DTRACE_PROBE2(ecc, tick, ecc_g, 5);
	DTRACE_PROBE1(ecc, glob, ecc_g);
	for (;;)
		;
}
