package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/registry/registrytest"
)

// ecc key generate, sign and verify against the in-process registry.
func TestSignVerifyCLI(t *testing.T) {
	reg := registrytest.NewServer(t, registrytest.ServerOptions{})
	c := newCLI(t)
	pkg := testPackage(t)
	ref := reg.Host + "/probes/signed:v1"

	wantKeys(t, "key generate", jsonKeys(t, "key generate", c.ok("key", "generate", "--format", "json")),
		"key", "public_key", "algorithm", "key_id")
	if _, stderr, status := c.run("key", "generate"); status != 1 || !strings.Contains(stderr, "ecc.key exists") {
		t.Errorf("a second key generate: status %d\n%s", status, stderr)
	}
	c.ok("key", "generate", "--output-key-prefix", "other", "--algorithm", "ed25519")
	for _, f := range []string{"ecc.key", "ecc.pub", "other.key", "other.pub"} {
		if _, err := os.Stat(filepath.Join(c.dir, f)); err != nil {
			t.Error(err)
		}
	}

	env := c.env
	c.env = append(env, "SOURCE_DATE_EPOCH=1")
	var pushed struct{ Digest string }
	json.Unmarshal([]byte(c.ok("push", "--format", "json", pkg, ref)), &pushed)

	_, stderr, status := c.run("verify", "--key", "ecc.pub", ref)
	if status != 1 || !strings.Contains(stderr, ref) || !strings.Contains(stderr, pushed.Digest) || !strings.Contains(stderr, "no signature") {
		t.Errorf("verify of an unsigned package: status %d\n%s", status, stderr)
	}

	out := c.ok("sign", "--key", "ecc.key", "--format", "json", ref)
	wantKeys(t, "sign", jsonKeys(t, "sign", out), "reference", "digest", "signature", "tag", "key_id")
	out = c.ok("verify", "--key", "ecc.pub", "--format", "json", ref)
	wantKeys(t, "verify", jsonKeys(t, "verify", out), "reference", "digest", "signatures")
	var v struct {
		Digest     string
		Signatures []struct{ Key string }
	}
	json.Unmarshal([]byte(out), &v)
	if v.Digest != pushed.Digest || len(v.Signatures) != 1 || v.Signatures[0].Key != "ecc.pub" {
		t.Errorf("verify: %s", out)
	}
	if out := c.ok("verify", "--key", "ecc.pub", ref); !strings.Contains(out, "Verified "+ref) {
		t.Errorf("verify:\n%s", out)
	}

	_, stderr, status = c.run("verify", "--key", "other.pub", ref)
	if status != 1 || !strings.Contains(stderr, "no valid signature by other.pub") || !strings.Contains(stderr, pushed.Digest) {
		t.Errorf("verify with another key: status %d\n%s", status, stderr)
	}

	// The same tag pushed again names another digest, which nobody signed.
	c.env = append(env, "SOURCE_DATE_EPOCH=2")
	c.ok("push", pkg, ref)
	if _, stderr, status := c.run("verify", "--key", "ecc.pub", ref); status != 1 || strings.Contains(stderr, pushed.Digest) || !strings.Contains(stderr, "no signature") {
		t.Errorf("verify after the tag was pushed again: status %d\n%s", status, stderr)
	}
	// The signed digest still verifies.
	c.ok("verify", "--key", "ecc.pub", reg.Host+"/probes/signed@"+pushed.Digest)
}
