package main

import (
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/cmd/internal/commands"
	"github.com/ecc-bpf/ecc/templates"
)

func initCommand() *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "create a new eBPF project from a template",
		ArgsUsage: "NAME",
		Description: `Creates the folder NAME (or -o DIR) with NAME.bpf.c (and NAME.h when the
template exports events), a README, a Makefile (build, run, push,
test-kernels) and a GitHub Actions workflow that, on every tag v*, tests the
package on the kernels of its KERNELS list with ecc test in qemu (kernel
images such as ghcr.io/cilium/ci-kernels:6.1; make test-kernels does the
same here), then builds for x86_64 and arm64 and pushes to ghcr.io, with
the version of ecc that made the project.
NAME is lower-case letters, digits, - and _ (my-probe); C identifiers use
it with _ for - (MY_PROBE_H). An existing folder is only used when it is
empty.

Examples:
   ecc init --list
   ecc init my-probe
   ecc init pktcount --template xdp
   ecc init lat -t histogram -o ~/src/lat
   cd my-probe && make test-kernels KERNELS="ghcr.io/cilium/ci-kernels:6.6 linux-image-6.1.0-57-cloud-amd64_6.1.192-3_amd64.deb"`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "template", Aliases: []string{"t"}, Value: templates.DefaultScaffold, Usage: "project `TEMPLATE` (ecc init --list shows them)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "create the project in `DIR` (default: ./NAME)"},
			&cli.BoolFlag{Name: "list", Aliases: []string{"l"}, Usage: "list the templates"},
		},
		Action: func(c *cli.Context) error {
			if c.Bool("list") {
				return listScaffolds(c.App.Writer)
			}
			if c.NArg() != 1 {
				return commands.Usagef(c, "expects one NAME, got %s (e.g. 'ecc init my-probe --template %s')", commands.NArgs(c), templates.DefaultScaffold)
			}
			name := c.Args().First()
			dir := c.String("output")
			if dir == "" {
				dir = name
			}
			// CI installs the ecc that made the project.
			o := &templates.Options{EccVersion: commands.ReadBuildInfo().InstallVersion()}
			files, err := templates.RenderFiles(c.String("template"), name, o)
			if err != nil {
				return err
			}
			data, err := templates.ScaffoldFor(c.String("template"), name, o)
			if err != nil {
				return err
			}
			if err := templates.WriteProject(dir, files); err != nil {
				return err
			}
			w := c.App.Writer
			fmt.Fprintf(w, "Created %s (template %s: %s)\n", dir, data.Template, data.Description)
			for _, f := range files {
				fmt.Fprintf(w, "  %s\n", filepath.Join(dir, filepath.FromSlash(f.Path)))
			}
			run := "sudo ecli run "
			if data.RunFlags != "" {
				run += data.RunFlags + " "
			}
			fmt.Fprintf(w, "\nNext:\n")
			if filepath.Clean(dir) != "." {
				fmt.Fprintf(w, "  cd %s\n", dir)
			}
			fmt.Fprintf(w, "  make build   # ecc build -o build %s\n  make run     # %s%s\n", data.Sources, run, data.Package)
			return nil
		},
	}
}

// templateNames are the names of the templates, for shell completion.
func templateNames() []string {
	var names []string
	for _, s := range templates.Scaffolds() {
		names = append(names, s.Name)
	}
	return names
}

// listScaffolds prints one template a line: name and description, aligned.
func listScaffolds(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range templates.Scaffolds() {
		desc := s.Description
		if s.Name == templates.DefaultScaffold {
			desc += " (default)"
		}
		fmt.Fprintf(tw, "%s\t%s\n", s.Name, desc)
	}
	return tw.Flush()
}
