package wasm

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/runtime/attach"
)

// targetGuest builds testdata/target.c, which attaches xdp_pass and egress
// to the targets its arguments name.
func targetGuest(t *testing.T) []byte {
	testenv.Kernel(t)
	bpfObjectNamed(t, "target")
	return wasiGuest(t, "target.c")
}

// testCgroup creates a cgroup under the root for the test.
func testCgroup(t *testing.T) (root, dir string) {
	t.Helper()
	root, err := attach.CgroupRoot()
	if err != nil {
		t.Skip(err)
	}
	dir = filepath.Join(root, fmt.Sprintf("ecc-wasm-test-%08d", rand.IntN(1e8)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a cgroup: %v", err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	return root, dir
}

// runTarget runs the guest to its end with args and the user's flags.
func runTarget(t *testing.T, wasm []byte, user attach.Options, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errs testenv.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := Run(ctx, wasm, &Options{Args: append([]string{"target.wasm"}, args...), Stdout: &out, Stderr: &errs, CacheDir: cacheDir(), Attach: user})
	if err != nil {
		t.Fatalf("Run: %v\nstdout:\n%s\nstderr:\n%s", err, &out, &errs)
	}
	return out.String(), errs.String()
}

// The user's --ifname wins over the interface the guest asks for; the
// attach line says so. Without --ifname the guest's is used.
func TestUserIfnameWins(t *testing.T) {
	wasm := targetGuest(t)
	testenv.Exclusive(t, "xdp-lo")
	var live liveObjects
	withHook(t, live.hook)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, stderr testenv.SyncBuffer
	done := run(ctx, wasm, &Options{Args: []string{"target.wasm", "bogus0", "skip", "wait"}, Stdout: &out, Stderr: &stderr,
		CacheDir: cacheDir(), Attach: attach.Options{IfName: "lo"}})
	waitFor(t, &out, &stderr, "ready\n", done)
	var links []string
	for _, o := range live.snapshot() {
		for _, l := range o.links {
			links = append(links, l.String())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v\n%s", err, &stderr)
	}
	if !strings.Contains(out.String(), "xdp ret=0\n") {
		t.Errorf("attach with --ifname lo did not succeed:\n%s\n%s", &out, &stderr)
	}
	if len(links) != 1 || !strings.HasPrefix(links[0], "xdp on lo (") {
		t.Errorf("links while running: %q, want xdp on lo", links)
	}
	wantLines := "ecli: target.wasm: load BPF object: programs egress, xdp_pass; maps none\n" +
		"ecli: target.wasm: xdp_pass → xdp on lo (--ifname; the program asked for bogus0)\n"
	if got := stderr.String(); got != wantLines {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, wantLines)
	}

	// Without --ifname, the guest's interface.
	o, e := runTarget(t, wasm, attach.Options{}, "bogus0", "skip")
	if strings.Contains(o, "xdp ret=0\n") || !strings.Contains(e, "ecli: target.wasm: xdp_pass → xdp on bogus0\n") || !strings.Contains(e, `network interface "bogus0"`) {
		t.Errorf("without --ifname:\nstdout:\n%s\nstderr:\n%s", o, e)
	}
}

// The user's --cgroup wins over the guest's; without it a guest may name a
// cgroup, but not the root, and naming none is refused as in ecli run.
func TestUserCgroupWins(t *testing.T) {
	wasm := targetGuest(t)
	root, dir := testCgroup(t)

	o, e := runTarget(t, wasm, attach.Options{Cgroup: dir}, "skip", root)
	if !strings.Contains(o, "cgroup ret=0\n") || !strings.Contains(e, "ecli: target.wasm: egress → cgroup_skb/egress on cgroup "+dir+" (--cgroup; the program asked for "+root+")\n") {
		t.Errorf("--cgroup %s, the guest asks for the root:\nstdout:\n%s\nstderr:\n%s", dir, o, e)
	}

	o, e = runTarget(t, wasm, attach.Options{}, "skip", root)
	if !strings.Contains(o, fmt.Sprintf("cgroup ret=%d\n", -ePERM)) || !strings.Contains(e, "the Wasm program asks to attach it to the root cgroup "+root) ||
		!strings.Contains(e, "pass --cgroup "+root+" to allow it") || strings.Contains(e, "→") {
		t.Errorf("no --cgroup, the guest asks for the root:\nstdout:\n%s\nstderr:\n%s", o, e)
	}

	o, e = runTarget(t, wasm, attach.Options{}, "skip", "-")
	if !strings.Contains(o, fmt.Sprintf("cgroup ret=%d\n", -eINVAL)) || !strings.Contains(e, "pass --cgroup PATH, or --cgroup "+root+" to attach to the root cgroup") {
		t.Errorf("no --cgroup, no target:\nstdout:\n%s\nstderr:\n%s", o, e)
	}

	o, e = runTarget(t, wasm, attach.Options{}, "skip", dir)
	if !strings.Contains(o, "cgroup ret=0\n") || !strings.Contains(e, "ecli: target.wasm: egress → cgroup_skb/egress on cgroup "+dir+"\n") {
		t.Errorf("no --cgroup, the guest asks for %s:\nstdout:\n%s\nstderr:\n%s", dir, o, e)
	}

	// The root, asked for by the user.
	o, e = runTarget(t, wasm, attach.Options{Cgroup: root}, "skip", "-")
	if !strings.Contains(o, "cgroup ret=0\n") || !strings.Contains(e, "ecli: target.wasm: egress → cgroup_skb/egress on cgroup "+root+"\n") {
		t.Errorf("--cgroup %s:\nstdout:\n%s\nstderr:\n%s", root, o, e)
	}
}
