package vmlinux

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

// splitKfuncs cuts the kfunc prelude and block out of a header, returning
// the rest (what the header is without kfuncs) and the block's
// declarations.
func splitKfuncs(t testing.TB, h string) (rest, decls string) {
	t.Helper()
	i := strings.Index(h, kfuncPrelude)
	if i < 0 {
		t.Fatalf("header lacks the __ksym/__weak fallbacks:\n%s", truncate(h, 2000))
	}
	h = h[:i] + h[i+len(kfuncPrelude):]
	start := strings.Index(h, kfuncBlockStart)
	if start < 0 {
		t.Fatalf("header lacks the kfunc block:\n%s", truncate(h, 2000))
	}
	end := strings.Index(h[start:], kfuncBlockEnd)
	if end < 0 {
		t.Fatal("kfunc block not closed")
	}
	end += start
	return h[:start] + h[end+len(kfuncBlockEnd):], h[start+len(kfuncBlockStart) : end]
}

func kfunc(name string, ret btf.Type, params []btf.FuncParam, tags ...string) *btf.Func {
	return &btf.Func{Name: name, Type: &btf.FuncProto{Return: ret, Params: params}, Linkage: btf.StaticFunc, Tags: tags}
}

func TestKfuncs(t *testing.T) {
	task := &btf.Struct{Name: "task_struct", Size: 24, Members: []btf.Member{
		mem("pid", tS32, 0), mem("tgid", tS32, 4), mem("comm", arr(tChar, 16), 8),
	}}
	s32 := &btf.Typedef{Name: "s32", Type: tS32}
	rbNode := &btf.Struct{Name: "rb_node", Size: 8, Members: []btf.Member{mem("key", tU64, 0)}}
	less := ptr(&btf.FuncProto{Return: tBool, Params: []btf.FuncParam{{Type: ptr(rbNode)}, {Type: ptr(&btf.Const{Type: rbNode})}}})
	plain := kfunc("not_a_kfunc", tS32, []btf.FuncParam{{Name: "x", Type: tS32}})
	paramTagged := kfunc("param_tagged", tS32, []btf.FuncParam{{Name: "x", Type: tS32}})
	paramTagged.ParamTags = [][]string{{"bpf_kfunc"}}

	types := []btf.Type{
		kfunc("bpf_task_release", tVoid, []btf.FuncParam{{Name: "p", Type: ptr(task)}}, "bpf_kfunc"),
		kfunc("bpf_task_from_pid", ptr(task), []btf.FuncParam{{Name: "pid", Type: s32}}, "bpf_kfunc"),
		kfunc("bpf_rbtree_add_impl", tS32, []btf.FuncParam{
			{Name: "node", Type: ptr(rbNode)}, {Name: "less", Type: less}, {Name: "meta__ign", Type: ptr(tVoid)},
		}, "bpf_kfunc"),
		kfunc("bpf_rcu_read_lock", tVoid, nil, "bpf_kfunc"),
		kfunc("bpf_cast_to_kern_ctx", ptr(tVoid), []btf.FuncParam{{Name: "obj", Type: ptr(tVoid)}}, "bpf_fastcall", "bpf_kfunc"),
		// Declarators C reads inside out: a function returning a function
		// pointer, and one returning a pointer to an array.
		kfunc("a_handler", ptr(&btf.FuncProto{Return: tVoid, Params: []btf.FuncParam{{Type: tLong}}}),
			[]btf.FuncParam{{Name: "id", Type: tS32}}, "bpf_kfunc"),
		kfunc("b_rows", ptr(arr(tS32, 4)), []btf.FuncParam{
			{Name: "name", Type: ptr(&btf.Const{Type: tChar})}, {Name: "m", Type: ptr(arr(tU8, 16))},
			{Name: "v", Type: &btf.Volatile{Type: tU32}},
		}, "bpf_kfunc"),
		// A prototype C cannot express is left out, not fatal.
		kfunc("zz_bad", tS32, []btf.FuncParam{{Name: "f", Type: plain}}, "bpf_kfunc"),
		plain,
		paramTagged,
		kfunc("fast_only", tVoid, nil, "bpf_fastcall"),
	}
	h := generate(t, types...)

	rest, decls := splitKfuncs(t, h)
	want := "extern void (*a_handler(int id))(long int) __weak __ksym;\n" +
		"extern int (*b_rows(const char *name, unsigned char (*m)[16], volatile unsigned int v))[4] __weak __ksym;\n" +
		"extern __bpf_fastcall void *bpf_cast_to_kern_ctx(void *obj) __weak __ksym;\n" +
		"extern int bpf_rbtree_add_impl(struct rb_node *node, _Bool (*less)(struct rb_node *, const struct rb_node *), void *meta__ign) __weak __ksym;\n" +
		"extern void bpf_rcu_read_lock(void) __weak __ksym;\n" +
		"extern struct task_struct *bpf_task_from_pid(s32 pid) __weak __ksym;\n" +
		"extern void bpf_task_release(struct task_struct *p) __weak __ksym;\n" +
		"/* kfunc zz_bad left out: variable, function or section \"not_a_kfunc\" used as a type */\n"
	if decls != want {
		t.Errorf("kfunc block:\n%s\nwant:\n%s", decls, want)
	}
	for _, s := range []string{"not_a_kfunc(", "param_tagged", "fast_only"} {
		if strings.Contains(h, s) {
			t.Errorf("header declares %q, which is no kfunc", s)
		}
	}
	// The block sits inside the include guard, before the pragma pop.
	before(t, h, kfuncBlockEnd+"#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop", "#endif /* __VMLINUX_H__ */")
	before(t, h, kfuncPrelude, "struct task_struct {")

	// Without kfuncs, the header is the same minus prelude and block.
	var without bytes.Buffer
	if err := Write(&without, specOf(t, types...), &Options{NoKfuncs: true}); err != nil {
		t.Fatal(err)
	}
	if without.String() != rest {
		t.Errorf("NoKfuncs header differs from the header minus its kfunc block:\n%s\n---\n%s", without.String(), rest)
	}

	calls := `
SEC_TEXT int prog(void *ctx) {
	struct task_struct *t = bpf_task_from_pid(1);
	if (t)
		bpf_task_release(t);
	bpf_rcu_read_lock();
	return bpf_cast_to_kern_ctx(ctx) != 0;
}
_Static_assert(__builtin_types_compatible_p(__typeof__(bpf_task_from_pid), struct task_struct *(s32)), "from_pid");
_Static_assert(__builtin_types_compatible_p(__typeof__(b_rows), int (*(const char *, unsigned char (*)[16], volatile unsigned int))[4]), "rows");
_Static_assert(__builtin_types_compatible_p(__typeof__(a_handler), void (*(int))(long)), "handler");
`
	calls = strings.ReplaceAll(calls, "SEC_TEXT", `__attribute__((section("tp/x")))`)
	// Every clang installed: Debian's default (14) and the newest agree.
	for _, clang := range clangs(t) {
		t.Run(filepath.Base(clang), func(t *testing.T) {
			t.Run("calls", func(t *testing.T) {
				compileC(t, clang, h+calls)
			})
			t.Run("redeclared", func(t *testing.T) {
				// Programs written for older headers declare kfuncs themselves,
				// without __weak: a compatible redeclaration is accepted.
				compileC(t, clang, h+`
	extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
	extern void bpf_task_release(struct task_struct *p) __attribute__((section(".ksyms")));
	extern struct task_struct *bpf_task_from_pid(int pid) __ksym __weak;
	`+calls)
			})
			t.Run("opt out", func(t *testing.T) {
				// An incompatible declaration needs BPF_NO_KFUNC_PROTOTYPES,
				// which really removes the block.
				own := `
	#ifndef __ksym
	#define __ksym __attribute__((section(".ksyms")))
	#endif
	extern struct task_struct *bpf_task_from_pid(unsigned long pid) __ksym;
	`
				compileC(t, clang, "#define BPF_NO_KFUNC_PROTOTYPES\n"+h+own)
				if err := tryCompileC(clang, h+own); err == nil {
					t.Error("a conflicting declaration compiled although the block declares bpf_task_from_pid")
				}
			})
		})
	}
}

// clangs returns the clang-N commands on PATH, or the one testenv finds.
func clangs(t *testing.T) []string {
	var found []string
	for v := 30; v >= 14; v-- {
		if p, err := exec.LookPath("clang-" + strconv.Itoa(v)); err == nil {
			found = append(found, p)
		}
	}
	if len(found) == 0 {
		found = append(found, testenv.Clang(t))
	}
	return found
}

// TestKfuncsNone: BTF without kfuncs still gets the (empty) block, like
// bpftool's output.
func TestKfuncsNone(t *testing.T) {
	s := &btf.Struct{Name: "s", Size: 4, Members: []btf.Member{mem("x", tU32, 0)}}
	h := generate(t, s, kfunc("f", tVoid, nil))
	if _, decls := splitKfuncs(t, h); decls != "" {
		t.Errorf("declarations without kfuncs: %q", decls)
	}
	compileChecks(t, h, "sizeof(struct s) == 4")
}
