package commands

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestIntersperse(t *testing.T) {
	app := &cli.App{Commands: []*cli.Command{
		Login("ecc"), Pull("ecc"), Images("ecc"),
		{Name: "run", Flags: []cli.Flag{&cli.BoolFlag{Name: "json"}}},
	}}
	for in, want := range map[string]string{
		"ecc login ghcr.io -u me --password-stdin":   "ecc login -u me --password-stdin ghcr.io",
		"ecc pull REF -o out --platform linux/arm64": "ecc pull -o out --platform linux/arm64 REF",
		"ecc pull -o=out REF --insecure":             "ecc pull -o=out --insecure REF",
		"ecc images rm a b":                          "ecc images rm a b",
		"ecc run PKG --pid 1 --json":                 "ecc run PKG --pid 1 --json",
		"ecc pull REF -- -weird":                     "ecc pull REF -- -weird",
		"ecc":                                        "ecc",
		"ecc nosuch a -b":                            "ecc nosuch a -b",
		// A value flag last, without its value, stays last (and fails).
		"ecc pull REF -o":     "ecc pull -o",
		"ecc pull REF -o out": "ecc pull -o out REF",
		// Completion asks with --generate-bash-completion last.
		"ecc pull REF -o --generate-bash-completion":         "ecc pull -o --generate-bash-completion",
		"ecc login ghcr.io -u me --generate-bash-completion": "ecc login -u me ghcr.io --generate-bash-completion",
	} {
		got := strings.Join(Intersperse(app, strings.Fields(in), "run"), " ")
		if got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}
