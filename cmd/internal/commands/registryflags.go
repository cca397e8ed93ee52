package commands

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/registry"
)

// RegistryConfigFlag is --registry-config, the docker config with the
// credentials: the one registry flag of logout.
func RegistryConfigFlag() cli.Flag {
	return &cli.StringFlag{Name: "registry-config", Usage: "docker config `FILE` with credentials (default: $DOCKER_CONFIG/config.json, ~/.docker/config.json)", EnvVars: []string{"ECC_REGISTRY_CONFIG"}}
}

// RegistryFlags are the flags of every command that talks to a registry.
func RegistryFlags() []cli.Flag {
	return []cli.Flag{
		RegistryConfigFlag(),
		&cli.StringFlag{Name: "username", Aliases: []string{"u"}, Usage: "registry `USER` (with --password-stdin; or $ECC_REGISTRY_USERNAME)"},
		&cli.BoolFlag{Name: "password-stdin", Usage: "read the password (or token) from stdin"},
		&cli.StringFlag{Name: "ca-file", Usage: "trust the certificate authorities in `FILE` (PEM)", EnvVars: []string{"ECC_CA_FILE"}},
		&cli.BoolFlag{Name: "plain-http", Usage: "talk HTTP, not HTTPS (automatic for localhost and 127.0.0.0/8)"},
		&cli.BoolFlag{Name: "insecure", Usage: "do not verify the registry's TLS certificate"},
		&cli.DurationFlag{Name: "timeout", Value: registry.DefaultTimeout, Usage: "give up on a registry that takes longer than `DUR` to connect, to answer, or to move another 1 KiB (0: wait forever)", EnvVars: []string{"ECC_REGISTRY_TIMEOUT"}},
		&cli.StringFlag{Name: "max-bytes", Value: "256MiB", Usage: "refuse pulls of more than `SIZE` in all (the platform's manifest, metadata and layers), copies of more, and oci-archive: files that unpack to more"},
		&cli.IntFlag{Name: "max-manifests", Value: registry.DefaultMaxManifests, Usage: "refuse indexes that list more than `N` manifests (platforms)"},
	}
}

// RegistryOptions builds registry options from the flags and environment:
// how to connect (ConnectOptions) and the credentials, from -u with
// --password-stdin or from $ECC_REGISTRY_USERNAME and $ECC_REGISTRY_PASSWORD.
// Passwords come from stdin or the environment, never from arguments.
func RegistryOptions(c *cli.Context) (*registry.Options, error) {
	o, err := ConnectOptions(c)
	if err != nil {
		return nil, err
	}
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

// ConnectOptions builds the registry options that say how to connect (the
// docker config, TLS, timeouts, limits) from the flags, without
// credentials: login reads those itself.
func ConnectOptions(c *cli.Context) (*registry.Options, error) {
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
