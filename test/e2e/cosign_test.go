package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/internal/regserver"
	"github.com/ecc-bpf/ecc/internal/testenv"
)

// cosignCLI finds the cosign CLI that make test-deps installs.
func cosignCLI(t *testing.T) string { return testDepTool(t, "cosign") }

// cosign and ecc accept each other's signatures, on Debian's
// docker-registry (TLS, htpasswd), without a transparency log. Parallel,
// so that it runs after the package's other tests, by when make test-deps'
// background build of cosign has most likely finished.
func TestCosignInterop(t *testing.T) {
	t.Parallel()
	cosign := cosignCLI(t)
	testenv.BPFBuild(t)
	reg := regserver.Start(t)
	e := newEnv(t)
	dir := t.TempDir()
	tls := []string{"--ca-file", reg.CAFile}
	e.ok(reg.Password+"\n", eccBin, append([]string{"login", reg.Host, "-u", reg.User, "--password-stdin"}, tls...)...)
	pkg := t.TempDir()
	e.ok("", eccBin, "build", "-o", pkg, "../../examples/execsnoop/execsnoop.bpf.c", "../../examples/execsnoop/execsnoop.h")
	// cosign reads the same docker config (ecc login wrote it) and trusts
	// the registry's certificate through SSL_CERT_FILE.
	env := append(os.Environ(), append(e.vars(), "SSL_CERT_FILE="+reg.CAFile, "COSIGN_PASSWORD=pw", "COSIGN_YES=true")...)
	cosignRun := func(args ...string) (string, error) {
		cmd := exec.Command(cosign, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// ecc signs, cosign verifies.
	ecKey, ecPub := opensslPair(t, dir, "ec", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
	_, otherPub := opensslPair(t, dir, "other", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
	ref := reg.Host + "/probes/by-ecc:v1"
	e.ok("", eccBin, append([]string{"push", pkg, ref}, tls...)...)
	e.ok("", eccBin, append([]string{"sign", "--key", ecKey, ref}, tls...)...)
	if out, err := cosignRun("verify", "--key", ecPub, "--insecure-ignore-tlog", ref); err != nil {
		t.Errorf("cosign verify of ecc's signature: %v\n%s", err, out)
	}
	if out, err := cosignRun("verify", "--key", otherPub, "--insecure-ignore-tlog", ref); err == nil {
		t.Errorf("cosign verified ecc's signature with another key\n%s", out)
	}

	// cosign signs, ecc verifies; ecc also signs with cosign's encrypted key.
	if out, err := cosignRun("generate-key-pair"); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	ref2 := reg.Host + "/probes/by-cosign:v1"
	e.ok("", eccBin, append([]string{"push", pkg, ref2}, tls...)...)
	if out, err := cosignRun("sign", "--key", "cosign.key", "--tlog-upload=false", ref2); err != nil {
		t.Fatalf("cosign sign: %v\n%s", err, out)
	}
	cosignPub := filepath.Join(dir, "cosign.pub")
	e.ok("", eccBin, append([]string{"verify", "--key", cosignPub, ref2}, tls...)...)
	if _, errs, status := e.run("", eccBin, append([]string{"verify", "--key", ecPub, ref2}, tls...)...); status != 1 || !strings.Contains(errs, "no valid signature by "+ecPub) {
		t.Errorf("ecc verify of cosign's signature with another key: status %d\n%s", status, errs)
	}
	cmd := exec.Command(eccBin, append([]string{"sign", "--key", filepath.Join(dir, "cosign.key"), ref}, tls...)...)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ecc sign with cosign's encrypted key: %v\n%s", err, out)
	}
	e.ok("", eccBin, append([]string{"verify", "--key", ecPub, "--key", cosignPub, ref}, tls...)...)
	if out, err := cosignRun("verify", "--key", cosignPub, "--insecure-ignore-tlog", ref); err != nil {
		t.Errorf("cosign verify of ecc's signature with cosign's key: %v\n%s", err, out)
	}
}
