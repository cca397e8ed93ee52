package loader

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/ecc-bpf/ecc/internal/bpfobj"
	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/runtime/attach"
)

// A socket filter returning LINUX_HAS_BPF_COOKIE*2 + (LINUX_KERNEL_VERSION
// != 0): the extern libbpf resolves itself next to one cilium/ebpf does.
const kconfigSource = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
extern const _Bool LINUX_HAS_BPF_COOKIE __kconfig;
extern unsigned int LINUX_KERNEL_VERSION __kconfig;
SEC("socket")
int both(struct __sk_buff *skb) { return LINUX_HAS_BPF_COOKIE * 2 + (LINUX_KERNEL_VERSION != 0); }
SEC("socket")
int cookie_only(struct __sk_buff *skb) { return LINUX_HAS_BPF_COOKIE ? 7 : 5; }
char LICENSE[] SEC("license") = "GPL";
`

func kconfigObject(t *testing.T) []byte {
	t.Helper()
	clang := testenv.Clang(t)
	testenv.Kernel(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "k.bpf.c")
	if err := os.WriteFile(src, []byte(kconfigSource), 0o644); err != nil {
		t.Fatal(err)
	}
	obj := filepath.Join(dir, "k.bpf.o")
	args := []string{"-g", "-O2", "-target", "bpf", "-c", src, "-o", obj}
	// <linux/bpf.h> includes <asm/types.h> from the multiarch folder.
	for _, d := range []string{"/usr/include/x86_64-linux-gnu", "/usr/include/aarch64-linux-gnu"} {
		if _, err := os.Stat(d); err == nil {
			args = append(args, "-idirafter", d)
		}
	}
	if out, err := exec.Command(clang, args...).CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, out)
	}
	b, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func runSocket(t *testing.T, p *ebpf.Program) uint32 {
	t.Helper()
	ret, err := p.Run(&ebpf.RunOptions{Data: make([]byte, 64)})
	if err != nil {
		t.Fatal(err)
	}
	return ret
}

// TestCookieExtern: programs read LINUX_HAS_BPF_COOKIE as this kernel's
// answer (or false under ECLI_USDT_NO_COOKIE=1), alongside the .kconfig
// externs cilium/ebpf resolves.
func TestCookieExtern(t *testing.T) {
	obj := kconfigObject(t)

	// cilium/ebpf alone cannot load it.
	spec, err := bpfobj.LoadSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	if coll, err := ebpf.NewCollection(spec); err == nil {
		coll.Close()
		t.Fatal("cilium/ebpf resolved LINUX_HAS_BPF_COOKIE by itself: resolveCookieExtern may be obsolete")
	} else if !strings.Contains(err.Error(), "LINUX_HAS_BPF_COOKIE") {
		t.Logf("cilium/ebpf's error: %v", err)
	}

	for _, noCookie := range []bool{false, true} {
		if noCookie {
			t.Setenv("ECLI_USDT_NO_COOKIE", "1")
		}
		have := attach.HaveBPFCookie()
		if noCookie && have {
			t.Fatal("ECLI_USDT_NO_COOKIE=1 ignored")
		}
		spec, err := bpfobj.LoadSpec(obj)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Load(spec, nil)
		if err != nil {
			t.Fatalf("load (no cookie %v): %v", noCookie, err)
		}
		if len(c.Failed) > 0 {
			t.Fatalf("failed: %v", c.Failed[0])
		}
		wantBoth, wantOnly := uint32(1), uint32(5)
		if have {
			wantBoth, wantOnly = 3, 7
		}
		if got := runSocket(t, c.Programs["both"]); got != wantBoth {
			t.Errorf("both (cookies %v) returned %d, want %d", have, got, wantBoth)
		}
		if got := runSocket(t, c.Programs["cookie_only"]); got != wantOnly {
			t.Errorf("cookie_only (cookies %v) returned %d, want %d", have, got, wantOnly)
		}
		c.Close()
	}
}
