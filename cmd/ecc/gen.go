package main

import (
	"bufio"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/cmd/internal/commands"
	"github.com/ecc-bpf/ecc/compiler"
)

func genCommand() *cli.Command {
	return &cli.Command{
		Name:  "gen",
		Usage: "generate files for BPF development",
		Subcommands: []*cli.Command{{
			Name:  "vmlinux",
			Usage: "write vmlinux.h, every kernel type as C, from BTF",
			Description: `Generated in Go from the kernel's BTF (or --btf FILE: raw BTF or an ELF with a
.BTF section, e.g. another architecture's vmlinux), with CO-RE's
preserve_access_index attribute. 'ecc build' does this itself and caches it.

Examples:
   ecc gen vmlinux -o vmlinux.h
   ecc gen vmlinux --btf /boot/vmlinux-6.1-arm64 > vmlinux-arm64.h`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "btf", Value: compiler.DefaultBTF, Usage: "BTF `FILE`"},
				&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "-", Usage: "output `FILE` (- for stdout)"},
			},
			Action: func(c *cli.Context) error {
				if c.NArg() != 0 {
					return commands.Usagef(c, "expects no arguments, got %q (the BTF comes with --btf, the output goes to -o)", c.Args().Slice())
				}
				out := c.String("output")
				if out == "-" {
					w := bufio.NewWriterSize(os.Stdout, 1<<20)
					if err := compiler.GenerateVmlinux(w, c.String("btf")); err != nil {
						return err
					}
					return w.Flush()
				}
				return compiler.GenerateVmlinuxFile(out, c.String("btf"))
			},
		}},
	}
}
