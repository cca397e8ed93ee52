// Command ecli runs eBPF packages built by ecc (or eunomia-bpf).
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/cmd/internal/commands"
	"github.com/ecc-bpf/ecc/runtime/vmguest"
	"github.com/ecc-bpf/ecc/source"
)

func main() {
	if os.Getpid() == 1 {
		// ecli is the init of an 'ecc test' VM (package vm): it runs the
		// package there, reports and powers off. Should the power-off
		// fail, init exits and the kernel panics, which ends the VM too
		// (panic=-1, qemu -no-reboot).
		os.Exit(commands.Exit(os.Stderr, "ecli", vmguest.Main()))
	}
	os.Exit(run(os.Args))
}

func run(args []string) int {
	app := newApp()
	return commands.Exit(os.Stderr, "ecli", app.Run(commands.Intersperse(app, args, "run")))
}

// newApp is the command line: every command with its flags.
func newApp() *cli.App {
	app := &cli.App{
		Name:  "ecli",
		Usage: "run eBPF packages: load, attach, print events",
		Description: `Examples:
   ecli run examples/execsnoop/package.json
   ecli run -j -d 5s examples/opensnoop/package.json --failed
   ecli run ghcr.io/org/execsnoop:v1
   ecli inspect examples/execsnoop/package.json`,
		HideHelpCommand: true,
		// "ecli PACKAGE" means "ecli run PACKAGE".
		Action: commands.UnknownCommand(func(cmd, name string) string {
			return fmt.Sprintf("to run a package: ecli run %s", name)
		}),
		EnableBashCompletion: true,
		Commands: []*cli.Command{
			runCommand(),
			commands.Pull("ecli"),
			commands.Login("ecli"),
			commands.Logout("ecli"),
			commands.Images("ecli"),
			commands.Inspect("ecli"),
			commands.Named("ecli", commands.Version()),
			commands.Named("ecli", commands.Completion()),
			commands.Named("ecli", commands.Man()),
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	commands.Setup(app, commands.FlagValues{
		"pull": func() []string { return []string{source.PullMissing, source.PullNever, source.PullAlways} },
	})
	return app
}
