/* A probe guarded by its semaphore (<sys/sdt.h>: _SDT_HAS_SEMAPHORES and a
 * PROVIDER_NAME_semaphore variable in .probes), which the kernel raises
 * while a uprobe with a ref_ctr_offset is attached. Semaphores apply to a
 * whole file, hence this one. */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

__extension__ volatile unsigned short ecc_sem_semaphore __attribute__((unused)) __attribute__((section(".probes")));

int sem_probe(int v)
{
	if (!ecc_sem_semaphore)
		return 0;
	DTRACE_PROBE1(ecc, sem, v);
	return 1;
}

/* A global the probe in ticker.c reads from memory: gcc writes its
 * argument %rip-relative (-8@ecc_total(%rip)). */
long ecc_total;

__attribute__((noinline)) void set_total(long v)
{
	ecc_total = v;
	__asm__ volatile("" ::: "memory");
}
