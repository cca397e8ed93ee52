// Package deploy writes the Kubernetes manifests that run a package on
// every node of a cluster (ecc deploy): a DaemonSet whose container runs
// "ecli run --pull=always --metrics :PORT --format json REF" from the ecli
// image, with the capabilities, host namespaces and mounts the package's
// programs need and nothing more; a ConfigMap with the verification keys
// and policy, when given; and a PodMonitor for the Prometheus operator,
// when asked for. docs/fleet.md is the user's guide.
//
// Generate takes a package already read (its object says which programs
// it has and how they attach) and the Options; it reads only the key and
// policy files the Options name. It links neither registry/ nor runtime/:
// the command resolves the package, and the nodes run it.
//
// # What a package gets, by its programs
//
// Every container: CAP_BPF and CAP_PERFMON (create maps, load programs,
// open perf events, kprobes, uprobes and tracepoints), CAP_SYS_RESOURCE
// (raise RLIMIT_MEMLOCK, which kernels before 5.11 charge BPF memory to),
// privileged false, every other capability dropped, the root file system
// read-only, and the mounts: tracefs (/sys/kernel/tracing: tracepoint ids,
// bpf_printk's trace instance), bpffs (/sys/fs/bpf) and the cgroup root
// (/sys/fs/cgroup, read-only). The container runs as user 0, which owns
// tracefs, so CAP_DAC_READ_SEARCH (which a non-root ecli needs for
// tracepoints, packager/capability) is not granted. Kernels with CAP_BPF
// (5.8+) create kprobes and uprobes through perf's PMUs, so debugfs is
// not mounted.
//
// On top of that, from packager/capability's table (shared with ecli's
// permission errors) and the section kinds:
//
//	XDP, tc, tcx, cgroup, sockops, ...    CAP_NET_ADMIN; XDP, tc and tcx: the node's network (hostNetwork)
//	socket (socket filter)                CAP_NET_RAW (the AF_PACKET socket); the node's network
//	cgroup_skb                            CAP_NET_ADMIN (BPF_PROG_ATTACH checks it on older kernels)
//	bpf_probe_write_user                  CAP_SYS_ADMIN (the kernel gives the helper to no one else)
//	uprobe, uretprobe, usdt               CAP_SYS_ADMIN: perf's uprobe PMU refuses CAP_BPF + CAP_PERFMON
//	                                      (measured, Linux 6.18); usdt is PMU uprobes before 6.6
//	uprobe, uretprobe, usdt, .multi       the node's PIDs (hostPID) and its root file system at /host
//	                                      (read-only); binaries named by absolute path in sections
//	                                      are given as --uprobe/--usdt PROG=/host/PATH..., commands
//	                                      and libraries are looked up in the node's PATH and
//	                                      library folders under /host
//
// Options.AddCaps adds more (CAP_SYS_ADMIN for kernels without CAP_BPF).
package deploy
