// Package commands holds the CLI commands ecc and ecli share.
package commands

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/cilium/ebpf"
	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/internal/fetch"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry"
	"github.com/ecc-bpf/ecc/runtime/attach"
)

// Inspect is "inspect PACKAGE|REF".
func Inspect(prog string) *cli.Command {
	return named(prog, &cli.Command{
		Name:      "inspect",
		Usage:     "summarise a package: programs, maps, flags, export types",
		ArgsUsage: "PACKAGE|REF",
		Description: `PACKAGE is a package.json, a NAME.skel.json, a build folder or an https:// URL
of a package.json (fetched as 'ecli run' does: http:// only with --plain-http,
never across a redirect from https to http); REF a package in the local store
or on a registry (read without storing it).

Examples:
   PROG inspect examples/execsnoop/package.json
   PROG inspect --format json ghcr.io/org/probe:v1`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "format", Value: "text", Usage: "output `FORMAT`: text or json (the metadata)"},
			&cli.StringFlag{Name: "platform", Usage: "the `OS/ARCH` of a multi-arch artifact (default: this host's)"},
		}, RegistryFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("%s inspect takes one PACKAGE or REF (got %d arguments); see '%s inspect --help'", c.App.Name, c.NArg(), c.App.Name)
			}
			p, err := openAny(c, c.Args().First())
			if err != nil {
				return err
			}
			switch c.String("format") {
			case "json":
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(&p.Meta)
			case "text":
				w := bufio.NewWriter(os.Stdout)
				if err := packager.WriteSummary(w, p); err != nil {
					return err
				}
				writePlans(w, &p.Meta)
				return w.Flush()
			}
			return fmt.Errorf("--format %q: use text or json", c.String("format"))
		},
	})
}

// openAny opens a local package, or a reference from the store, else from
// its registry without storing it.
func openAny(c *cli.Context, arg string) (*packager.Package, error) {
	if fetch.IsURL(arg) {
		return openURL(c, arg)
	}
	if IsLocal(arg) {
		return packager.Open(arg)
	}
	ref, err := registry.ParseReference(arg)
	if err != nil {
		// Not a reference either: say what is wrong with the path.
		return packager.Open(arg)
	}
	store, err := OpenStore()
	if err != nil {
		return nil, err
	}
	defer store.Close()
	pp, err := registry.Load(c.Context, store, ref, c.String("platform"))
	if err != nil {
		if !errors.Is(err, registry.ErrNotInStore) {
			return nil, err
		}
		o, err := RegistryOptions(c)
		if err != nil {
			return nil, err
		}
		src, err := registry.OpenTarget(c.Context, ref, o)
		if err != nil {
			return nil, err
		}
		defer src.Close()
		pulled, err := registry.Pull(c.Context, src, ref, nil, &registry.PullOptions{Platform: c.String("platform")})
		if err != nil {
			return nil, err
		}
		pp = pulled.Package
	}
	if pp.Package == nil {
		return nil, fmt.Errorf("%s is a Wasm-only package: it has no BPF metadata to show", ref)
	}
	return pp.Package, nil
}

// writePlans says how ecli run would attach each program on this machine
// with no flags, e.g. "usdt /usr/bin/app:app:request (3 sites)", or which
// flag it needs.
func writePlans(w io.Writer, m *packager.Meta) {
	progs := m.BpfSkel.Progs
	if len(progs) == 0 {
		return
	}
	fmt.Fprintf(w, "\nattach (ecli run on this machine, without flags) (%d)\n", len(progs))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, pr := range progs {
		spec := &ebpf.ProgramSpec{Name: pr.Name, SectionName: pr.Attach}
		var how string
		if plan, err := attach.PlanFor(spec, nil); err != nil {
			how = strings.TrimPrefix(err.Error(), fmt.Sprintf("program %s (SEC(%q)): ", pr.Name, pr.Attach))
		} else {
			how = plan.String()
		}
		fmt.Fprintf(tw, "  %s\t%s\n", pr.Name, how)
	}
	tw.Flush()
}
