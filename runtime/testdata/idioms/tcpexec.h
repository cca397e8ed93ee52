/* Two event structs in one header, as libbpf-tools' tools have: each
 * buffer must carry the one its programs submit. */
#ifndef TCPEXEC_H
#define TCPEXEC_H

#define TASK_COMM_LEN 16
#define ARGS_LEN 256

enum hook { HOOK_TP_BTF = 1, HOOK_RAW_TP = 2, HOOK_TP = 3 };

struct conn_event {
	__u32 pid;
	__u16 af;
	__be16 dport;
	__u32 saddr;
	__u32 daddr;
	__u16 lport;
	__u8 hook;
	char comm[TASK_COMM_LEN];
};

struct exec_event {
	__u32 pid;
	int args_size;
	char args[ARGS_LEN];
};

#endif
