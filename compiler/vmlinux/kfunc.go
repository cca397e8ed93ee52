package vmlinux

import (
	"fmt"
	"sort"
	"strings"
)

// Kernel functions BPF programs may call (kfuncs) carry a BTF declaration
// tag "bpf_kfunc" (pahole adds it from the kernel's BTF_ID sets, Linux 6.11
// and later). The header declares each of them, as recent bpftool does:
//
//	extern struct task_struct *bpf_task_from_pid(s32 pid) __weak __ksym;
//
// in a block a program can turn off by defining BPF_NO_KFUNC_PROTOTYPES
// before including the header (to declare kfuncs its own way). The
// declarations are weak, so that a program built against this header still
// loads on kernels lacking some of them, as long as it does not call them
// (bpf_ksym_exists tells).

// declTags is the set of declaration tags of a function that matter here.
type declTags uint8

const (
	tagKfunc    declTags = 1 << iota // "bpf_kfunc": a kfunc
	tagFastcall                      // "bpf_fastcall": no caller-saved registers clobbered
)

func declTagOf(name string) declTags {
	switch name {
	case "bpf_kfunc":
		return tagKfunc
	case "bpf_fastcall":
		return tagFastcall
	}
	return 0
}

// kfuncPrelude defines the attributes the declarations use when the program
// has not (libbpf's bpf_helpers.h defines the first two identically).
const kfuncPrelude = "#ifndef __ksym\n" +
	"#define __ksym __attribute__((section(\".ksyms\")))\n" +
	"#endif\n\n" +
	"#ifndef __weak\n" +
	"#define __weak __attribute__((weak))\n" +
	"#endif\n\n" +
	"#ifndef __bpf_fastcall\n" +
	"#if __has_attribute(bpf_fastcall)\n" +
	"#define __bpf_fastcall __attribute__((bpf_fastcall))\n" +
	"#else\n" +
	"#define __bpf_fastcall\n" +
	"#endif\n" +
	"#endif\n\n"

const (
	kfuncBlockStart = "\n/* BPF kfuncs */\n#ifndef BPF_NO_KFUNC_PROTOTYPES\n"
	kfuncBlockEnd   = "#endif\n\n"
)

// kfuncs lists the kfuncs of the table, sorted by name (then by type ID),
// so that the block does not move with the BTF's type order.
func (d *dumper) kfuncs() []int32 {
	var ids []int32
	for id := range d.nodes {
		if n := &d.nodes[id]; n.fn && n.tags&tagKfunc != 0 {
			ids = append(ids, int32(id))
		}
	}
	sort.SliceStable(ids, func(i, j int) bool { return d.nodes[ids[i]].name < d.nodes[ids[j]].name })
	return ids
}

// dumpKfuncs writes the kfunc block. It comes after every type, so the
// names its declarations use are already resolved. A kfunc whose prototype
// cannot be written in C is left out with a comment rather than failing the
// whole header.
func (d *dumper) dumpKfuncs() error {
	d.str(kfuncBlockStart)
	for _, id := range d.kfuncs() {
		if err := d.kfuncDecl(id); err != nil {
			d.str("/* kfunc ")
			d.str(strings.ReplaceAll(d.nodes[id].name+" left out: "+err.Error(), "*/", "* /"))
			d.str(" */\n")
		}
		if len(d.buf) >= flushSize {
			if err := d.flush(); err != nil {
				return err
			}
		}
	}
	d.str(kfuncBlockEnd)
	return nil
}

// kfuncDecl writes one declaration, or nothing and an error.
func (d *dumper) kfuncDecl(id int32) error {
	n := &d.nodes[id]
	name, proto := n.name, n.ref
	if !isIdent(name) {
		return fmt.Errorf("name is not a C identifier")
	}
	if d.nodes[proto].kind != kindFuncProto {
		return fmt.Errorf("type is %s, not a function prototype", d.describe(proto))
	}
	mark, prev := len(d.buf), d.err
	d.err = nil
	d.str("extern ")
	if n.tags&tagFastcall != 0 {
		d.str("__bpf_fastcall ")
	}
	d.decl(proto, name, 0)
	d.str(" __weak __ksym;\n")
	err := d.err
	d.err = prev
	if err != nil {
		d.buf = d.buf[:mark]
	}
	return err
}
