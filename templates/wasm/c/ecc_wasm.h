/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ecc_wasm.h - the guest side of ecc's Wasm packages, for C programs built
 * with `ecc build --wasm main.c` (clang --target=wasm32-wasi).
 *
 * A Wasm package is a user-space program that embeds its BPF object and
 * drives it through the host ABI of the import module "wasm_bpf" (the
 * wasm-bpf ABI, provided by `ecli run NAME.wasm`).  This header declares that
 * ABI and a thin layer on top of it.  Include the generated NAME.wasm.h
 * instead of this file: it includes this one, re-declares the BPF program's
 * event and map structs with fixed-width types (checked against the BPF
 * object's BTF at compile time) and embeds the object, so that
 *
 *     ecc_bpf_object obj = ecc_bpf_open();          // load the embedded object
 *     ecc_bpf_attach_all(obj, NULL);                // attach every program
 *     ecc_bpf_poll_loop(obj, "events", handle, NULL, 0, 100);
 *
 * is a whole tracer.
 *
 * Conventions of the whole API:
 *   - an object handle (ecc_bpf_object) is 0 when loading failed;
 *   - int results are >= 0 on success and negative on failure (a negative
 *     Linux errno value when the host knows one: -2 is ENOENT, e.g. a key
 *     that is not in the map, or the end of a map iteration);
 *   - names (programs, maps) are the C identifiers of the BPF source.
 *
 * wasm32 is an ILP32 target: long and pointers are 4 bytes there but 8 in
 * the BPF program.  Exchange data with the kernel through the generated
 * structs, or through the fixed-width types below, never through long,
 * size_t or pointers.
 */
#ifndef __ECC_WASM_H
#define __ECC_WASM_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef __wasm32__
#error "ecc_wasm.h is for Wasm guests: build with ecc build --wasm (clang --target=wasm32-wasi)"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Fixed-width types, spelled as in the kernel and in vmlinux.h. */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

/* A loaded BPF object, as the host knows it; 0 means none. */
typedef u64 ecc_bpf_object;

/*
 * A record callback: called by the host, during a poll, once per record of a
 * ring buffer or perf event array, with the record copied into the poll's
 * data buffer.  Return 0 to go on; any other value stops the poll, which
 * returns it (later records stay in the buffer), and a negative one also
 * ends ecc_bpf_poll_loop.
 */
typedef int (*ecc_sample_fn)(void *ctx, void *data, size_t size);

/* ------------------------------------------------------------------------ */
/* The host ABI (import module "wasm_bpf").                                 */
/* ------------------------------------------------------------------------ */

#define __ECC_WASM_IMPORT(name) \
	__attribute__((import_module("wasm_bpf"), import_name(#name)))

/* Load (and CO-RE relocate) a BPF ELF object; returns its handle, 0 on error. */
__ECC_WASM_IMPORT(wasm_load_bpf_object)
u64 wasm_load_bpf_object(const void *obj_buf, int obj_buf_sz);

/*
 * Attach the program `name` where its SEC() says.  `target` is the interface
 * name for xdp/tc programs, the cgroup path for cgroup programs, else NULL.
 * The user's ecli run --ifname/--cgroup win over `target`; the root cgroup
 * needs the user's --cgroup.
 */
__ECC_WASM_IMPORT(wasm_attach_bpf_program)
int wasm_attach_bpf_program(u64 obj, const char *name, const char *target);

/* The file descriptor of the map `name`, negative if there is none. */
__ECC_WASM_IMPORT(wasm_bpf_map_fd_by_name)
int wasm_bpf_map_fd_by_name(u64 obj, const char *name);

/*
 * Wait up to timeout_ms for records of the ring buffer or perf event array
 * `fd`.  With a callback (sample_func is its index in the exported
 * __indirect_function_table, i.e. the function pointer's value on wasm32),
 * the host copies each record into data (cut to max_size bytes) and calls
 * sample_func(ctx, data, size) for it and for whatever else is already in
 * the buffer; the result is 0, the first non-zero value a callback
 * returned, or negative on error.  With sample_func 0 ("pull
 * mode", what Go guests use) the host copies one record into data and
 * returns its length, 0 when none came in time.
 */
__ECC_WASM_IMPORT(wasm_bpf_buffer_poll)
int wasm_bpf_buffer_poll(u64 obj, int fd, int sample_func, void *ctx,
			 void *data, int max_size, int timeout_ms);

/* Commands of wasm_bpf_map_operate (the bpf(2) map commands, renumbered). */
enum ecc_map_cmd {
	ECC_MAP_LOOKUP = 1,   /* *value = map[*key] */
	ECC_MAP_UPDATE = 2,   /* map[*key] = *value, subject to flags */
	ECC_MAP_DELETE = 3,   /* delete map[*key] */
	ECC_MAP_NEXT_KEY = 4, /* *next_key = the key after *key (key NULL: the first) */
};

/* Flags of ECC_MAP_UPDATE (BPF_ANY, BPF_NOEXIST, BPF_EXIST). */
#define ECC_ANY 0ULL     /* create or replace */
#define ECC_NOEXIST 1ULL /* create only */
#define ECC_EXIST 2ULL   /* replace only */

/* One map operation on the map `fd`; key/value/next_key are guest memory of
 * the map's key and value sizes. */
__ECC_WASM_IMPORT(wasm_bpf_map_operate)
int wasm_bpf_map_operate(int fd, int cmd, void *key, void *value,
			 void *next_key, u64 flags);

/* Detach every program and free the object. */
__ECC_WASM_IMPORT(wasm_close_bpf_object)
int wasm_close_bpf_object(u64 obj);

#undef __ECC_WASM_IMPORT

/* ------------------------------------------------------------------------ */
/* Conveniences.                                                            */
/* ------------------------------------------------------------------------ */

/* Load a BPF object from memory; 0 on error. */
static inline ecc_bpf_object ecc_bpf_load(const void *obj, size_t size)
{
	return wasm_load_bpf_object(obj, (int)size);
}

/*
 * Load the object the generated NAME.wasm.h embeds (it defines
 * ECC_BPF_OBJECT and ECC_BPF_OBJECT_SIZE); 0 on error.
 */
#define ecc_bpf_open() ecc_bpf_load(ECC_BPF_OBJECT, ECC_BPF_OBJECT_SIZE)

/* Attach one program; target as for wasm_attach_bpf_program. */
static inline int ecc_bpf_attach(ecc_bpf_object obj, const char *prog,
				 const char *target)
{
	return wasm_attach_bpf_program(obj, prog, target);
}

/*
 * Attach every program the generated header lists (ECC_BPF_PROGRAMS, a
 * NULL-terminated array), each with the same target; returns the first
 * failure, else 0.  If `failed` is not NULL it receives the failing name.
 */
static inline int ecc_bpf_attach_list(ecc_bpf_object obj,
				      const char *const *progs,
				      const char *target, const char **failed)
{
	for (; progs && *progs; progs++) {
		int err = wasm_attach_bpf_program(obj, *progs, target);
		if (err < 0) {
			if (failed)
				*failed = *progs;
			return err;
		}
	}
	return 0;
}
#define ecc_bpf_attach_all(obj, target) \
	ecc_bpf_attach_list((obj), ECC_BPF_PROGRAMS, (target), NULL)

/* The file descriptor of a map, negative if the object has no such map. */
static inline int ecc_map_fd(ecc_bpf_object obj, const char *name)
{
	return wasm_bpf_map_fd_by_name(obj, name);
}

/* Poll once: see wasm_bpf_buffer_poll.  The callback is passed by pointer,
 * which on wasm32 is its table index (taking its address puts it in the
 * table; the linker exports the table with -Wl,--export-table). */
static inline int ecc_bpf_poll(ecc_bpf_object obj, int fd, ecc_sample_fn cb,
			       void *ctx, void *buf, int buf_size,
			       int timeout_ms)
{
	return wasm_bpf_buffer_poll(obj, fd, (int)(uintptr_t)cb, ctx, buf,
				    buf_size, timeout_ms);
}

/* The default record buffer of ecc_bpf_poll_loop. */
#define ECC_POLL_BUFFER_SIZE (64 * 1024)

/*
 * Poll the ring buffer or perf event array `map` for ever, calling cb for
 * each record, until a poll fails or cb returns a negative value; returns
 * that negative value (-2 when there is no map called `map`, -12 when the
 * buffer cannot be allocated).  buf_size bounds a record (0: 64 KiB;
 * longer records are cut).
 */
static inline int ecc_bpf_poll_loop(ecc_bpf_object obj, const char *map,
				    ecc_sample_fn cb, void *ctx, int buf_size,
				    int timeout_ms)
{
	int fd = wasm_bpf_map_fd_by_name(obj, map);
	void *buf;
	int err;

	if (fd < 0)
		return -2;
	if (buf_size <= 0)
		buf_size = ECC_POLL_BUFFER_SIZE;
	buf = malloc((size_t)buf_size);
	if (!buf)
		return -12;
	do {
		err = ecc_bpf_poll(obj, fd, cb, ctx, buf, buf_size, timeout_ms);
	} while (err >= 0);
	free(buf);
	return err;
}

/* value = map[key]; 0, or negative (-2: no such key). */
static inline int ecc_map_lookup(int fd, const void *key, void *value)
{
	return wasm_bpf_map_operate(fd, ECC_MAP_LOOKUP, (void *)key, value,
				    NULL, 0);
}

/* map[key] = value; flags: ECC_ANY, ECC_NOEXIST or ECC_EXIST. */
static inline int ecc_map_update(int fd, const void *key, const void *value,
				 u64 flags)
{
	return wasm_bpf_map_operate(fd, ECC_MAP_UPDATE, (void *)key,
				    (void *)value, NULL, flags);
}

/* Delete map[key]; 0, or negative (-2: no such key). */
static inline int ecc_map_delete(int fd, const void *key)
{
	return wasm_bpf_map_operate(fd, ECC_MAP_DELETE, (void *)key, NULL,
				    NULL, 0);
}

/*
 * The key after `key` (NULL: the first key) into next_key; 0, or negative
 * at the end (-2) or on error.  Iterate with
 *
 *     u32 k, next; const void *prev = NULL;
 *     while (ecc_map_next_key(fd, prev, &next) == 0) { k = next; prev = &k; ... }
 */
static inline int ecc_map_next_key(int fd, const void *key, void *next_key)
{
	return wasm_bpf_map_operate(fd, ECC_MAP_NEXT_KEY, (void *)key, NULL,
				    next_key, 0);
}

/* Detach and free a loaded object. */
static inline int ecc_bpf_close(ecc_bpf_object obj)
{
	return wasm_close_bpf_object(obj);
}

/* printf("%.*s", ECC_STR(e->comm)): a char array that may lack its NUL. */
#define ECC_STR(arr) (int)strnlen((const char *)(arr), sizeof(arr)), (const char *)(arr)

#ifdef __cplusplus
}
#endif

#endif /* __ECC_WASM_H */
