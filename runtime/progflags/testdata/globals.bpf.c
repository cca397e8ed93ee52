// Globals of every kind, for the tests of package progflags.
// Self-contained: no headers, so it compiles with any clang -target bpf.

typedef unsigned char u8;
typedef signed char s8;
typedef unsigned short u16;
typedef short s16;
typedef unsigned int u32;
typedef int s32;
typedef unsigned long long u64;
typedef long long s64;
typedef _Bool bool;
#define true 1
#define false 0

#define SEC(name) __attribute__((section(name), used))

typedef u32 my_pid_t;
typedef my_pid_t pid2_t;

enum color { RED, GREEN = 5, BLUE, Blue2 = 9, blue = 10 };
enum level { LVL_LOW = -1, LVL_MID = 0, LVL_HIGH = 1 };
enum big { BIG_SMALL = 1, BIG_HUGE = 0x100000000ULL, BIG_MAX = 0xffffffffffffffffULL };

struct config {
	int a;
	char name[8];
};

union either {
	int i;
	float f;
};

/// Process ID to trace
/// @cmdarg {"default": 0, "short": "p", "long": "pid"}
const volatile int targ_pid = 0;

const volatile u8 v_u8 = 200;
const volatile s8 v_s8 = -100;
/// @cmdarg {"short": "P", "help": "port to watch"}
const volatile u16 v_u16 = 8080;
const volatile s16 v_s16 = -300;
const volatile u32 v_u32 = 4000000000u;
const volatile s32 v_s32 = -2000000000;
const volatile u64 v_u64 = 18000000000000000000ull;
const volatile s64 v_s64 = -9000000000000000000ll;
const volatile char v_char = 'x';
const volatile unsigned __int128 v_u128 = 1;

/// Print more
const volatile bool verbose = false;
/// @cmdarg {"default": true, "long": "args", "short": "a"}
const volatile bool show_args = false;
const volatile bool on_by_default = true;

/// Command name to match
/// @cmdarg {"short": "c"}
const volatile char comm[16] = "bash";
const volatile unsigned char ucomm[8] = "";
const volatile signed char scomm[4] = "ab";

/// @cmdarg {"default": "GREEN"}
const volatile enum color color = RED;
const volatile enum level level = LVL_HIGH;
const volatile enum big big = BIG_HUGE;

const volatile pid2_t pid2 = 42;
const volatile float ratio = 1.5;
/// @cmdarg {"default": 2.25}
const volatile double scale = 0.5;

const volatile int ints[4] = {1, 2, 3, 4};
const volatile u16 ports[3] = {22};
const volatile u8 addr[4] = {127, 0, 0, 1};
const volatile bool bits[2] = {true, false};
const volatile char names[2][8] = {"a", "b"};

/// Configuration block
const volatile struct config cfg = {.a = 1, .name = "x"};
const volatile union either either = {.i = 3};

/// @cmdarg {"long": "min-duration", "default": "0x10"}
const volatile u64 min_duration_ns SEC(".rodata.extra") = 16;

/// events counted so far
int counter = 5;
u32 data_x SEC(".data.extra") = 7;

u64 hits;
bool seen;
u64 *ptr;

SEC("tp/syscalls/sys_enter_execve")
int handle_exec(void *ctx)
{
	if (targ_pid && verbose && show_args && on_by_default)
		return v_u8 + v_s8 + v_u16 + v_s16 + v_u32 + v_s32 + v_u64 + v_s64;
	if (comm[0] || ucomm[0] || scomm[0] || color || level || big || pid2)
		return ints[1] + ports[0] + addr[0] + bits[0] + names[0][0] + cfg.a + either.i;
	if (v_char || v_u128 || min_duration_ns)
		return counter + data_x;
	hits++;
	seen = true;
	return ptr ? 1 : 0;
}

/// @brief Exercise every kind of global
/// @version 1.2.3
/// @details Details come last.
/// Second line of details.
char LICENSE[] SEC("license") = "GPL";
