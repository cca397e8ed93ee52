// Command ecli runs eBPF packages built by ecc (or eunomia-bpf).
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/cmd/internal/commands"
)

func main() {
	app := &cli.App{
		Name:  "ecli",
		Usage: "run eBPF packages: load, attach, print events",
		Description: `Examples:
   ecli run examples/execsnoop/package.json
   ecli run -j -d 5s examples/opensnoop/package.json --failed
   ecli inspect examples/execsnoop/package.json`,
		HideHelpCommand: true,
		Commands:        []*cli.Command{runCommand(), commands.Inspect()},
		ExitErrHandler:  func(*cli.Context, error) {},
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "ecli: %v\n", err)
		os.Exit(1)
	}
}
