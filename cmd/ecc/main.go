// Command ecc compiles eBPF programs into packages and distributes them.
package main

import (
	"os"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/cmd/internal/commands"
)

func main() {
	os.Exit(run(os.Args))
}

func run(args []string) int {
	app := newApp()
	return commands.Exit(os.Stderr, "ecc", app.Run(commands.Intersperse(app, args)))
}

// newApp is the command line: every command with its flags (tests walk it).
func newApp() *cli.App {
	app := &cli.App{
		Name:  "ecc",
		Usage: "compile eBPF C into portable packages, and distribute them",
		Description: `ecc turns a kernel-side NAME.bpf.c into a CO-RE object and a package that
any host runs with 'ecli run'. Write only the C; flags, event decoding and
maps output are derived from it.

Examples:
   ecc build examples/execsnoop/execsnoop.bpf.c examples/execsnoop/execsnoop.h
   ecc inspect examples/execsnoop/package.json
   ecc push examples/execsnoop/ ghcr.io/org/execsnoop:v1
   ecc pull ghcr.io/org/execsnoop:v1
   ecc test --kernel linux-image-6.1.0-57-cloud-amd64_6.1.192-3_amd64.deb examples/execsnoop/
   ecc gen vmlinux -o vmlinux.h
   ecc init my_probe --template xdp
   ecc deploy ghcr.io/org/execsnoop:v1 | kubectl apply -f -`,
		HideHelpCommand:      true,
		EnableBashCompletion: true,
		Commands: []*cli.Command{
			buildCommand(),
			genCommand(),
			initCommand(),
			pushCommand(),
			ecliImageCommand(),
			copyCommand(),
			signCommand(),
			verifyCommand(),
			keyCommand(),
			testCommand(),
			deployCommand(),
			commands.Pull("ecc"),
			commands.Login("ecc"),
			commands.Logout("ecc"),
			commands.Images("ecc"),
			commands.Tag("ecc"),
			commands.Inspect("ecc"),
			commands.Named("ecc", commands.Version()),
			commands.Named("ecc", commands.Completion()),
			commands.Named("ecc", commands.Man()),
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	commands.Setup(app, commands.FlagValues{
		"template": templateNames,
	})
	return app
}
