/* The export header of events.bpf.c: every struct here is exported. */
#ifndef EVENTS_H
#define EVENTS_H

#define COMM_LEN 16

struct event {
	int pid;
	/// @format hex
	unsigned int flags;
	unsigned long long ts_ns;
	char comm[COMM_LEN];
};

#endif
