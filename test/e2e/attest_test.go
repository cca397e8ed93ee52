package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/internal/regserver"
	"github.com/ecc-bpf/ecc/internal/testenv"
)

// ecc push --attest on Debian's docker-registry, which has no referrers
// API: the provenance and SBOM go under the OCI referrers tag, and ecc
// inspect --format json lists them for the pushed digest; the oras CLI
// sees them too. The statements are read back with the oras CLI and name
// the pushed digest and the source's sha256.
func TestPushAttestDockerRegistry(t *testing.T) {
	testenv.BPFBuild(t)
	reg := regserver.Start(t)
	e := newEnv(t)
	out := t.TempDir()
	e.ok("", eccBin, "build", "-o", out, "../../examples/execsnoop/execsnoop.bpf.c", "../../examples/execsnoop/execsnoop.h")
	e.ok(reg.Password+"\n", eccBin, "login", reg.Host, "-u", reg.User, "--password-stdin", "--ca-file", reg.CAFile)
	ref := reg.Host + "/probes/attested:v1"
	pushOut := e.ok("", eccBin, "push", "--attest", "--format", "json", "--ca-file", reg.CAFile, out, ref)
	var pushed struct {
		Digest       string
		Attestations []struct{ Digest, Statement, PredicateType string } `json:"attestations"`
	}
	if err := json.Unmarshal([]byte(pushOut), &pushed); err != nil || len(pushed.Attestations) != 2 {
		t.Fatalf("push --attest: %v\n%s", err, pushOut)
	}
	inspectOut := e.ok("", eccBin, "inspect", "--format", "json", "--ca-file", reg.CAFile, ref)
	var inspected struct {
		Subject      string
		Attestations []struct {
			Digest        string
			PredicateType string `json:"predicate_type"`
		}
		Signatures []any
	}
	if err := json.Unmarshal([]byte(inspectOut), &inspected); err != nil {
		t.Fatal(err)
	}
	if inspected.Subject != pushed.Digest || len(inspected.Attestations) != 2 || inspected.Signatures == nil || len(inspected.Signatures) != 0 {
		t.Fatalf("inspect: %s", inspectOut)
	}
	types := map[string]bool{}
	for _, a := range inspected.Attestations {
		types[a.PredicateType] = true
	}
	if !types["https://slsa.dev/provenance/v1"] || !types["https://spdx.dev/Document/v2.3"] {
		t.Errorf("predicate types %v", types)
	}
	text := e.ok("", eccBin, "inspect", "--ca-file", reg.CAFile, ref)
	if !strings.Contains(text, "attestations of "+pushed.Digest+" (2)") || !strings.Contains(text, "https://slsa.dev/provenance/v1") {
		t.Errorf("inspect text:\n%s", text)
	}
	oras := orasCLI(t)
	if oras == "" {
		return
	}
	// The oras CLI lists the same referrers through the referrers tag.
	tree := e.ok(reg.Password, oras, "discover", "--ca-file", reg.CAFile, "-u", reg.User, "--password-stdin", "--format", "json", reg.Host+"/probes/attested@"+pushed.Digest)
	for _, a := range pushed.Attestations {
		if !strings.Contains(tree, a.Digest) {
			t.Errorf("oras discover lacks %s:\n%s", a.Digest, tree)
		}
	}
	src, err := os.ReadFile("../../examples/execsnoop/execsnoop.bpf.c")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(src)
	dir := t.TempDir()
	e.ok(reg.Password, oras, "pull", "--ca-file", reg.CAFile, "-u", reg.User, "--password-stdin", "-o", dir, reg.Host+"/probes/attested@"+pushed.Attestations[0].Digest)
	stmt, err := os.ReadFile(dir + "/execsnoop.provenance.json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(stmt), strings.TrimPrefix(pushed.Digest, "sha256:")) || !strings.Contains(string(stmt), hex.EncodeToString(sum[:])) {
		t.Errorf("the provenance lacks the pushed digest or the source's sha256:\n%s", stmt)
	}
}
