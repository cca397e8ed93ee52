package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry"
	"github.com/ecc-bpf/ecc/registry/sign"
	"github.com/ecc-bpf/ecc/source"
)

// pushLayoutPkg pushes the committed test object to an OCI layout as tag
// and, when key is set, signs it; it returns the reference and digest.
func pushLayoutPkg(t *testing.T, layout, tag string, key *sign.Signer) (string, string) {
	t.Helper()
	ctx := context.Background()
	src, err := source.Open(ctx, "../../packager/extract/testdata/events.bpf.o", nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := registry.ParseReference("oci:" + layout + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := registry.OpenTarget(ctx, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	// A creation time of its own gives each tag its own digest.
	created := time.Unix(int64(len(tag)), 0)
	res, err := registry.Push(ctx, []packager.PlatformPackage{{Package: src.Package, Name: "events", Platform: "linux/" + goruntime.GOARCH}}, dst, ref, &registry.PushOptions{Created: &created})
	if err != nil {
		t.Fatal(err)
	}
	if key != nil {
		if _, err := sign.Sign(ctx, dst, ref, key); err != nil {
			t.Fatal(err)
		}
	}
	return ref.String(), res.Digest
}

// ecli run --verify-key and --policy check the digest that runs before
// anything is loaded; --dry-run shows the plan only for a package that
// passes.
func TestRunVerifyKey(t *testing.T) {
	dir := t.TempDir()
	keyFile, pubFile, err := sign.WriteKeyPair(filepath.Join(dir, "ecc"), sign.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	_, otherPub, err := sign.WriteKeyPair(filepath.Join(dir, "other"), sign.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sign.LoadPrivateKey(keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(dir, "layout")
	signed, _ := pushLayoutPkg(t, layout, "signed", s)
	unsigned, unsignedDigest := pushLayoutPkg(t, layout, "unsigned", nil)

	run := func(args ...string) (string, string, int) {
		cmd := exec.Command(ecliBin, append([]string{"run", "--dry-run"}, args...)...)
		cmd.Env = append(os.Environ(), "ECC_STORE_DIR="+filepath.Join(dir, "store"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
		return runCmd(t, cmd)
	}
	if stdout, stderr, status := run("--verify-key", pubFile, signed); status != 0 || stdout == "" {
		t.Errorf("signed package: status %d\n%s%s", status, stdout, stderr)
	}
	stdout, stderr, status := run("--verify-key", pubFile, unsigned)
	if status != 1 || stdout != "" || !strings.Contains(stderr, unsigned) || !strings.Contains(stderr, unsignedDigest) || !strings.Contains(stderr, "no signature") || !strings.Contains(stderr, "hint: sign it") {
		t.Errorf("unsigned package: status %d\n%s%s", status, stdout, stderr)
	}
	if stdout, stderr, status := run("--verify-key", otherPub, signed); status != 1 || stdout != "" || !strings.Contains(stderr, "no valid signature by "+otherPub) {
		t.Errorf("another key: status %d\n%s%s", status, stdout, stderr)
	}
	if _, stderr, status := run("--verify-key", pubFile, "../../packager/extract/testdata/events.bpf.o"); status != 1 || !strings.Contains(stderr, "not a registry reference") {
		t.Errorf("a file with --verify-key: status %d\n%s", status, stderr)
	}
	if _, stderr, status := run("--verify-key", pubFile, "--policy", "p.json", signed); status != 2 || !strings.Contains(stderr, "exclude each other") {
		t.Errorf("--verify-key with --policy: status %d\n%s", status, stderr)
	}

	// The default policy file applies without a flag.
	os.MkdirAll(filepath.Join(dir, "config", "ecc"), 0o755)
	policy := `{"version": 1, "rules": [{"match": "oci:` + layout + `", "keys": ["` + pubFile + `"]}]}`
	os.WriteFile(filepath.Join(dir, "config", "ecc", "policy.json"), []byte(policy), 0o644)
	if _, stderr, status := run(signed); status != 0 {
		t.Errorf("signed package under the default policy: status %d\n%s", status, stderr)
	}
	if _, stderr, status := run(unsigned); status != 1 || !strings.Contains(stderr, "no signature") {
		t.Errorf("unsigned package under the default policy: status %d\n%s", status, stderr)
	}
}
