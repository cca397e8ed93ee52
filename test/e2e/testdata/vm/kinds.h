#ifndef KINDS_H
#define KINDS_H

/* Which program sent the event. */
enum kind {
	KPROBE = 1,
	KRETPROBE = 2,
	KSYSCALL = 3,
	KRETSYSCALL = 4,
	FENTRY = 5,
	FEXIT = 6,
	FMOD_RET = 7,
	LSM = 8,
	TWIN_FENTRY = 9,
	TWIN_KPROBE = 10,
};

struct event {
	enum kind kind;
	__u32 pid;
	char comm[16];
};

#endif
