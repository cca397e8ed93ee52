package commands

import (
	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/internal/fetch"
	"github.com/ecc-bpf/ecc/packager"
)

// SourceFlags are the flags of commands that open a PACKAGE that may be a
// URL (ecli run): the registry flags, whose --plain-http, --ca-file and
// --insecure apply to https:// and http:// URLs too (their help says so
// here), and --digest.
func SourceFlags() []cli.Flag {
	flags := RegistryFlags()
	for _, f := range flags {
		switch f := f.(type) {
		case *cli.BoolFlag:
			switch f.Name {
			case "plain-http":
				f.Usage = "allow an http:// PACKAGE URL (a redirect from https:// to http:// is refused regardless); for a REF, talk HTTP to the registry (automatic for localhost and 127.0.0.0/8)"
			case "insecure":
				f.Usage = "do not verify the TLS certificate of the registry or of an https:// PACKAGE URL"
			}
		case *cli.StringFlag:
			if f.Name == "ca-file" {
				f.Usage = "trust the certificate authorities in `FILE` (PEM) for registries and https:// PACKAGE URLs"
			}
		}
	}
	return append(flags, &cli.StringFlag{Name: "digest", Usage: "refuse the package unless it hashes to `sha256:HEX`: the file named, a folder's package.json, the body of a URL or stdin (what sha256sum prints for the file); for a REF, the same as REF@sha256:HEX"})
}

// URLOptions are the rules for fetching a PACKAGE URL, from the flags.
func URLOptions(c *cli.Context) *fetch.Options {
	o := &fetch.Options{
		PlainHTTP: c.Bool("plain-http"),
		CAFile:    c.String("ca-file"),
		Insecure:  c.Bool("insecure"),
		MaxSize:   packager.MaxPackageSize,
	}
	// --timeout, given, bounds the whole download of a URL (registries
	// use it per stalled transfer).
	if c.IsSet("timeout") && c.Duration("timeout") > 0 {
		o.Timeout = c.Duration("timeout")
	}
	return o
}
