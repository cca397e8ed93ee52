/*
 * vertarget A B C D E F: waits for a byte on stdin, then calls f (the
 * default version) A times, f@VER_1 B times, pick C times, the static pick
 * (through call_local_pick) D times, ifn E times, and its own functions
 * one F times and two F+1 times.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int f(int);
int f_old(int);
__asm__(".symver f_old, f@VER_1");
int pick(int);
int call_local_pick(int);
int ifn(int);

__attribute__((noinline)) int one(int x)
{
	__asm__ volatile("" ::: "memory");
	return x + 10;
}

__attribute__((noinline)) int two(int x)
{
	__asm__ volatile("" ::: "memory");
	return x + 20;
}

int main(int argc, char **argv)
{
	int n[6] = {0};
	int sum = 0;
	char c;

	for (int i = 0; i < 6 && i + 1 < argc; i++)
		n[i] = atoi(argv[i + 1]);
	if (read(0, &c, 1) < 0)
		return 1;
	for (int i = 0; i < n[0]; i++)
		sum += f(i);
	for (int i = 0; i < n[1]; i++)
		sum += f_old(i);
	for (int i = 0; i < n[2]; i++)
		sum += pick(i);
	for (int i = 0; i < n[3]; i++)
		sum += call_local_pick(i);
	for (int i = 0; i < n[4]; i++)
		sum += ifn(i);
	for (int i = 0; i < n[5]; i++)
		sum += one(i);
	for (int i = 0; i < n[5] + 1; i++)
		sum += two(i);
	printf("%d\n", sum);
	return 0;
}
