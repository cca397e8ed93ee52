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
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/ecc-bpf/ecc/registry"
	"github.com/ecc-bpf/ecc/registry/store"
)

// RegistryFlags are the flags of every command that talks to a registry.
func RegistryFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "registry-config", Usage: "docker config `FILE` with credentials (default: $DOCKER_CONFIG/config.json, ~/.docker/config.json)", EnvVars: []string{"ECC_REGISTRY_CONFIG"}},
		&cli.StringFlag{Name: "username", Aliases: []string{"u"}, Usage: "registry `USER` (with --password-stdin; or $ECC_REGISTRY_USERNAME)"},
		&cli.BoolFlag{Name: "password-stdin", Usage: "read the password (or token) from stdin"},
		&cli.StringFlag{Name: "ca-file", Usage: "trust the certificate authorities in `FILE` (PEM)", EnvVars: []string{"ECC_CA_FILE"}},
		&cli.BoolFlag{Name: "plain-http", Usage: "talk HTTP, not HTTPS (automatic for localhost and 127.0.0.0/8)"},
		&cli.BoolFlag{Name: "insecure", Usage: "do not verify the registry's TLS certificate"},
		&cli.DurationFlag{Name: "timeout", Value: registry.DefaultTimeout, Usage: "give up on a registry that takes longer than `DUR` to connect, to answer, or to move another 1 KiB (0: wait forever)", EnvVars: []string{"ECC_REGISTRY_TIMEOUT"}},
		&cli.StringFlag{Name: "max-bytes", Value: "256MiB", Usage: "refuse pulls of more than `SIZE` in all (the platform's manifest, metadata and layers), and oci-archive: files that unpack to more"},
		&cli.IntFlag{Name: "max-manifests", Value: registry.DefaultMaxManifests, Usage: "refuse indexes that list more than `N` manifests (platforms)"},
	}
}

// RegistryOptions builds registry options from the flags and environment.
// Passwords come from stdin or the environment, never from arguments.
func RegistryOptions(c *cli.Context) (*registry.Options, error) {
	o := &registry.Options{
		RegistryConfig: c.String("registry-config"),
		CAFile:         c.String("ca-file"),
		PlainHTTP:      c.Bool("plain-http"),
		RequireTLS:     c.IsSet("plain-http") && !c.Bool("plain-http"),
		Insecure:       c.Bool("insecure"),
		Stderr:         os.Stderr,
		Timeout:        c.Duration("timeout"),
	}
	if o.Timeout == 0 {
		o.Timeout = -1 // --timeout 0: none
	} else if o.Timeout < 0 {
		return nil, fmt.Errorf("--timeout %s: must not be negative (0 waits forever)", c.Duration("timeout"))
	}
	maxBytes, err := registry.ParseSize(c.String("max-bytes"))
	if err != nil {
		return nil, fmt.Errorf("--max-bytes: %w", err)
	}
	if c.Int("max-manifests") <= 0 {
		return nil, fmt.Errorf("--max-manifests %d: must be at least 1", c.Int("max-manifests"))
	}
	o.Limits = registry.Limits{MaxBytes: maxBytes, MaxManifests: c.Int("max-manifests")}
	user, pass := c.String("username"), ""
	if c.Bool("password-stdin") {
		p, err := readPassword(os.Stdin)
		if err != nil {
			return nil, err
		}
		pass = p
		if user == "" {
			return nil, errors.New("--password-stdin needs --username (-u)")
		}
	} else if user != "" {
		return nil, errors.New("--username needs --password-stdin (passwords are not taken as arguments); or set ECC_REGISTRY_USERNAME and ECC_REGISTRY_PASSWORD")
	} else {
		user, pass = registry.CredentialsFromEnv()
	}
	o.Username, o.Password = user, pass
	return o, nil
}

func readPassword(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	p := strings.TrimRight(string(b), "\r\n")
	if p == "" {
		return "", errors.New("--password-stdin: stdin is empty")
	}
	return p, nil
}

// Progress is stderr on a terminal, nil otherwise.
func Progress() io.Writer {
	if term.IsTerminal(int(os.Stderr.Fd())) {
		return os.Stderr
	}
	return nil
}

// OpenStore opens the local store ($ECC_STORE_DIR or the XDG data dir).
func OpenStore() (*store.Store, error) {
	return store.Open(store.DefaultDir())
}

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
   PROG login 127.0.0.1:5000 --ca-file ca.crt`,
		Flags: RegistryFlags(),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("login takes one REGISTRY (got %d arguments); e.g. '%s login ghcr.io -u USER --password-stdin'", c.NArg(), c.App.Name)
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
			o, err := RegistryOptions(withoutCreds(c))
			if err != nil {
				return err
			}
			if err := registry.Login(c.Context, host, user, pass, o); err != nil {
				return err
			}
			fmt.Fprintf(os.Stdout, "Login succeeded: %s\n", host)
			return nil
		},
	})
}

// withoutCreds lets RegistryOptions ignore -u/--password-stdin, which login
// has consumed itself.
func withoutCreds(c *cli.Context) *cli.Context {
	c.Set("username", "")
	c.Set("password-stdin", "false")
	return c
}

// Logout is "logout REGISTRY".
func Logout(prog string) *cli.Command {
	return named(prog, &cli.Command{
		Name:      "logout",
		Usage:     "forget a registry's credentials",
		ArgsUsage: "REGISTRY",
		Description: `Examples:
   PROG logout ghcr.io`,
		Flags: RegistryFlags()[:1],
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("logout takes one REGISTRY (got %d arguments)", c.NArg())
			}
			o := &registry.Options{RegistryConfig: c.String("registry-config"), Stderr: os.Stderr}
			if err := registry.Logout(c.Context, c.Args().First(), o); err != nil {
				return err
			}
			fmt.Fprintf(os.Stdout, "Removed credentials for %s\n", c.Args().First())
			return nil
		},
	})
}

// Pull is "pull REF".
func Pull(prog string) *cli.Command {
	return named(prog, &cli.Command{
		Name:      "pull",
		Usage:     "download a package into the local store and write its files",
		ArgsUsage: "REF",
		Description: `REF is host[:port]/repo[:tag|@digest], oci:DIR[:tag] or oci-archive:FILE.tar[:tag].
Every blob is checked against its digest and size; the local store keeps the
artifact under REF (the index, and the platform pulled). Writes package.json,
NAME.bpf.o and, for Wasm packages, NAME.wasm into -o DIR; NAME comes from the
artifact only when it is a plain file name, and nothing is written outside
DIR. Pulls are limited (--max-bytes, --max-manifests) and time out on a
registry that stops answering (--timeout).

Examples:
   PROG pull ghcr.io/org/probe:v1
   PROG pull --platform linux/arm64 -o out/ 127.0.0.1:5000/probes/execsnoop:latest`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: ".", Usage: "write the files to `DIR`"},
			&cli.StringFlag{Name: "platform", Usage: "the `OS/ARCH` to take from a multi-arch artifact (default: this host's)"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "output `FORMAT`: text or json"},
		}, RegistryFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("pull takes one REF (got %d arguments); e.g. '%s pull ghcr.io/org/probe:v1'", c.NArg(), c.App.Name)
			}
			ref, err := registry.ParseReference(c.Args().First())
			if err != nil {
				return err
			}
			o, err := RegistryOptions(c)
			if err != nil {
				return err
			}
			// The store opens (the first time: is created) while the
			// manifest is on its way.
			var st *store.Store
			var storeErr error
			opened := make(chan struct{})
			go func() {
				defer close(opened)
				st, storeErr = OpenStore()
			}()
			defer func() {
				<-opened
				if st != nil {
					st.Close()
				}
			}()
			openStore := func() (*store.Store, error) { <-opened; return st, storeErr }
			src, err := registry.OpenTarget(c.Context, ref, o)
			if err != nil {
				return err
			}
			defer src.Close()
			p, files, err := registry.PullTo(c.Context, src, ref, nil, c.String("output"),
				&registry.PullOptions{Platform: c.String("platform"), Progress: Progress(), OpenStore: openStore})
			if err != nil {
				return err
			}
			if bad := p.Manifest.RefusedName; bad != "" {
				fmt.Fprintf(os.Stderr, "notice: %s names its files %q, which is not a plain file name; using %q\n", ref, bad, p.Package.Name)
			}
			if c.String("format") == "json" {
				return json.NewEncoder(os.Stdout).Encode(map[string]any{"reference": ref.String(), "digest": p.Root.Digest.String(), "files": files})
			}
			fmt.Fprintf(os.Stdout, "Pulled %s\nDigest: %s\n", ref, p.Root.Digest)
			for _, f := range files {
				fmt.Fprintf(os.Stdout, "  %s\n", f)
			}
			return nil
		},
	})
}

// Images is "images" (list), with "rm".
func Images(prog string) *cli.Command {
	return named(prog, &cli.Command{
		Name:  "images",
		Usage: "list the local store",
		Description: `The store is an OCI image layout in $ECC_STORE_DIR, else $XDG_DATA_HOME/ecc/store
(~/.local/share/ecc/store); pulls and 'ecli run REF' fill it.

Examples:
   PROG images
   PROG images --format json
   PROG images rm ghcr.io/org/probe:v1`,
		Flags: []cli.Flag{&cli.StringFlag{Name: "format", Value: "text", Usage: "output `FORMAT`: text or json"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return fmt.Errorf("images takes no arguments (got %q); to remove one: '%s images rm REF'", c.Args().Slice(), c.App.Name)
			}
			st, err := OpenStore()
			if err != nil {
				return err
			}
			defer st.Close()
			imgs, err := st.List(c.Context)
			if err != nil {
				return err
			}
			if c.String("format") == "json" {
				if imgs == nil {
					imgs = []store.Image{}
				}
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(imgs)
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REPOSITORY\tTAG\tDIGEST\tARCH\tSIZE\tCREATED")
			for _, im := range imgs {
				created := "-"
				if !im.Created.IsZero() {
					created = im.Created.Local().Format(time.DateTime)
				}
				var arches []string
				for _, p := range im.Platforms {
					_, a, _ := strings.Cut(p, "/")
					arches = append(arches, a)
				}
				d := im.Digest
				if len(d) > 19 {
					d = d[:19]
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", im.Repository, im.Tag, d, strings.Join(arches, ","), registry.HumanSize(im.Size), created)
			}
			return tw.Flush()
		},
		Subcommands: []*cli.Command{{
			Name:      "rm",
			Usage:     "remove references from the local store (unreferenced content goes too)",
			ArgsUsage: "REF...",
			Description: `Examples:
   PROG images rm ghcr.io/org/probe:v1
   PROG images rm 127.0.0.1:5000/probes/a:latest 127.0.0.1:5000/probes/b:latest`,
			Action: func(c *cli.Context) error {
				if c.NArg() == 0 {
					return errors.New("images rm takes one or more REF")
				}
				store, err := OpenStore()
				if err != nil {
					return err
				}
				defer store.Close()
				for _, a := range c.Args().Slice() {
					ref, err := registry.ParseReference(a)
					name := a
					if err == nil {
						name = ref.String()
					}
					if err := store.Remove(c.Context, name); err != nil {
						return err
					}
					fmt.Fprintf(os.Stdout, "Removed %s\n", name)
				}
				return nil
			},
		}},
	})
}

// Tag is "tag SRC DST" within the local store.
func Tag(prog string) *cli.Command {
	return named(prog, &cli.Command{
		Name:      "tag",
		Usage:     "give a package in the local store another name",
		ArgsUsage: "SRC DST",
		Description: `Examples:
   PROG tag 127.0.0.1:5000/probes/execsnoop:latest ghcr.io/org/execsnoop:v1`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return fmt.Errorf("tag takes SRC and DST (got %d arguments)", c.NArg())
			}
			var names [2]string
			for i, a := range c.Args().Slice() {
				ref, err := registry.ParseReference(a)
				if err != nil {
					return err
				}
				names[i] = ref.String()
			}
			store, err := OpenStore()
			if err != nil {
				return err
			}
			defer store.Close()
			if err := store.TagRef(c.Context, names[0], names[1]); err != nil {
				return err
			}
			fmt.Fprintf(os.Stdout, "Tagged %s as %s\n", names[0], names[1])
			return nil
		},
	})
}

// named puts the program's name into a command's examples.
func named(prog string, c *cli.Command) *cli.Command {
	c.Description = strings.ReplaceAll(c.Description, "PROG", prog)
	for _, sub := range c.Subcommands {
		named(prog, sub)
	}
	return c
}

// Named puts the program's name into a shared command's examples.
func Named(prog string, c *cli.Command) *cli.Command { return named(prog, c) }
