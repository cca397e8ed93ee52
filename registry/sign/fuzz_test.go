package sign

import (
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/registry"
)

// Policy files come from users and may be anything: parsing never
// panics, and a policy that parses matches references without panicking.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(`{"version": 1, "rules": [{"match": "ghcr.io/org/**", "allow_unsigned": true}]}`))
	f.Add([]byte(`{"version": 1, "references_only": true, "rules": [{"match": "**", "allow_unsigned": true}, {"match": "[", "allow_unsigned": true}]}`))
	f.Add([]byte(`{"version": 2}`))
	f.Add([]byte(`{"version": 1, "rules": [{"match": "*", "keys": []}]}`))
	ref, err := registry.ParseReference("ghcr.io/org/team/probe:v1")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy(data, "policy.json", t.TempDir())
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("a multi-line error: %q", err)
			}
			return
		}
		p.NeedsVerification(ref)
		p.Rule(ref)
	})
}

// Keys are read from files anyone may hand over.
func FuzzParseKeys(f *testing.F) {
	priv, pub, err := GenerateKey(ECDSAP256)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(priv)
	f.Add(pub)
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnt9fQ==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ParsePublicKey(data, "key.pub")
		ParsePrivateKey(data, []byte("pw"))
	})
}
