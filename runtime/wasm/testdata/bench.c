/*
 * Freestanding guest for the callback-vs-pull benchmark. bench_callback
 * runs one poll in callback mode; bench_pull polls n times in pull mode.
 */
#include "wasm_bpf.h"

static volatile unsigned sink;
static char buf[256];

static int cb(void *ctx, void *data, size_t size)
{
	sink += ((unsigned char *)data)[0] + size;
	return 0;
}

__attribute__((export_name("bench_callback"))) int bench_callback(uint64_t obj, int fd)
{
	return wasm_bpf_buffer_poll(obj, fd, WASM_BPF_CALLBACK(cb), 0, buf, sizeof(buf), 0);
}

__attribute__((export_name("bench_pull"))) int bench_pull(uint64_t obj, int fd, int n)
{
	int got = 0;

	for (int i = 0; i < n; i++) {
		int r = wasm_bpf_buffer_poll(obj, fd, 0, 0, buf, sizeof(buf), 0);
		if (r <= 0)
			break;
		sink += buf[0];
		got++;
	}
	return got;
}

__attribute__((export_name("cb_index"))) int cb_index(void) { return WASM_BPF_CALLBACK(cb); }

__attribute__((export_name("data_ptr"))) int data_ptr(void) { return (int)(uintptr_t)buf; }

__attribute__((export_name("_start"))) void _start(void) {}
