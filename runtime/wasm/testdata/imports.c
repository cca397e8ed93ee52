/*
 * Freestanding guests with imports the host does or does not provide,
 * picked with -D: UNKNOWN_ENV (env.foo), UNKNOWN_BPF (wasm_bpf.nope),
 * WRONG_TYPE (wasm_bpf.wasm_close_bpf_object with an i32 handle),
 * ENV_COMPAT (the wasm_bpf functions imported from env, as older wasm-bpf
 * guests do: works).
 */
#include <stdint.h>

#if defined(UNKNOWN_ENV)
extern int foo(void);
#define CALL foo()
#elif defined(UNKNOWN_BPF)
__attribute__((import_module("wasm_bpf"), import_name("nope"))) int nope(void);
#define CALL nope()
#elif defined(WRONG_TYPE)
__attribute__((import_module("wasm_bpf"), import_name("wasm_close_bpf_object"))) int close_obj(int);
#define CALL close_obj(1)
#elif defined(ENV_COMPAT)
extern int wasm_close_bpf_object(uint64_t obj);
#define CALL (wasm_close_bpf_object(5) == -22 ? 0 : (__builtin_trap(), 0))
#endif

__attribute__((export_name("_start"))) void _start(void) { (void)CALL; }
