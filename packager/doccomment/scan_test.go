package doccomment

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// summary renders declarations one per line:
// LINE KIND NAME [sec=SECTION] [doc@LINE ["description"] [@tag=json]...]
func summary(ds []Decl) []string {
	var out []string
	for _, d := range ds {
		s := fmt.Sprintf("%d %s %s", d.Line, d.Kind, d.Name)
		if d.Section != "" {
			s += " sec=" + d.Section
		}
		if d.Doc != nil {
			s += fmt.Sprintf(" doc@%d", d.Doc.Line)
			if d.Doc.Description != "" {
				s += " " + strconv.Quote(d.Doc.Description)
			}
			var tags []string
			for k, v := range d.Doc.Tags {
				tags = append(tags, "@"+k+"="+string(v))
			}
			slices.Sort(tags)
			for _, t := range tags {
				s += " " + t
			}
		}
		out = append(out, s)
	}
	return out
}

func checkDecls(t *testing.T, src string, want []string) {
	t.Helper()
	ds, err := Scan("test.bpf.c", []byte(src))
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	got := summary(ds)
	if !slices.Equal(got, want) {
		t.Errorf("got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// A runqlat-like libbpf tool.
const srcRunqlat = `// SPDX-License-Identifier: GPL-2.0
/*
 * runqlat - run queue latency.  "quotes" and 'it's' in a plain comment.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define MAX_SLOTS 26
#define LONG_MACRO(x) do { \
		if (x) { /* a brace in a macro */ \
			bpf_printk("}"); \
		} \
	} while (0)

/* One histogram. */
struct hist {
	__u32 slots[MAX_SLOTS];
	char comm[16];
};

/// Keep one histogram per process
/// @cmdarg {"default": false, "short": "P", "long": "per-process"}
const volatile bool targ_per_process = false;

/// Measure only this process id
/// (0: every process)
/// @cmdarg {"default": 0, "short": "p", "long": "pid"}
const volatile int targ_pid = 0;

/// Enqueue timestamps
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} start SEC(".maps");

/// Latency histograms
/// @sample {"interval": 1000, "type": "log2_hist",
///          "unit": "usecs", "clear_map": false}
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, struct hist);
} hists SEC(".maps");

static __always_inline u32 log2_floor(u64 v)
{
	u32 r = 0;

	/// not a doc comment of anything
	if (v >> 32) { v >>= 32; r += 32; }
	{ int nested = 1; r += nested; }
	return r;
}

/// Wakeup handler
SEC("raw_tp/sched_wakeup")
int BPF_PROG(handle_sched_wakeup, struct task_struct *p)
{
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(handle_sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	static const struct hist empty;
	char *s = "} /* not a comment // either";
	char c = '}', q = '\'', d = '"';
	return 0;
}

/// @brief Summarize run-queue latency
/// @details Measures the time from a task becoming runnable
/// until it runs on a CPU.
/// @version 0.1.0
char LICENSE[] SEC("license") = "Dual BSD/GPL";
`

var wantRunqlat = []string{
	`17 type struct hist`,
	`24 var targ_per_process doc@22 "Keep one histogram per process" @cmdarg={"default":false,"short":"P","long":"per-process"}`,
	`29 var targ_pid doc@26 "Measure only this process id (0: every process)" @cmdarg={"default":0,"short":"p","long":"pid"}`,
	`37 map start sec=.maps doc@31 "Enqueue timestamps"`,
	`47 map hists sec=.maps doc@39 "Latency histograms" @sample={"interval":1000,"type":"log2_hist","unit":"usecs","clear_map":false}`,
	`49 func log2_floor`,
	`61 prog handle_sched_wakeup sec=raw_tp/sched_wakeup doc@59 "Wakeup handler"`,
	`67 prog handle_sched_switch sec=raw_tp/sched_switch`,
	`80 license LICENSE sec=license doc@76 @brief="Summarize run-queue latency" @details="Measures the time from a task becoming runnable until it runs on a CPU." @version="0.1.0"`,
}

func TestScanRunqlat(t *testing.T) {
	checkDecls(t, srcRunqlat, wantRunqlat)
}

func TestScanCRLF(t *testing.T) {
	checkDecls(t, strings.ReplaceAll(srcRunqlat, "\n", "\r\n"), wantRunqlat)
}

var scanTests = []struct {
	name string
	src  string
	want []string
}{
	{
		name: "globals",
		src: `/// pid
const volatile int targ_pid = 0;
/// comm
const volatile char targ_comm[16] = "";
/// flag
static const volatile bool x;
/// custom data section
int counter SEC(".data.x");
/// multi-line initialiser
struct cfg config = {
	.a = 1,
	.b = { 2, 3 },
};
/// array
__u64 arr[4] = {1,2,3,4};
/// attributes everywhere
int __attribute__((aligned(8))) __hidden aligned_var __attribute__((unused)) = 1;
/// kconfig
extern int LINUX_KERNEL_VERSION __kconfig;
/// three of them
int a, b = 2, c[3];
/// function pointer
static long (*bpf_legacy)(void *ctx, int n) = (void *) 6;
__u64 __pad;
`,
		want: []string{
			`2 var targ_pid doc@1 "pid"`,
			`4 var targ_comm doc@3 "comm"`,
			`6 var x doc@5 "flag"`,
			`8 var counter sec=.data.x doc@7 "custom data section"`,
			`10 var config doc@9 "multi-line initialiser"`,
			`15 var arr doc@14 "array"`,
			`17 var aligned_var doc@16 "attributes everywhere"`,
			`19 var LINUX_KERNEL_VERSION doc@18 "kconfig"`,
			`21 var a doc@20 "three of them"`,
			`21 var b doc@20 "three of them"`,
			`21 var c doc@20 "three of them"`,
			`23 var bpf_legacy doc@22 "function pointer"`,
			`24 var __pad`,
		},
	},
	{
		name: "maps",
		src: `/// ring buffer
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} rb SEC(".maps");

/** legacy map */
struct bpf_map_def SEC("maps") legacy = {
	.type = BPF_MAP_TYPE_ARRAY,
	.max_entries = 1,
};

/// map of maps
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, int);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_ARRAY);
		__uint(max_entries, 1);
	});
} outer SEC(".maps") = {
	.values = { [0] = &inner },
};
`,
		want: []string{
			`5 map rb sec=.maps doc@1 "ring buffer"`,
			`8 map legacy sec=maps doc@7 "legacy map"`,
			`22 map outer sec=.maps doc@13 "map of maps"`,
		},
	},
	{
		name: "programs",
		src: `/// same line
SEC("xdp") int xdp_prog(struct xdp_md *ctx) { return XDP_PASS; }
/// line above
SEC("tp/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	return 0;
}
/// kprobe
SEC("kprobe/do_unlinkat")
int BPF_KPROBE(do_unlinkat, int dfd, struct filename *name)
{
	return 0;
}
/// uretprobe
SEC("uretprobe//bin/bash:readline")
int BPF_URETPROBE(printret, const void *ret) { return 0; }
SEC("ksyscall/kill")
int BPF_KSYSCALL(entry_probe, pid_t pid, int sig) { return 0; }
SEC("kprobe/" "do_sys_" "openat2")
int
kp(void *ctx)
{
	return 0;
}
int __attribute__((noinline)) __attribute__((section("socket/1"))) attr_prog(void *ctx) { return 0; }
static int __attribute__((noinline)) __section("static") static_fn(uint32_t arg) { return arg; }
/// helper
static __always_inline int
helper(struct task_struct *t)
{
	return 0;
}
/** global subprogram */
__noinline int global_sub(int x) { return x; }
/// prototype
int declared_only(int);
extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
`,
		want: []string{
			`2 prog xdp_prog sec=xdp doc@1 "same line"`,
			`5 prog handle_exec sec=tp/sched/sched_process_exec doc@3 "line above"`,
			`11 prog do_unlinkat sec=kprobe/do_unlinkat doc@9 "kprobe"`,
			`17 prog printret sec=uretprobe//bin/bash:readline doc@15 "uretprobe"`,
			`19 prog entry_probe sec=ksyscall/kill`,
			`22 prog kp sec=kprobe/do_sys_openat2`,
			`26 prog attr_prog sec=socket/1`,
			`27 prog static_fn sec=static`,
			`30 func helper doc@28 "helper"`,
			`35 func global_sub doc@34 "global subprogram"`,
			`37 func declared_only doc@36 "prototype"`,
			`38 func bpf_task_acquire`,
		},
	},
	{
		name: "license",
		src: `/// Trace exec
///
/// More about it.
/// @version 0.1.0
char LICENSE[] SEC("license") = "GPL";
char _license[] SEC("license") = "GPL";
`,
		want: []string{
			`5 license LICENSE sec=license doc@1 "Trace exec\nMore about it." @version="0.1.0"`,
			`6 license _license sec=license`,
		},
	},
	{
		name: "types",
		src: `/// an event
struct event {
	int pid;
	char comm[16];
};
/// a union
union u { int a; long b; } __attribute__((packed));
/// an enum
enum state { RUNNING = 1, SLEEPING = (1 << 2) };
/// anonymous enum: nothing to report
enum { A, B };
/// typedef of anonymous struct
typedef struct { int x; } point_t;
/// tag and typedef
typedef struct span { int lo, hi; } span_t;
/// function pointer typedef
typedef int (*cb_t)(void *ctx);
/// plain typedef
typedef unsigned long long u64_t;
/// forward declaration: nothing to report
struct fwd;
/// type and variable
struct pair { int a, b; } the_pair;
`,
		want: []string{
			`2 type struct event doc@1 "an event"`,
			`7 type union u doc@6 "a union"`,
			`9 type enum state doc@8 "an enum"`,
			`13 type point_t doc@12 "typedef of anonymous struct"`,
			`15 type struct span doc@14 "tag and typedef"`,
			`15 type span_t doc@14 "tag and typedef"`,
			`17 type cb_t doc@16 "function pointer typedef"`,
			`19 type u64_t doc@18 "plain typedef"`,
			`23 type struct pair doc@22 "type and variable"`,
			`23 var the_pair doc@22 "type and variable"`,
		},
	},
	{
		name: "block comments",
		src: `/**
 * Target pid.
 *
 * Second paragraph
 * continues here.
 * @cmdarg {"default": 0,
 *          "short": "p"}
 */
const volatile int pid = 0;
/** one line */
int one;
/**   @brief only a tag   **/
int two;
/*! Qt style */
int qt;
//! Qt style lines
//! continued
int qt2;
`,
		want: []string{
			`9 var pid doc@1 "Target pid.\nSecond paragraph continues here." @cmdarg={"default":0,"short":"p"}`,
			`11 var one doc@10 "one line"`,
			`13 var two doc@12 @brief="only a tag"`,
			`15 var qt doc@14 "Qt style"`,
			`18 var qt2 doc@16 "Qt style lines continued"`,
		},
	},
	{
		name: "not doc comments",
		src: `// plain line comment
int a;
/* plain block comment */
int b;
////////////////////////////
int c;
/*****************************/
int d;
/**/
int e;
int f; ///< trailing doc of f, not of g
int g;
`,
		want: []string{`2 var a`, `4 var b`, `6 var c`, `8 var d`, `10 var e`, `11 var f`, `12 var g`},
	},
	{
		name: "attachment",
		src: `/// separated by a blank line

int blank;

/// ordinary comments between are transparent
// like this one
/* or this one */
int through_plain;

/// replaced by the later doc comment
// ordinary comment
/// the later one
int later;

/// a preprocessor line breaks it
#define FOO 1
int after_define;

/// above a macro invocation
ECC_EXPORT(events, struct event);
int after_macro;

/// above a stray semicolon
;
int after_semi;

/** block and */
/// line comments merge
int merged;

int x; /// on the line of x, documents y
int y;

/// end of file
`,
		want: []string{
			`3 var blank`,
			`8 var through_plain doc@5 "ordinary comments between are transparent"`,
			`13 var later doc@12 "the later one"`,
			`17 var after_define`,
			`21 var after_macro`,
			`25 var after_semi`,
			`29 var merged doc@27 "block and line comments merge"`,
			`31 var x`,
			`32 var y doc@31 "on the line of x, documents y"`,
		},
	},
	{
		name: "literals and preprocessor",
		src: `#define STR "/* not a comment"
#define CHR '"'
#define MULTI(a) \
	struct { int a; \
	} /* comment spanning
	     lines */ x_##a
#error don't panic
/// strings
const char s1[] = "// not a comment /* nor this";
/// chars
const char c1 = '"', c2 = '\'', c3 = '{';
/// escaped quote
const char s2[] = "\"; int fake; \"";
/// line splice in a string
const char s3[] = "a\
b";
// a continued line comment \
int hidden;
/// after
int after;
`,
		want: []string{
			`9 var s1 doc@8 "strings"`,
			`11 var c1 doc@10 "chars"`,
			`11 var c2 doc@10 "chars"`,
			`11 var c3 doc@10 "chars"`,
			`13 var s2 doc@12 "escaped quote"`,
			`15 var s3 doc@14 "line splice in a string"`,
			`20 var after doc@19 "after"`,
		},
	},
	{
		name: "if else braces",
		src: `#if 0
/// in #if 0: still read
int in_if0;
#endif
#ifdef NEW_API
SEC("tp/a") int prog(struct ctx_new *ctx) {
#else
SEC("tp/a") int prog(struct ctx_old *ctx) {
#endif
	if (ctx) {
		return 1;
	}
	return 0;
}
/// still at file scope
int after;
int f(void)
{
#ifdef X
	if (a) {
#else
	if (b) {
#endif
		return 1;
	}
	return 0;
}
/// after f
int after_f;
`,
		want: []string{
			`3 var in_if0 doc@2 "in #if 0: still read"`,
			`6 prog prog sec=tp/a`,
			`8 prog prog sec=tp/a`,
			`16 var after doc@15 "still at file scope"`,
			`17 func f`,
			`29 var after_f doc@28 "after f"`,
		},
	},
	{
		name: "misc",
		src: `#include "dir//file.h"
#define private(name) SEC(".data." #name) __hidden __attribute__((aligned(8)))
/// list head
private(A) struct bpf_list_head ghead __contains(foo, node2);
_Static_assert(sizeof(int) == 4, "int is 4 bytes");
_Pragma("GCC diagnostic push") int after_pragma;
/// statement expression
int stmt = ({ int y = 1; y; });
/// kfunc
extern void bpf_obj_drop_impl(void *kptr, void *meta) __ksym;
/// not a BPF_ wrapper name
int BPF_HELPER(void) { return 0; }
struct task_struct *task;
int x = 1, (*fp)(int) = 0;
static volatile const int ro SEC(".rodata.custom") = 1;
typedef int handler_t(void *ctx);
int after_body(void) { return 0; };
enum level : unsigned char { LOW, HIGH };
`,
		want: []string{
			`4 var ghead doc@3 "list head"`,
			`6 var after_pragma`,
			`8 var stmt doc@7 "statement expression"`,
			`10 func bpf_obj_drop_impl doc@9 "kfunc"`,
			`12 func BPF_HELPER doc@11 "not a BPF_ wrapper name"`,
			`13 var task`,
			`14 var x`,
			`14 var fp`,
			`15 var ro sec=.rodata.custom`,
			`16 type handler_t`,
			`17 func after_body`,
			`18 type enum level`,
		},
	},
	{
		name: "tags",
		src: `/// description first
/// @unit ms
/// @count 42
/// @list [1, 2,
///        3]
/// @flag
/// @hidden true
/// @text not { json
/// @version 1.0
/// @brief a <b> & "quoted"
/// mail me at a@b.c, @ in the middle is text
/// @description more description
/// @dup 1
/// @dup 2
/// @details first paragraph
///
/// back in the description
/// @cmdarg{"default": 1}
/// @sample {}
int tagged;
`,
		want: []string{
			`20 var tagged doc@1 "description first\nmore description\nback in the description" ` +
				`@brief="a <b> & \"quoted\" mail me at a@b.c, @ in the middle is text" @cmdarg={"default":1} @count=42 ` +
				`@details="first paragraph" @dup=2 @flag=true @hidden=true @list=[1,2,3] @sample={} ` +
				`@text="not { json" @unit="ms" @version="1.0"`,
		},
	},
}

func TestScan(t *testing.T) {
	for _, tt := range scanTests {
		t.Run(tt.name, func(t *testing.T) {
			checkDecls(t, tt.src, tt.want)
			// Line endings do not matter.
			checkDecls(t, strings.ReplaceAll(tt.src, "\n", "\r\n"), tt.want)
		})
	}
}

var errorTests = []struct {
	name string
	src  string
	errs []string
	want []string // declarations are still returned
}{
	{
		name: "invalid JSON",
		src: `int a;
/// Target pid
/// @cmdarg {"default": 0, "short": "p" "long": "pid"}
const volatile int targ_pid = 0;
`,
		errs: []string{`examples/x.bpf.c:3: @cmdarg: invalid JSON: invalid character '"' after object key:value pair`},
		want: []string{`1 var a`, `4 var targ_pid doc@2 "Target pid"`},
	},
	{
		name: "multi-line JSON error line",
		src: `/**
 * @sample {"interval": 1000,
 *          "type": log2_hist}
 */
struct { __uint(type, BPF_MAP_TYPE_HASH); } hists SEC(".maps");
`,
		errs: []string{`examples/x.bpf.c:3: @sample: invalid JSON: invalid character 'l' looking for beginning of value`},
		want: []string{`5 map hists sec=.maps doc@1`},
	},
	{
		name: "unterminated JSON",
		src: `/// @sample {"interval": 1000,
///   "type": "log2_hist"
int x;
`,
		errs: []string{`examples/x.bpf.c:2: @sample: invalid JSON: unexpected end of JSON input`},
		want: []string{`3 var x doc@1`},
	},
	{
		name: "not an object, several errors",
		src: `/// @cmdarg 42
/// @sample
/// @other {"fine": true}
int x;
/// @cmdarg ["p"]
int y;
/**
 * @cmdarg "p"
 * @sample true
 */
int z;
/// @cmdarg null
SEC("xdp") int prog(void *ctx) { return 0; }
`,
		errs: []string{
			`examples/x.bpf.c:1: @cmdarg: want a JSON object, got a number`,
			`examples/x.bpf.c:2: @sample: missing JSON object`,
			`examples/x.bpf.c:5: @cmdarg: want a JSON object, got an array`,
			`examples/x.bpf.c:8: @cmdarg: want a JSON object, got a string`,
			`examples/x.bpf.c:9: @sample: want a JSON object, got a boolean`,
			`examples/x.bpf.c:12: @cmdarg: want a JSON object, got null`,
		},
		want: []string{`4 var x doc@1 @other={"fine":true}`, `6 var y doc@5`, `11 var z doc@7`, `13 prog prog sec=xdp doc@12`},
	},
}

func TestScanErrors(t *testing.T) {
	for _, tt := range errorTests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := Scan("examples/x.bpf.c", []byte(tt.src))
			if err == nil {
				t.Fatal("no error")
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tt.errs) {
				t.Errorf("errors:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.errs, "\n\t"))
			}
			var e *Error
			if !errors.As(err, &e) || e.File != "examples/x.bpf.c" || e.Line == 0 {
				t.Errorf("errors.As(*Error) = %+v", e)
			}
			if got := summary(ds); !slices.Equal(got, tt.want) {
				t.Errorf("got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

func TestDocTag(t *testing.T) {
	ds, err := Scan("t.c", []byte(`/// Target pid
/// @cmdarg {"default": 7, "short": "p", "long": "pid"}
/// @version 0.1.0
const volatile int targ_pid = 7;
`))
	if err != nil || len(ds) != 1 {
		t.Fatalf("Scan: %v, %v", ds, err)
	}
	doc := ds[0].Doc
	var arg struct {
		Default int    `json:"default"`
		Short   string `json:"short"`
		Long    string `json:"long"`
	}
	if ok, err := doc.Tag("cmdarg", &arg); !ok || err != nil || arg.Default != 7 || arg.Short != "p" || arg.Long != "pid" {
		t.Errorf("Tag(cmdarg) = %v, %v, %+v", ok, err, arg)
	}
	var version string
	if ok, err := doc.Tag("version", &version); !ok || err != nil || version != "0.1.0" {
		t.Errorf("Tag(version) = %v, %v, %q", ok, err, version)
	}
	var n int
	if ok, err := doc.Tag("version", &n); !ok || err == nil {
		t.Errorf("Tag(version, *int) = %v, %v", ok, err)
	}
	if ok, err := doc.Tag("missing", &n); ok || err != nil {
		t.Errorf("Tag(missing) = %v, %v", ok, err)
	}
	if ok, _ := doc.Tag("cmdarg", nil); !ok {
		t.Error("Tag(cmdarg, nil) = false")
	}
	var nilDoc *Doc
	if ok, err := nilDoc.Tag("cmdarg", &arg); ok || err != nil {
		t.Errorf("nil Doc: Tag = %v, %v", ok, err)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{Var: "var", Map: "map", Prog: "prog", License: "license", Type: "type", Func: "func", 0: "Kind(0)", 99: "Kind(99)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}

// bigSource is a realistic file of about 2000 lines.
func bigSource() []byte {
	var b strings.Builder
	b.WriteString("// SPDX-License-Identifier: GPL-2.0\n#include \"vmlinux.h\"\n#include <bpf/bpf_helpers.h>\n\n")
	for i := 0; b.Len() == 0 || strings.Count(b.String(), "\n") < 2000; i++ {
		fmt.Fprintf(&b, `/// Option %[1]d
/// @cmdarg {"default": 0, "short": "x", "long": "opt-%[1]d"}
const volatile int opt_%[1]d = 0;

/** Map %[1]d
 * @sample {"interval": 1000, "type": "log2_hist"}
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} map_%[1]d SEC(".maps");

SEC("kprobe/fn_%[1]d")
int BPF_KPROBE(prog_%[1]d, struct task_struct *p)
{
	u32 key = 0; /* "comment" */
	u64 *v = bpf_map_lookup_elem(&map_%[1]d, &key);
	if (v && opt_%[1]d) {
		__sync_fetch_and_add(v, 1);
		bpf_printk("value: %%d // }", *v);
	}
	return 0;
}

`, i)
	}
	b.WriteString("char LICENSE[] SEC(\"license\") = \"GPL\";\n")
	return []byte(b.String())
}

func TestScanBig(t *testing.T) {
	src := bigSource()
	ds, err := Scan("big.bpf.c", src)
	if err != nil {
		t.Fatal(err)
	}
	n := strings.Count(string(src), "SEC(")
	if len(ds) != n+strings.Count(string(src), "const volatile") {
		t.Errorf("got %d declarations for %d SECs", len(ds), n)
	}
	for _, d := range ds {
		if d.Kind != License && d.Doc == nil && d.Kind != Prog {
			t.Errorf("%+v: no doc", d)
		}
	}
}

func BenchmarkScan(b *testing.B) {
	src := bigSource()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Scan("big.bpf.c", src); err != nil {
			b.Fatal(err)
		}
	}
}

// Inputs that would take quadratic time in a careless scanner.
func TestScanPathological(t *testing.T) {
	const n = 50000
	inputs := map[string]string{
		"attribute calls": "int f(x)" + strings.Repeat(" __a(x)", n) + " g(x);",
		"macro calls":     "int" + strings.Repeat(" m(x)", n) + ";",
		"open parens":     "int f" + strings.Repeat("(", n) + "{",
		"open braces":     "int f() " + strings.Repeat("{", n),
		"close parens":    strings.Repeat(")", n),
		"conditionals":    strings.Repeat("#if X\n{\n#else\n", n),
		"declarators":     "int" + strings.Repeat(" a,", n) + " b;",
		"doc lines":       strings.Repeat("/// @x {\"a\": [1,\n", n) + "int x;",
		"attr before {":   "struct" + strings.Repeat(" SEC(x)", n) + " {}" + strings.Repeat(" SEC(x) {}", n),
		"unterminated":    strings.Repeat("/* \" ' ", n),
	}
	for name, src := range inputs {
		start := time.Now()
		_, _ = Scan("p.c", []byte(src))
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: %v", name, d)
		}
	}
}

func TestJSONString(t *testing.T) {
	for _, in := range []string{"", "plain", `a "q" \ b`, "tab\there\nnl", "\x00\x1f\x7f", "café ✓", "bad \xff\xc3\x28 utf8", "<&>"} {
		got := jsonString([]byte(in))
		var dec, want string
		if err := json.Unmarshal(got, &dec); err != nil {
			t.Errorf("jsonString(%q) = %s: %v", in, got, err)
			continue
		}
		m, _ := json.Marshal(in)
		_ = json.Unmarshal(m, &want)
		if dec != want {
			t.Errorf("jsonString(%q) decodes to %q, want %q", in, dec, want)
		}
	}
}

func TestErrorUnwrap(t *testing.T) {
	_, err := Scan("x.c", []byte("/// @cmdarg {\"a\" 1}\nint x;\n"))
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("%v: not a *json.SyntaxError", err)
	}
}
