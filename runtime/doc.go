// Package runtime runs packages: it loads the BPF object with cilium/ebpf,
// turns the program's globals into flags (runtime/progflags), attaches every
// program by its section name (runtime/attach), and prints what the programs
// produce: ring buffer and perf buffer events decoded through BTF
// (decode), @sample maps as histograms and tables (runtime/hist),
// stacks symbolised (runtime/symbol), and iterator output. Programs the
// kernel refuses are skipped with a warning when others run.
package runtime
