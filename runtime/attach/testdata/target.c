/*
 * Uprobe target for runtime/attach's kernel tests:
 *   target N M   waits for a byte on stdin, then calls ecc_target_func N
 *                times and ecc_target_other M times.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((noinline)) int ecc_target_func(int x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

__attribute__((noinline)) int ecc_target_other(int x)
{
	__asm__ volatile("" ::: "memory");
	return x * 2;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	int m = argc > 2 ? atoi(argv[2]) : 0;
	int sum = 0;
	char c;

	if (read(0, &c, 1) < 0)
		return 1;
	for (int i = 0; i < n; i++)
		sum += ecc_target_func(i);
	for (int i = 0; i < m; i++)
		sum += ecc_target_other(i);
	printf("%d\n", sum);
	return 0;
}
