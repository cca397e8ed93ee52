/* A shared library with a probe. */
#include <sys/sdt.h>

int ecc_lib_call(int a)
{
	DTRACE_PROBE2(ecclib, call, a, (short)-a);
	return a + 1;
}
