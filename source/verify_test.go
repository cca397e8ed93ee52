package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/registry"
	"github.com/ecc-bpf/ecc/registry/sign"
)

func signLayout(t *testing.T, layout string, s *sign.Signer) {
	t.Helper()
	ctx := context.Background()
	ref, err := registry.ParseReference(layout)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sign.SignReference(ctx, ref, nil, s); err != nil {
		t.Fatal(err)
	}
}

func keyPair(t *testing.T, dir, name string) (*sign.Signer, *sign.Key) {
	t.Helper()
	keyFile, pubFile, err := sign.WriteKeyPair(filepath.Join(dir, name), sign.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sign.LoadPrivateKey(keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := sign.LoadPublicKey(pubFile)
	if err != nil {
		t.Fatal(err)
	}
	return s, k
}

// A policy is applied to references before anything is pulled or loaded.
func TestOpenVerified(t *testing.T) {
	t.Setenv("ECC_STORE_DIR", t.TempDir())
	ctx := context.Background()
	keys := t.TempDir()
	s, k := keyPair(t, keys, "ecc")
	_, other := keyPair(t, keys, "other")

	signed, digest := pushLayout(t, "signed")
	signLayout(t, signed, s)
	unsigned, _ := pushLayout(t, "unsigned")

	src, err := Open(ctx, signed, &OpenOptions{Policy: sign.KeysPolicy([]*sign.Key{k})})
	if err != nil || src.Package.Meta.BpfSkel.ObjName != "signed" {
		t.Fatalf("signed package: %v", err)
	}
	_, err = Open(ctx, signed, &OpenOptions{Policy: sign.KeysPolicy([]*sign.Key{other})})
	var ve *sign.VerifyError
	if !errors.Is(err, sign.ErrNotVerified) || !errors.As(err, &ve) || ve.Digest != digest {
		t.Errorf("signed by another key: %v", err)
	}
	if _, err := Open(ctx, unsigned, &OpenOptions{Policy: sign.KeysPolicy([]*sign.Key{k})}); !errors.Is(err, sign.ErrUnsigned) {
		t.Errorf("unsigned package: %v", err)
	}
	// The store has the signed package now; the policy still asks the
	// layout, and --pull=never cannot.
	if _, err := Open(ctx, signed, &OpenOptions{Pull: PullNever, Policy: sign.KeysPolicy([]*sign.Key{k})}); err == nil || !strings.Contains(err.Error(), "--pull=never") {
		t.Errorf("--pull=never with a policy: %v", err)
	}
	// --verify-key runs references only.
	pkg := filepath.Join(t.TempDir(), "package.json")
	os.WriteFile(pkg, []byte(`{}`), 0o644)
	for _, name := range []string{pkg, "-", "https://example.org/package.json"} {
		if _, err := Open(ctx, name, &OpenOptions{Policy: sign.KeysPolicy([]*sign.Key{k})}); err == nil || !strings.Contains(err.Error(), "not a registry reference") {
			t.Errorf("%s with --verify-key: %v", name, err)
		}
	}

	// A policy file: per-repository rules, first match wins.
	signedDir := strings.TrimSuffix(strings.TrimPrefix(signed, "oci:"), ":v1")
	policy := filepath.Join(keys, "policy.json")
	os.WriteFile(policy, []byte(fmt.Sprintf(`{"version": 1, "rules": [
		{"match": "oci:%s", "keys": ["ecc.pub"]},
		{"match": "oci:/nowhere/**", "allow_unsigned": true}]}`, signedDir)), 0o644)
	p, err := sign.LoadPolicy(policy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, signed, &OpenOptions{Policy: p}); err != nil {
		t.Errorf("signed package under the policy: %v", err)
	}
	if _, err := Open(ctx, unsigned, &OpenOptions{Policy: p}); !errors.Is(err, sign.ErrNoRule) || !strings.Contains(err.Error(), "no rule of the policy") {
		t.Errorf("a reference no rule matches: %v", err)
	}
	if _, err := Open(ctx, pkg, &OpenOptions{Policy: p}); err == nil || strings.Contains(err.Error(), "not a registry reference") {
		t.Errorf("a policy file without references_only refused a file: %v", err)
	}
	os.WriteFile(policy, []byte(`{"version": 1, "rules": [{"match": "**", "allow_unsigned": true}]}`), 0o644)
	if p, err = sign.LoadPolicy(policy); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, unsigned, &OpenOptions{Policy: p}); err != nil {
		t.Errorf("allow_unsigned: %v", err)
	}
}
