/* A probe guarded by its semaphore, which the kernel increments while a
 * uprobe with a ref_ctr_offset is attached (see <sys/sdt.h>). */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

__extension__ unsigned short ecc_sem_semaphore __attribute__((unused)) __attribute__((section(".probes")));

void sem_probe(int v)
{
	if (__builtin_expect(ecc_sem_semaphore, 0))
		DTRACE_PROBE1(ecc, sem, v);
}
