/* The USDT target of runtime's kernel tests (built with gcc -O2 there).
 *
 * ticker N [wait]: with "wait", reads a line from stdin first (so that a
 * test can attach to its pid); then fires ecc:tick N times with (i, i*3),
 * ecc:twice (inlined at two sites) with 1 and 2, ecc:total with N*7 read
 * from a global (a %rip-relative argument), and ecc:sem with N when
 * its semaphore says a tracer is attached. It prints "sem=0" or "sem=1":
 * whether the semaphore was set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sdt.h>

/* sem.c */
int sem_probe(int v);
extern long ecc_total;
void set_total(long v);

static inline __attribute__((always_inline)) void twice(int x)
{
	DTRACE_PROBE1(ecc, twice, x);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10;
	if (argc > 2 && strcmp(argv[2], "wait") == 0) {
		char line[16];
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	for (int i = 0; i < n; i++)
		DTRACE_PROBE2(ecc, tick, i, (long)i * 3);
	twice(1);
	twice(2);
	set_total((long)n * 7);
	DTRACE_PROBE1(ecc, total, ecc_total);
	printf("sem=%d\n", sem_probe(n));
	return 0;
}
