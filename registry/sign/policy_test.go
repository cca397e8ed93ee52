package sign

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/registry"
)

func TestMatches(t *testing.T) {
	for _, c := range []struct {
		pattern, repo string
		want          bool
	}{
		{"**", "ghcr.io/org/probe", true},
		{"ghcr.io/org/probe", "ghcr.io/org/probe", true},
		{"ghcr.io/org/*", "ghcr.io/org/probe", true},
		{"ghcr.io/org/*", "ghcr.io/org/team/probe", false},
		{"ghcr.io/org/**", "ghcr.io/org/team/probe", true},
		{"ghcr.io/org/**", "ghcr.io/org", true},
		{"ghcr.io/org/**", "ghcr.io/organisation/probe", false},
		{"ghcr.io/*/probe", "ghcr.io/org/probe", true},
		{"*", "ghcr.io/org/probe", false},
		{"127.0.0.1:5000/**", "127.0.0.1:5000/probes/x", true},
		{"oci:/media/usb/**", "oci:/media/usb/probes", true},
	} {
		if got := matches(c.pattern, c.repo); got != c.want {
			t.Errorf("matches(%q, %q) = %v", c.pattern, c.repo, got)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := WriteKeyPair(filepath.Join(dir, "org"), ECDSAP256); err != nil {
		t.Fatal(err)
	}
	good := `{"version": 1, "rules": [
		{"match": "ghcr.io/org/**", "keys": ["org.pub"]},
		{"match": "127.0.0.1:5000/**", "allow_unsigned": true}]}`
	p, err := ParsePolicy([]byte(good), "p.json", dir)
	if err != nil {
		t.Fatal(err)
	}
	ref := func(s string) registry.Reference {
		r, err := registry.ParseReference(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := p.Rule(ref("ghcr.io/org/team/probe:v1")); r == nil || len(r.Keys) != 1 || !p.NeedsVerification(ref("ghcr.io/org/probe:v1")) {
		t.Errorf("ghcr.io/org: %+v", r)
	}
	if p.NeedsVerification(ref("127.0.0.1:5000/probes/x:v1")) {
		t.Error("an allow_unsigned repository needs verification")
	}
	if !p.NeedsVerification(ref("docker.io/other/x:v1")) || p.Rule(ref("docker.io/other/x:v1")) != nil {
		t.Error("a repository no rule names does not need verification")
	}

	for _, c := range []struct{ policy, want string }{
		{`{"rules": []}`, "version 0"},
		{`{"version": 1, "rules": [{"match": "x", "keys": ["org.pub"], "allow_unsigned": true}]}`, "not both"},
		{`{"version": 1, "rules": [{"match": "x"}]}`, "give keys"},
		{`{"version": 1, "rules": [{"keys": ["org.pub"]}]}`, "no match"},
		{`{"version": 1, "rules": [{"match": "[", "keys": ["org.pub"]}]}`, "syntax"},
		{`{"version": 1, "rules": [{"match": "x", "keys": ["missing.pub"]}]}`, "missing.pub"},
		{`{"version": 1, "rules": [{"match": "x", "key": ["org.pub"]}]}`, "unknown field"},
		{`{"version": 1, "rules": [{"match": "x", "keys": ["org.key"]}]}`, "org.key"},
	} {
		if _, err := ParsePolicy([]byte(c.policy), "p.json", dir); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.policy, err, c.want)
		}
	}

	file := filepath.Join(dir, "policy.json")
	os.WriteFile(file, []byte(good), 0o644)
	if _, err := LoadPolicy(file); err != nil {
		t.Errorf("LoadPolicy: %v", err)
	}
	t.Setenv("XDG_CONFIG_HOME", dir)
	if got := DefaultPolicyFile(); got != filepath.Join(dir, "ecc", "policy.json") {
		t.Errorf("DefaultPolicyFile() = %s", got)
	}
}
