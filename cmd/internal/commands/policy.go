package commands

import (
	"errors"
	"io/fs"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/registry/sign"
)

// PolicyFlags are --verify-key and --policy, for commands that run or
// pull packages.
func PolicyFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "verify-key", Usage: "take a REF only if the public key `FILE` signed the digest it names (repeat: all must have); replaces the policy file"},
		&cli.StringFlag{Name: "policy", Usage: "apply the signature policy in `FILE` (default: $XDG_CONFIG_HOME/ecc/policy.json when it exists; docs/security.md)"},
	}
}

// Policy returns the policy the flags of PolicyFlags ask for: one made
// of --verify-key, else --policy FILE, else the default policy file when
// it exists, else nil (no verification).
func Policy(c *cli.Context) (*sign.Policy, error) {
	if c.IsSet("verify-key") && c.IsSet("policy") {
		return nil, Usagef(c, "--verify-key and --policy exclude each other: put the keys in the policy")
	}
	if files := c.StringSlice("verify-key"); len(files) > 0 {
		keys, err := sign.LoadPublicKeys(files)
		if err != nil {
			return nil, err
		}
		return sign.KeysPolicy(keys), nil
	}
	if f := c.String("policy"); f != "" {
		return sign.LoadPolicy(f)
	}
	f := sign.DefaultPolicyFile()
	if f == "" {
		return nil, nil
	}
	p, err := sign.LoadPolicy(f)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return p, err
}
