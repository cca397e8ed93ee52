/*
 * A hostile C guest. argv[1] picks what it does:
 *   loop                       spin forever (the host must stop it on ctx)
 *   grow                       grow memory past the host's limit
 *   calls OBJ FDBUF FDMAP      call every host function with bad pointers,
 *                              sizes, handles, fds and callback indices,
 *                              printing "label=result" lines; FDBUF is a
 *                              buffer fd of object OBJ, FDMAP a u32 → u64
 *                              hash map fd (or -1)
 *   block OBJ FDBUF            poll without timeout
 *   cbloop|cbexit|cbtrap|cbpoll OBJ FDBUF
 *                              a callback that spins, exits with 7,
 *                              traps, or polls again
 */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "wasm_bpf.h"

#define OOB ((void *)0xfffffff0u)
#define P(label, expr) printf("%s=%lld\n", label, (long long)(expr))

static char buf[64];
static char long_name[5000];
static uint64_t obj;
static int fdbuf;
static volatile int spin;

static int count;
static int good_cb(void *ctx, void *data, size_t size)
{
	printf("cb ctx=%u size=%zu data=%.*s\n", (unsigned)(uintptr_t)ctx, size, (int)size, (char *)data);
	count++;
	return 0;
}

static int stop_cb(void *ctx, void *data, size_t size) { return 42; }

static int wrong_type(int x) { return x + 1; }

static int loop_cb(void *ctx, void *data, size_t size)
{
	for (;;)
		spin++;
}

static int exit_cb(void *ctx, void *data, size_t size) { exit(7); }

static int trap_cb(void *ctx, void *data, size_t size) { __builtin_trap(); }

static int poll_cb(void *ctx, void *data, size_t size)
{
	P("nested_poll", wasm_bpf_buffer_poll(obj, fdbuf, 0, 0, buf, 16, 0));
	return 0;
}

static void calls(int fdmap)
{
	uint32_t end = __builtin_wasm_memory_size(0) * 65536;
	char *tail = (char *)(uintptr_t)(end - 8);
	uint32_t key = 1, next;
	uint64_t value = 0;
	volatile int32_t wrong = (int32_t)(uintptr_t)(void *)wrong_type;

	memset(tail, 'a', 8); /* no NUL up to the end of memory */
	memset(long_name, 'a', sizeof(long_name) - 1);

	P("load_oob", wasm_load_bpf_object(OOB, 100));
	P("load_null", wasm_load_bpf_object(NULL, 0));
	P("load_neg", wasm_load_bpf_object(buf, -1));
	P("load_huge", wasm_load_bpf_object(buf, 0x7fffffff));
	P("load_straddle", wasm_load_bpf_object(tail, 32));
	P("load_garbage", wasm_load_bpf_object(long_name, 64));

	P("attach_badobj", wasm_attach_bpf_program(999, "x", NULL));
	P("attach_oob_name", wasm_attach_bpf_program(obj, OOB, NULL));
	P("attach_null_name", wasm_attach_bpf_program(obj, NULL, NULL));
	P("attach_unterminated", wasm_attach_bpf_program(obj, tail, NULL));
	P("attach_long", wasm_attach_bpf_program(obj, long_name, NULL));
	P("attach_oob_target", wasm_attach_bpf_program(obj, "x", OOB));
	P("attach_unknown", wasm_attach_bpf_program(obj, "nope", NULL));

	P("fd_badobj", wasm_bpf_map_fd_by_name(999, "rb"));
	P("fd_oob", wasm_bpf_map_fd_by_name(obj, OOB));
	P("fd_unknown", wasm_bpf_map_fd_by_name(obj, "nope"));

	P("poll_badobj", wasm_bpf_buffer_poll(999, fdbuf, 0, 0, buf, 16, 0));
	P("poll_badfd", wasm_bpf_buffer_poll(obj, 12345, 0, 0, buf, 16, 0));
	P("poll_stdout", wasm_bpf_buffer_poll(obj, 1, 0, 0, buf, 16, 0));
	P("poll_oob_data", wasm_bpf_buffer_poll(obj, fdbuf, 0, 0, OOB, 16, 0));
	P("poll_straddle", wasm_bpf_buffer_poll(obj, fdbuf, 0, 0, tail, 16, 0));
	P("poll_zero_size", wasm_bpf_buffer_poll(obj, fdbuf, 0, 0, buf, 0, 0));
	P("poll_neg_size", wasm_bpf_buffer_poll(obj, fdbuf, 0, 0, buf, -5, 0));
	P("poll_huge_size", wasm_bpf_buffer_poll(obj, fdbuf, 0, 0, buf, 0x7fffffff, 0));
	P("poll_cb_range", wasm_bpf_buffer_poll(obj, fdbuf, 100000, 0, buf, 16, 0));
	P("poll_cb_negative", wasm_bpf_buffer_poll(obj, fdbuf, -1, 0, buf, 16, 0));
	P("poll_cb_type", wasm_bpf_buffer_poll(obj, fdbuf, wrong, 0, buf, 16, 0));
	P("poll_pull", wasm_bpf_buffer_poll(obj, fdbuf, 0, 0, buf, 16, 0));
	printf("pulled=%.16s\n", buf);
	P("poll_pull_short", wasm_bpf_buffer_poll(obj, fdbuf, 0, 0, buf, 4, 0));
	P("poll_cb", wasm_bpf_buffer_poll(obj, fdbuf, WASM_BPF_CALLBACK(stop_cb), 0, buf, 16, 0));
	P("poll_cb_all", wasm_bpf_buffer_poll(obj, fdbuf, WASM_BPF_CALLBACK(good_cb), 77, buf, 16, 0));
	P("count", count);
	P("poll_drained", wasm_bpf_buffer_poll(obj, fdbuf, 0, 0, buf, 16, 0));

	P("map_badfd", wasm_bpf_map_operate(12345, BPF_MAP_LOOKUP_ELEM, &key, &value, NULL, 0));
	P("map_stdout", wasm_bpf_map_operate(1, BPF_MAP_LOOKUP_ELEM, &key, &value, NULL, 0));
	if (fdmap >= 0) {
		P("map_badcmd", wasm_bpf_map_operate(fdmap, 9, &key, &value, NULL, 0));
		P("map_oob_key", wasm_bpf_map_operate(fdmap, BPF_MAP_LOOKUP_ELEM, OOB, &value, NULL, 0));
		P("map_null_key", wasm_bpf_map_operate(fdmap, BPF_MAP_LOOKUP_ELEM, NULL, &value, NULL, 0));
		P("map_oob_value", wasm_bpf_map_operate(fdmap, BPF_MAP_LOOKUP_ELEM, &key, OOB, NULL, 0));
		P("map_straddle_value", wasm_bpf_map_operate(fdmap, BPF_MAP_LOOKUP_ELEM, &key, tail + 4, NULL, 0));
		P("map_update_oob", wasm_bpf_map_operate(fdmap, BPF_MAP_UPDATE_ELEM, &key, OOB, NULL, 0));
		P("map_update_null", wasm_bpf_map_operate(fdmap, BPF_MAP_UPDATE_ELEM, &key, NULL, NULL, 0));
		P("map_delete_oob", wasm_bpf_map_operate(fdmap, BPF_MAP_DELETE_ELEM, OOB, NULL, NULL, 0));
		P("map_next_oob", wasm_bpf_map_operate(fdmap, BPF_MAP_GET_NEXT_KEY, OOB, NULL, &next, 0));
		P("map_next_out_oob", wasm_bpf_map_operate(fdmap, BPF_MAP_GET_NEXT_KEY, NULL, NULL, OOB, 0));
		P("map_lookup_missing", wasm_bpf_map_operate(fdmap, BPF_MAP_LOOKUP_ELEM, &key, &value, NULL, 0));
		value = 77;
		P("map_update", wasm_bpf_map_operate(fdmap, BPF_MAP_UPDATE_ELEM, &key, &value, NULL, 0));
		value = 0;
		P("map_lookup", wasm_bpf_map_operate(fdmap, BPF_MAP_LOOKUP_ELEM, &key, &value, NULL, 0));
		P("map_value", value);
		P("map_next_first", wasm_bpf_map_operate(fdmap, BPF_MAP_GET_NEXT_KEY, NULL, NULL, &next, 0));
		P("map_next_key", next);
		P("map_next_last", wasm_bpf_map_operate(fdmap, BPF_MAP_GET_NEXT_KEY, &next, NULL, &next, 0));
	}

	P("close_badobj", wasm_close_bpf_object(999));
	P("close", wasm_close_bpf_object(obj));
	P("close_again", wasm_close_bpf_object(obj));
	P("poll_closed", wasm_bpf_buffer_poll(obj, fdbuf, 0, 0, buf, 16, 0));
	P("map_closed", wasm_bpf_map_operate(fdmap, BPF_MAP_LOOKUP_ELEM, &key, &value, NULL, 0));
}

static void grow(void)
{
	int before = __builtin_wasm_memory_size(0);
	void *volatile p;

	P("pages", before);
	P("grow_past_limit", (int)__builtin_wasm_memory_grow(0, 100000));
	P("grow_over_limit", (int)__builtin_wasm_memory_grow(0, 64));
	P("grow_one", (int)__builtin_wasm_memory_grow(0, 1) == before);
	p = malloc(64 << 20);
	P("malloc_64m", p != NULL);
	P("pages_after", __builtin_wasm_memory_size(0) <= 64);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 10;
	if (!strcmp(argv[1], "loop")) {
		for (;;)
			spin++;
	}
	if (!strcmp(argv[1], "grow")) {
		grow();
		return 0;
	}
	if (argc < 4)
		return 11;
	obj = strtoull(argv[2], NULL, 10);
	fdbuf = atoi(argv[3]);
	if (!strcmp(argv[1], "block")) {
		P("poll", wasm_bpf_buffer_poll(obj, fdbuf, 0, 0, buf, 16, -1));
		return 0;
	}
	if (!strcmp(argv[1], "calls")) {
		calls(argc > 4 ? atoi(argv[4]) : -1);
		return 0;
	}
	wasm_bpf_sample_fn cb = !strcmp(argv[1], "cbloop") ? loop_cb
			      : !strcmp(argv[1], "cbexit") ? exit_cb
			      : !strcmp(argv[1], "cbtrap") ? trap_cb
			      : !strcmp(argv[1], "cbpoll") ? poll_cb
							   : NULL;
	if (!cb)
		return 12;
	P("poll", wasm_bpf_buffer_poll(obj, fdbuf, WASM_BPF_CALLBACK(cb), 0, buf, 16, 0));
	return 0;
}
