/* USDT fixtures for the usdt package's tests (built with gcc in the test). */
#include <stdio.h>
#include <sys/sdt.h>

long ecc_global = 7;

/* Inlined twice: two sites of one probe. */
static inline __attribute__((always_inline)) void twice(int x)
{
	DTRACE_PROBE1(ecc, twice, x);
}

/* A probe with a semaphore lives in sem.c (semaphores are per file). */
void sem_probe(int v);

int main(int argc, char **argv)
{
	(void)argv;
	for (int i = 0; i < argc; i++)
		DTRACE_PROBE2(ecc, tick, i, (long)i * 3);
	twice(argc);
	twice(argc + 1);
	DTRACE_PROBE3(ecc, consts, 5, -1, (unsigned char)200);
	DTRACE_PROBE1(ecc, global, ecc_global);
	DTRACE_PROBE(ecc, none);
	sem_probe(argc);
	return 0;
}
