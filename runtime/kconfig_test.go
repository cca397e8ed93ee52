package runtime

import (
	"bufio"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/runtime/loader"
)

const kconfigProgram = `
#include <ecc.h>

extern __u32 LINUX_KERNEL_VERSION __kconfig;       /* a typedef: cilium/ebpf refuses it */
extern bool CONFIG_BPF_SYSCALL __kconfig __weak;  /* weak: cilium/ebpf refuses the object */
extern int CONFIG_ECC_DOES_NOT_EXIST __kconfig __weak;
extern enum libbpf_tristate CONFIG_BPF_JIT __kconfig __weak;
extern bool CONFIG_KPROBES __kconfig __weak;
extern int CONFIG_HZ __kconfig __weak;
extern char CONFIG_DEFAULT_HOSTNAME[16] __kconfig __weak;
extern bool LINUX_HAS_SYSCALL_WRAPPER __kconfig;
extern int LINUX_HAS_BPF_COOKIE __kconfig;
extern int LINUX_ECC_UNKNOWN __kconfig __weak;

struct kc_event {
	__u32 version;
	int missing;
	int hz;
	int jit;
	bool bpf_syscall;
	bool kprobes;
	bool wrapper;
	int cookie;
	int unknown;
	char hostname[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} events SEC(".maps");
ECC_EXPORT(events, struct kc_event);

SEC("tp/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	/* The values are constants to the verifier (frozen read-only map): it
	 * prunes this branch, which it would reject otherwise. */
	if (LINUX_KERNEL_VERSION < KERNEL_VERSION(3, 0, 0))
		return *(volatile char *)(long)bpf_get_prandom_u32();
	struct kc_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->version = LINUX_KERNEL_VERSION;
	e->missing = CONFIG_ECC_DOES_NOT_EXIST;
	e->hz = CONFIG_HZ;
	e->jit = CONFIG_BPF_JIT;
	e->bpf_syscall = CONFIG_BPF_SYSCALL;
	e->kprobes = CONFIG_KPROBES;
	e->wrapper = LINUX_HAS_SYSCALL_WRAPPER;
	e->cookie = LINUX_HAS_BPF_COOKIE;
	e->unknown = LINUX_ECC_UNKNOWN;
	__builtin_memcpy(e->hostname, CONFIG_DEFAULT_HOSTNAME, sizeof(e->hostname));
	bpf_ringbuf_submit(e, 0);
	return 0;
}
`

// hostKernelConfig reads the running kernel's config the simple way, for
// comparison: name → raw value, "# X is not set" → "n".
func hostKernelConfig(t *testing.T) (map[string]string, string) {
	t.Helper()
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		t.Fatal(err)
	}
	release := unix.ByteSliceToString(uts.Release[:])
	for _, p := range []string{"/boot/config-" + release, "/proc/config.gz"} {
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var r io.Reader = f
		if strings.HasSuffix(p, ".gz") {
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			r = zr
		}
		m := map[string]string{}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			if name, ok := strings.CutSuffix(strings.TrimPrefix(line, "# "), " is not set"); ok {
				m[name] = "n"
			} else if name, value, ok := strings.Cut(line, "="); ok {
				m[name] = value
			}
		}
		return m, p
	}
	return nil, ""
}

// The loader resolves __kconfig externs libbpf-tools declare and
// cilium/ebpf refuses: a typedef'd LINUX_KERNEL_VERSION, weak options,
// a weak option the kernel lacks; bool, tristate, int and string values.
func TestKconfigExterns(t *testing.T) {
	config, file := hostKernelConfig(t)
	if config == nil {
		// Without a config of the running kernel, a fixture stands in
		// (through ECLI_KERNEL_CONFIG).
		file = filepath.Join(t.TempDir(), "config")
		config = map[string]string{"CONFIG_BPF_SYSCALL": "y", "CONFIG_BPF_JIT": "y", "CONFIG_KPROBES": "n",
			"CONFIG_HZ": "250", "CONFIG_DEFAULT_HOSTNAME": `"(none)"`}
		os.WriteFile(file, []byte("CONFIG_BPF_SYSCALL=y\nCONFIG_BPF_JIT=y\n# CONFIG_KPROBES is not set\nCONFIG_HZ=250\nCONFIG_DEFAULT_HOSTNAME=\"(none)\"\n"), 0o644)
		t.Setenv(loader.KernelConfigEnv, file)
	}
	t.Logf("kernel config %s", file)
	src := buildSource(t, "kconfig", prelude+kconfigProgram)
	r := start(t, src, nil, Options{JSON: true})
	deadline := time.Now().Add(5 * time.Second)
	go func() {
		for time.Now().Before(deadline) {
			syscall.Getppid()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	ev := r.waitFor(t, "a kconfig event", func(m map[string]any) bool { _, ok := m["version"]; return ok })
	t.Logf("event %v", ev)

	var uts unix.Utsname
	unix.Uname(&uts)
	release := unix.ByteSliceToString(uts.Release[:])
	var a, b, c int
	if m := regexp.MustCompile(`^(\d+)\.(\d+)(?:\.(\d+))?`).FindStringSubmatch(release); m != nil {
		a, _ = strconv.Atoi(m[1])
		b, _ = strconv.Atoi(m[2])
		c, _ = strconv.Atoi(m[3])
	}
	want := int64(a<<16 | b<<8 | min(c, 255))
	if _, err := os.Stat("/proc/version_signature"); err == nil || strings.Contains(unix.ByteSliceToString(uts.Version[:]), "Debian ") {
		t.Logf("Ubuntu or Debian kernel: LINUX_KERNEL_VERSION comes from elsewhere than uname -r; not compared")
	} else if got := num(ev["version"]); got != want {
		t.Errorf("LINUX_KERNEL_VERSION %#x, want %#x (uname -r %s)", got, want, release)
	}

	if ev["bpf_syscall"] != (config["CONFIG_BPF_SYSCALL"] == "y") {
		t.Errorf("CONFIG_BPF_SYSCALL %v, config says %q", ev["bpf_syscall"], config["CONFIG_BPF_SYSCALL"])
	}
	if ev["kprobes"] != (config["CONFIG_KPROBES"] == "y") {
		t.Errorf("CONFIG_KPROBES %v, config says %q", ev["kprobes"], config["CONFIG_KPROBES"])
	}
	// x86_64 kernels since 4.17 wrap syscalls (__x64_sys_bpf); the
	// config says whether this one does.
	if wrap := config["CONFIG_ARCH_HAS_SYSCALL_WRAPPER"]; wrap != "" && ev["wrapper"] != (wrap == "y") {
		t.Errorf("LINUX_HAS_SYSCALL_WRAPPER %v, config says CONFIG_ARCH_HAS_SYSCALL_WRAPPER=%s", ev["wrapper"], wrap)
	}
	// bpf_get_attach_cookie: Linux 5.15.
	if (a > 5 || a == 5 && b >= 15) && num(ev["cookie"]) != 1 {
		t.Errorf("LINUX_HAS_BPF_COOKIE %v on Linux %d.%d", ev["cookie"], a, b)
	}
	if num(ev["unknown"]) != 0 {
		t.Errorf("weak LINUX_ECC_UNKNOWN %v, want 0", ev["unknown"])
	}
	if num(ev["missing"]) != 0 {
		t.Errorf("CONFIG_ECC_DOES_NOT_EXIST %v, want 0", ev["missing"])
	}
	if tri := map[string]int64{"y": 1, "m": 2}[config["CONFIG_BPF_JIT"]]; num(ev["jit"]) != tri {
		t.Errorf("CONFIG_BPF_JIT %v, config says %q", ev["jit"], config["CONFIG_BPF_JIT"])
	}
	if hz, _ := strconv.Atoi(config["CONFIG_HZ"]); num(ev["hz"]) != int64(hz) {
		t.Errorf("CONFIG_HZ %v, config says %q", ev["hz"], config["CONFIG_HZ"])
	}
	if host, _ := strconv.Unquote(config["CONFIG_DEFAULT_HOSTNAME"]); ev["hostname"] != host {
		t.Errorf("CONFIG_DEFAULT_HOSTNAME %q, config says %q", ev["hostname"], host)
	}
}

// A strong extern the kernel config lacks is one clear error naming it
// and the config file.
func TestKconfigStrongMissing(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config")
	os.WriteFile(file, []byte("CONFIG_BPF_SYSCALL=y\n"), 0o644)
	t.Setenv(loader.KernelConfigEnv, file)
	src := buildSource(t, "kconfig_strong", prelude+`
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern int CONFIG_ECC_DOES_NOT_EXIST __kconfig;
int seen;
SEC("tp/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	seen = CONFIG_BPF_SYSCALL + CONFIG_ECC_DOES_NOT_EXIST;
	return 0;
}
`)
	err := Run(t.Context(), src.Name, src.Package, nil, &Options{Stdout: &testenv.SyncBuffer{}, Stderr: &testenv.SyncBuffer{}})
	if err == nil || !strings.Contains(err.Error(), "CONFIG_ECC_DOES_NOT_EXIST not set in the kernel config "+file) ||
		strings.Contains(err.Error(), "CONFIG_BPF_SYSCALL") {
		t.Fatalf("got %v", err)
	}
	t.Log(err)
}
