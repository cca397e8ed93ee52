package commands

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/ecc-bpf/ecc/registry"
)

// Login is "login REGISTRY".
func Login(prog string) *cli.Command {
	return named(prog, &cli.Command{
		Name:      "login",
		Usage:     "log in to a registry (credentials go to the docker config or its credential helper)",
		ArgsUsage: "REGISTRY",
		Description: `Verifies the credentials against the registry, then stores them as docker
does: in the credential helper the docker config names, else base64 in the
config file. Without -u, asks on the terminal. For ghcr.io, the password may
be a GitHub token.

Examples:
   echo "$GITHUB_TOKEN" | PROG login ghcr.io -u "$GITHUB_ACTOR" --password-stdin
   PROG login 127.0.0.1:5000 --ca-file ca.crt
   PROG login --format json ghcr.io -u "$USER" --password-stdin < token.txt   # {"registry", "username"}`,
		Flags: append(RegistryFlags(), FormatFlag()),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return Usagef(c, "expects one REGISTRY, got %s (e.g. '%s login ghcr.io -u USER --password-stdin')", NArgs(c), c.App.Name)
			}
			host := c.Args().First()
			user := c.String("username")
			var pass string
			switch {
			case c.Bool("password-stdin"):
				if user == "" {
					return errors.New("--password-stdin needs --username (-u)")
				}
				p, err := readPassword(os.Stdin)
				if err != nil {
					return err
				}
				pass = p
			case term.IsTerminal(int(os.Stdin.Fd())):
				if user == "" {
					fmt.Fprint(os.Stderr, "Username: ")
					line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
					user = strings.TrimSpace(line)
				}
				fmt.Fprint(os.Stderr, "Password: ")
				b, err := term.ReadPassword(int(os.Stdin.Fd()))
				fmt.Fprintln(os.Stderr)
				if err != nil {
					return err
				}
				pass = string(b)
			default:
				user, pass = registry.CredentialsFromEnv()
				if user == "" || pass == "" {
					return errors.New("no credentials: pass -u USER --password-stdin, or set ECC_REGISTRY_USERNAME and ECC_REGISTRY_PASSWORD")
				}
			}
			o, err := ConnectOptions(c)
			if err != nil {
				return err
			}
			if err := registry.Login(c.Context, host, user, pass, o); err != nil {
				return err
			}
			return Print(c, map[string]string{"registry": host, "username": user}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "Login succeeded: %s\n", host)
				return err
			})
		},
	})
}
