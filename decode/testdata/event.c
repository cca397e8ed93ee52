typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int pid_t;

enum state { IDLE, RUNNING = 5, DEAD = -1 };
enum big { BIG = 0x8000000000000000ULL, SMALL = 1 };

struct point { int x, y; };

struct event {
	__u64 ts;
	pid_t pid;
	char comm[16];
	__u8 bytes[4];
	unsigned char uc;
	signed char sc;
	char c;
	_Bool ok;
	short s;
	enum state st;
	enum big bg;
	unsigned a : 3;
	int b : 5;
	enum state st_bits : 4;
	_Bool flag : 1;
	unsigned long long wide : 40;
	int : 0;
	float f;
	double d;
	__int128 i128;
	unsigned __int128 u128;
	void *ptr;
	struct point pts[2];
	int grid[2][3];
	char names[2][4];
	union { __u32 word; __u8 octets[4]; };
	struct { int ax; short ay; };
	union { __u64 u; double dd; } un;
	const volatile __u32 cv;
	char tail[];
};

struct event ev = {
	.ts = 123456789012345ULL,
	.pid = -42,
	.comm = "bash",
	.bytes = {1, 2, 3, 255},
	.uc = 200,
	.sc = -3,
	.c = 'A',
	.ok = 1,
	.s = -300,
	.st = DEAD,
	.bg = BIG,
	.a = 5,
	.b = -9,
	.st_bits = RUNNING,
	.flag = 1,
	.wide = 0xfedcba9876ULL,
	.f = 1.5f,
	.d = -0.25,
	.i128 = -((__int128)1 << 100),
	.u128 = ~(unsigned __int128)0,
	.ptr = (void *)0x7ffd5e2a1c40ULL,
	.pts = {{1, -2}, {3, 4}},
	.grid = {{1, 2, 3}, {4, 5, 6}},
	.names = {"ab", "cdef"},
	.octets = {1, 0, 0, 1},
	.ax = -7,
	.ay = 8,
	.un = {.u = 0x4000000000000000ULL},
	.cv = 99,
};
int counter = 7;
