package e2e

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/internal/regserver"
	"github.com/ecc-bpf/ecc/internal/testenv"
)

// opensslPair writes NAME.key and NAME.pub in dir with openssl genpkey
// (args choose the algorithm).
func opensslPair(t *testing.T, dir, name string, args ...string) (key, pub string) {
	t.Helper()
	openssl := testenv.Tool(t, "openssl")
	key, pub = filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
	for _, a := range [][]string{append(append([]string{"genpkey"}, args...), "-out", key), {"pkey", "-in", key, "-pubout", "-out", pub}} {
		if out, err := exec.Command(openssl, a...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(a, " "), err, out)
		}
	}
	return key, pub
}

// Signing on Debian's docker-registry (TLS, htpasswd, no referrers API):
// a package pushed with --attest, keys made by openssl sign it, inspect
// lists the signature (with its signers) and both attestations, the right
// key verifies, another does not,
// ecli run --verify-key runs the signed digest and refuses an unsigned
// package pushed over the same tag, before loading anything.
func TestSignOnDockerRegistry(t *testing.T) {
	testenv.BPFBuild(t)
	reg := regserver.Start(t)
	e := newEnv(t)
	keys := t.TempDir()
	ecKey, ecPub := opensslPair(t, keys, "ec", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
	edKey, edPub := opensslPair(t, keys, "ed", "-algorithm", "ed25519")
	_, otherPub := opensslPair(t, keys, "other", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
	tls := []string{"--ca-file", reg.CAFile}
	e.ok(reg.Password+"\n", eccBin, append([]string{"login", reg.Host, "-u", reg.User, "--password-stdin"}, tls...)...)

	pkg := t.TempDir()
	e.ok("", eccBin, "build", "-o", pkg, "../../examples/execsnoop/execsnoop.bpf.c", "../../examples/execsnoop/execsnoop.h")
	ref := reg.Host + "/probes/signed:v1"
	var pushed struct{ Digest string }
	json.Unmarshal([]byte(e.ok("", eccBin, append([]string{"push", "--attest", "--format", "json", pkg, ref}, tls...)...)), &pushed)

	var signed struct {
		Digest       string
		Attestations []struct{ Digest string }
	}
	json.Unmarshal([]byte(e.ok("", eccBin, append([]string{"sign", "--attestations", "--format", "json", "--key", ecKey, ref}, tls...)...)), &signed)
	if signed.Digest != pushed.Digest || len(signed.Attestations) != 2 {
		t.Errorf("sign --attestations signed %+v", signed)
	}
	e.ok("", eccBin, append([]string{"sign", "--key", edKey, ref}, tls...)...)

	// inspect --format json: the signature manifests (the first, with ec's
	// signature, and the one that replaced it under the .sig tag, with
	// both), the provenance and the SBOM, all of the pushed digest.
	var inspected struct {
		Subject    string
		Signatures []struct {
			Digest, Signer string
		}
		Attestations []struct {
			PredicateType string `json:"predicate_type"`
			Signer        string
		}
	}
	out := e.ok("", eccBin, append([]string{"inspect", "--format", "json", "--verify-key", ecPub, "--verify-key", edPub, "--verify-key", otherPub, ref}, tls...)...)
	if err := json.Unmarshal([]byte(out), &inspected); err != nil || inspected.Subject != pushed.Digest || len(inspected.Signatures) != 2 || len(inspected.Attestations) != 2 {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	signers := map[string]bool{}
	for _, s := range inspected.Signatures {
		signers[s.Signer] = true
	}
	if !signers[ecPub] || !signers[ecPub+","+edPub] {
		t.Errorf("inspect names the signers %v, want %s and %s,%s", signers, ecPub, ecPub, edPub)
	}
	types := map[string]bool{}
	for _, a := range inspected.Attestations {
		types[a.PredicateType] = true
		if a.Signer != ecPub {
			t.Errorf("inspect names %q as the signer of the %s attestation, want %s (sign --attestations)", a.Signer, a.PredicateType, ecPub)
		}
	}
	if !types["https://slsa.dev/provenance/v1"] || !types["https://spdx.dev/Document/v2.3"] {
		t.Errorf("inspect lists the attestations %v", types)
	}
	text := e.ok("", eccBin, append([]string{"inspect", ref}, tls...)...)
	if !strings.Contains(text, "signatures of "+pushed.Digest+" (2)") || !strings.Contains(text, "attestations of "+pushed.Digest+" (2)") {
		t.Errorf("inspect text:\n%s", text)
	}
	// Carried into an air-gapped network: an oci-archive copy keeps the
	// signatures and attestations, and verifies there as here.
	archive := "oci-archive:" + filepath.Join(t.TempDir(), "probe.tar") + ":v1"
	e.ok("", eccBin, append([]string{"copy", ref, archive}, tls...)...)
	e.ok("", eccBin, "verify", "--key", ecPub, "--key", edPub, archive)
	if _, errs, status := e.run("", eccBin, "verify", "--key", otherPub, archive); status != 1 || !strings.Contains(errs, pushed.Digest) {
		t.Errorf("verify of the archive with another key: status %d\n%s", status, errs)
	}
	if out, errs, status := e.run("", ecliBin, "run", "--dry-run", "--verify-key", edPub, archive); status != 0 || !strings.Contains(out+errs, "dry run") {
		t.Errorf("ecli run --verify-key of the archive: status %d\n%s%s", status, out, errs)
	}
	if out := e.ok("", eccBin, "inspect", archive); !strings.Contains(out, "attestations of "+pushed.Digest+" (2)") {
		t.Errorf("inspect of the archive:\n%s", out)
	}
	// The attestations' signatures came along (referrers of referrers).
	for _, a := range signed.Attestations {
		e.ok("", eccBin, "verify", "--key", ecPub, strings.TrimSuffix(archive, ":v1")+"@"+a.Digest)
	}
	// ecc test checks too, before booting anything: a file with a bzImage
	// header passes as a kernel until qemu, which is never reached.
	vmlinuz := filepath.Join(t.TempDir(), "vmlinuz")
	img := make([]byte, 4096)
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(img[0x20e:], 0x200)
	copy(img[0x400:], "6.1.0-test\x00")
	os.WriteFile(vmlinuz, img, 0o644)
	if _, errs, status := e.run("", eccBin, "test", "--kernel", vmlinuz, "--verify-key", otherPub, archive); status != 1 || !strings.Contains(errs, pushed.Digest) || !strings.Contains(errs, otherPub) || strings.Contains(errs, "qemu") {
		t.Errorf("ecc test --verify-key with another key: status %d\n%s", status, errs)
	}

	out = e.ok("", eccBin, append([]string{"verify", "--format", "json", "--key", ecPub, "--key", edPub, ref}, tls...)...)
	var v struct {
		Digest     string
		Signatures []struct {
			KeyID string `json:"key_id"`
		}
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Digest != pushed.Digest || len(v.Signatures) != 2 {
		t.Errorf("verify: %v\n%s", err, out)
	}
	_, errs, status := e.run("", eccBin, append([]string{"verify", "--key", otherPub, ref}, tls...)...)
	if status != 1 || !strings.Contains(errs, ref) || !strings.Contains(errs, pushed.Digest) || !strings.Contains(errs, "no valid signature by "+otherPub) {
		t.Errorf("verify with another key: status %d\n%s", status, errs)
	}

	// ecli run --verify-key: the signed package's plan, then the tag
	// pushed over with an unsigned package is refused.
	run := func(args ...string) (string, string, int) {
		return e.run("", ecliBin, append(append([]string{"run", "--dry-run", "--pull", "always"}, tls...), args...)...)
	}
	if out, errs, status := run("--verify-key", ecPub, ref); status != 0 || !strings.Contains(out+errs, "dry run") {
		t.Errorf("ecli run of the signed package: status %d\n%s%s", status, out, errs)
	}
	if out, errs, status := run("--verify-key", otherPub, ref); status != 1 || strings.Contains(out, "dry run") || !strings.Contains(errs, pushed.Digest) || !strings.Contains(errs, otherPub) {
		t.Errorf("ecli run with another key: status %d\n%s%s", status, out, errs)
	}
	// pull --verify-key: the same check before anything is downloaded.
	pulled := filepath.Join(t.TempDir(), "pulled")
	if _, errs, status := e.run("", ecliBin, append([]string{"pull", "--verify-key", otherPub, "-o", pulled, ref}, tls...)...); status != 1 || !strings.Contains(errs, pushed.Digest) {
		t.Errorf("ecli pull with another key: status %d\n%s", status, errs)
	}
	if _, err := os.Stat(pulled); err == nil {
		t.Errorf("a refused pull wrote %s", pulled)
	}
	out = e.ok("", eccBin, append([]string{"pull", "--format", "json", "--verify-key", ecPub, "-o", pulled, ref}, tls...)...)
	if !strings.Contains(out, pushed.Digest) {
		t.Errorf("ecc pull --verify-key: %s", out)
	}
	cmd := exec.Command(eccBin, append([]string{"push", pkg, ref}, tls...)...)
	cmd.Env = append(os.Environ(), append(e.vars(), "SOURCE_DATE_EPOCH=1")...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("push over the tag: %v\n%s", err, b)
	}
	out, errs, status = run("--verify-key", ecPub, ref)
	if status != 1 || strings.Contains(out, "dry run") || !strings.Contains(errs, "no signature") || !strings.Contains(errs, ref) || strings.Contains(errs, pushed.Digest) {
		t.Errorf("ecli run of the unsigned package pushed over the tag: status %d\n%s%s", status, out, errs)
	}
	// The signed digest still runs when named.
	signedRef := reg.Host + "/probes/signed@" + pushed.Digest
	if out, errs, status := run("--verify-key", ecPub, signedRef); status != 0 {
		t.Errorf("ecli run of the signed digest: status %d\n%s%s", status, out, errs)
	}

	// And for real, in the kernel, where it can load.
	t.Run("kernel", func(t *testing.T) {
		testenv.Kernel(t)
		out, errs, status := e.run("", ecliBin, append(append([]string{"run", "-d", "1s"}, tls...), "--verify-key", edPub, signedRef)...)
		if status != 0 {
			t.Errorf("ecli run -d 1s of the signed digest: status %d\n%s%s", status, out, errs)
		}
	})
}
