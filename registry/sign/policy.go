package sign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/ecc-bpf/ecc/registry"
)

// PolicyVersion is the version of the policy file format.
const PolicyVersion = 1

// MaxPolicySize bounds a policy file.
const MaxPolicySize = 1 << 20

// ErrNoRule says no rule of the policy matches a reference: a policy in
// force refuses what it does not name.
var ErrNoRule = errors.New("no rule of the policy matches")

// Policy says which packages may run: the first rule whose Match matches
// a reference decides. It is read from a JSON file (docs/security.md,
// "Signing and verifying"):
//
//	{"version": 1, "rules": [
//	  {"match": "ghcr.io/org/**", "keys": ["org.pub"]},
//	  {"match": "127.0.0.1:5000/**", "allow_unsigned": true}]}
type Policy struct {
	// Name is where the policy came from, for messages.
	Name  string
	Rules []Rule
	// ReferencesOnly refuses packages that are not references (files,
	// folders, URLs, stdin), which carry no signatures. --verify-key sets
	// it; a policy file sets it with "references_only": true, and without
	// it a policy governs references only.
	ReferencesOnly bool
}

// Rule is one rule of a Policy.
type Rule struct {
	// Match is a pattern of the reference's repository without tag or
	// digest (host/repo, oci:DIR, oci-archive:FILE): path.Match syntax
	// ('*' stays within a path segment), and a pattern ending in "/**"
	// matches everything under its prefix; "**" alone matches everything.
	Match string
	// Keys must all have signed the digest that is run.
	Keys []*Key
	// AllowUnsigned lets matching packages run without verification.
	AllowUnsigned bool
}

type policyFile struct {
	Version        int  `json:"version"`
	ReferencesOnly bool `json:"references_only"`
	Rules          []struct {
		Match         string   `json:"match"`
		Keys          []string `json:"keys"`
		AllowUnsigned bool     `json:"allow_unsigned"`
	} `json:"rules"`
}

// LoadPolicy reads a policy file. Key files named in it are relative to
// the policy file's folder.
func LoadPolicy(name string) (*Policy, error) {
	data, err := readCapped(name, MaxPolicySize, "a policy")
	if err != nil {
		return nil, err
	}
	return ParsePolicy(data, name, filepath.Dir(name))
}

// ParsePolicy parses a policy; key file names are relative to dir.
func ParsePolicy(data []byte, name, dir string) (*Policy, error) {
	var pf policyFile
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pf); err != nil {
		return nil, fmt.Errorf("policy %s: %w", name, err)
	}
	if pf.Version != PolicyVersion {
		return nil, fmt.Errorf("policy %s: version %d, want %d", name, pf.Version, PolicyVersion)
	}
	p := &Policy{Name: name, ReferencesOnly: pf.ReferencesOnly}
	for i, r := range pf.Rules {
		where := fmt.Sprintf("policy %s: rule %d (%q)", name, i+1, r.Match)
		if r.Match == "" {
			return nil, fmt.Errorf("policy %s: rule %d has no match", name, i+1)
		}
		if _, err := path.Match(strings.TrimSuffix(r.Match, "/**"), ""); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if len(r.Keys) == 0 && !r.AllowUnsigned {
			return nil, fmt.Errorf("%s: give keys, or allow_unsigned: true", where)
		}
		if len(r.Keys) > 0 && r.AllowUnsigned {
			return nil, fmt.Errorf("%s: a rule either requires keys or allows unsigned packages, not both", where)
		}
		rule := Rule{Match: r.Match, AllowUnsigned: r.AllowUnsigned}
		for _, kf := range r.Keys {
			if !filepath.IsAbs(kf) {
				kf = filepath.Join(dir, kf)
			}
			k, err := LoadPublicKey(kf)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			rule.Keys = append(rule.Keys, k)
		}
		p.Rules = append(p.Rules, rule)
	}
	return p, nil
}

// KeysPolicy is the policy of --verify-key: every reference must be
// signed by all of keys, and nothing else runs.
func KeysPolicy(keys []*Key) *Policy {
	return &Policy{Name: "--verify-key", Rules: []Rule{{Match: "**", Keys: keys}}, ReferencesOnly: true}
}

// matches says whether pattern matches repo.
func matches(pattern, repo string) bool {
	if pattern == "**" {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, "/**"); ok {
		if ok, _ := path.Match(prefix, repo); ok {
			return true
		}
		for i := len(repo) - 1; i > 0; i-- {
			if repo[i] == '/' {
				if ok, _ := path.Match(prefix, repo[:i]); ok {
					return true
				}
			}
		}
		return false
	}
	ok, _ := path.Match(pattern, repo)
	return ok
}

// Rule returns the rule that decides for ref, nil when none matches.
func (p *Policy) Rule(ref registry.Reference) *Rule {
	repo := dockerReference(ref)
	for i := range p.Rules {
		if matches(p.Rules[i].Match, repo) {
			return &p.Rules[i]
		}
	}
	return nil
}

// NeedsVerification says whether running ref needs its signatures
// checked: a rule with keys matches it, or none does (which Check
// refuses, naming the reference).
func (p *Policy) NeedsVerification(ref registry.Reference) bool {
	r := p.Rule(ref)
	return r == nil || !r.AllowUnsigned
}

// Check applies the policy to root, the descriptor ref resolved to in
// src: nil when the matching rule allows unsigned packages, else Verify's
// answer with the rule's keys; a *VerifyError wrapping ErrNoRule when no
// rule matches.
func (p *Policy) Check(ctx context.Context, src oras.ReadOnlyGraphTarget, ref registry.Reference, root ocispec.Descriptor) (*Verified, error) {
	r := p.Rule(ref)
	if r == nil {
		return nil, &VerifyError{Reference: ref.String(), Digest: root.Digest.String(), Err: ErrNoRule,
			Reason: fmt.Sprintf("no rule of the policy %s matches %s", p.Name, dockerReference(ref))}
	}
	if r.AllowUnsigned {
		return &Verified{Reference: ref.String(), Digest: root.Digest.String()}, nil
	}
	return Verify(ctx, src, ref, root, r.Keys)
}

// DefaultPolicyFile is the policy applied when none is named:
// $XDG_CONFIG_HOME/ecc/policy.json (~/.config/ecc/policy.json); "" when
// there is no config folder.
func DefaultPolicyFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "ecc", "policy.json")
}
