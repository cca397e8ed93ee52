package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/cmd/internal/commands"
	"github.com/ecc-bpf/ecc/deploy"
	"github.com/ecc-bpf/ecc/registry"
	"github.com/ecc-bpf/ecc/source"
)

func deployCommand() *cli.Command {
	return &cli.Command{
		Name:      "deploy",
		Usage:     "print Kubernetes manifests that run a package on every node (a DaemonSet)",
		ArgsUsage: "REF [-- PROGRAM FLAGS...]",
		Description: `Prints, for 'kubectl apply -f -', a DaemonSet whose pods run
'ecli run --pull=always --metrics :PORT --format json REF' from the ecli image,
with the capabilities, host namespaces and mounts the package's programs need
(docs/fleet.md has the table): CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE always,
CAP_NET_ADMIN and the node's network for XDP and tc (give --ifname), the node's
PIDs and files (/host) and CAP_SYS_ADMIN for uprobes and USDT; every other
capability dropped.
Pods carry prometheus.io/scrape annotations; --pod-monitor adds a PodMonitor
(monitoring.coreos.com/v1). --verify-key and --policy ship the files in a
ConfigMap and make ecli verify REF's signature before running it.

REF is read (from the local store, else its registry, without storing it) to
learn its programs; --package reads a local build instead, e.g. before it is
pushed. Words after -- are the program's own flags, after REF. --format json
prints the objects as one v1 List.

Examples:
   ecc deploy ghcr.io/org/execsnoop:v1 | kubectl apply -f -
   ecc deploy --namespace probes --node-selector kubernetes.io/arch=amd64 ghcr.io/org/execsnoop:v1
   ecc deploy --ifname eth0 --pod-monitor ghcr.io/org/xdpcount:v1 | kubectl apply -f -
   ecc deploy --verify-key org.pub --pull-secret regcred ghcr.io/org/probe:v1
   ecc deploy ghcr.io/org/opensnoop:v1 -- --pid 1234
   kubectl rollout restart daemonset/execsnoop   # after pushing a new v1`,
		Flags: append([]cli.Flag{
			commands.FormatFlag(),
			&cli.StringFlag{Name: "image", Usage: "the ecli `IMAGE` the pods run (default: " + deploy.ImageRepository + ":VERSION, this ecc's version)"},
			&cli.StringFlag{Name: "namespace", Aliases: []string{"n"}, Value: deploy.DefaultNamespace, Usage: "Kubernetes `NAMESPACE` of the objects"},
			&cli.StringFlag{Name: "name", Usage: "`NAME` of the objects (default: REF's repository's last element, as a DNS label)"},
			&cli.StringSliceFlag{Name: "node-selector", Usage: "run only on nodes labelled `KEY=VALUE`; repeatable"},
			&cli.IntFlag{Name: "metrics-port", Value: deploy.DefaultMetricsPort, Usage: "`PORT` of ecli's /metrics and /healthz"},
			&cli.StringFlag{Name: "pull-secret", Usage: "docker config `SECRET` (kubernetes.io/dockerconfigjson) for the image and for ecli's pull of REF"},
			&cli.BoolFlag{Name: "pod-monitor", Usage: "add a PodMonitor for the Prometheus operator"},
			&cli.StringSliceFlag{Name: "verify-key", Usage: "verify REF's signature with the PEM public key `PUB` (shipped in a ConfigMap); repeatable"},
			&cli.StringFlag{Name: "policy", Usage: "verify REF by the policy `FILE` (shipped with its keys in a ConfigMap)"},
			&cli.StringFlag{Name: "ifname", Usage: "the nodes' network interface `NAME` for xdp, tc and socket programs"},
			&cli.BoolFlag{Name: "host-pid", Usage: "share the nodes' PID namespace even without uprobes (uprobe and usdt packages always do)"},
			&cli.StringSliceFlag{Name: "add-cap", Usage: "grant capability `CAP` too, e.g. SYS_ADMIN on kernels older than 5.8 (no CAP_BPF); repeatable"},
			&cli.StringFlag{Name: "package", Usage: "read the programs from `PACKAGE` (a build folder or package.json) instead of REF"},
			&cli.StringFlag{Name: "platform", Usage: "for a multi-arch REF: the `OS/ARCH` whose metadata is read (default: this host's)"},
		}, commands.RegistryFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return commands.Usagef(c, "expects a REF, got %s (e.g. 'ecc deploy ghcr.io/org/probe:v1')", commands.NArgs(c))
			}
			refArg := c.Args().First()
			if _, err := os.Stat(refArg); err == nil || refArg == "-" {
				return commands.Usagef(c, "%s is not on a registry, and the nodes pull REF from one: push it first (ecc push %s HOST/REPO:TAG), then deploy that REF", refArg, refArg)
			}
			ref, err := registry.ParseReference(refArg)
			if err != nil {
				return commands.Usagef(c, "%v", err)
			}
			if ref.Kind != registry.Remote {
				return commands.Usagef(c, "%s is not on a registry: the nodes pull REF, so push the package first (ecc push DIR host/repo:tag)", refArg)
			}
			sel := map[string]string{}
			for _, kv := range c.StringSlice("node-selector") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return commands.Usagef(c, "--node-selector %q: use KEY=VALUE", kv)
				}
				sel[k] = v
			}
			what := refArg
			if c.IsSet("package") {
				what = c.String("package")
			}
			uo := commands.URLOptions(c)
			src, err := source.Open(c.Context, what, &source.OpenOptions{
				Registry:     func() (*registry.Options, error) { return commands.RegistryOptions(c) },
				Platform:     c.String("platform"),
				Progress:     commands.Progress(),
				NoStore:      true,
				MetadataOnly: false,
				PlainHTTP:    uo.PlainHTTP, CAFile: uo.CAFile, Insecure: uo.Insecure, Timeout: uo.Timeout,
			})
			if err != nil {
				return err
			}
			if src.Package == nil {
				return fmt.Errorf("%s is a Wasm-only package: ecc deploy needs a BPF object to know its programs", what)
			}
			m, err := deploy.Generate(src.Package, &deploy.Options{
				Ref:          refArg,
				Image:        c.String("image"),
				Version:      commands.ReadBuildInfo().Version,
				Namespace:    c.String("namespace"),
				Name:         c.String("name"),
				NodeSelector: sel,
				MetricsPort:  c.Int("metrics-port"),
				PullSecret:   c.String("pull-secret"),
				PodMonitor:   c.Bool("pod-monitor"),
				VerifyKeys:   c.StringSlice("verify-key"),
				Policy:       c.String("policy"),
				IfName:       c.String("ifname"),
				HostPID:      c.Bool("host-pid"),
				AddCaps:      c.StringSlice("add-cap"),
				ProgramArgs:  programArgs(c.Args().Tail()),
			})
			var fe *deploy.FlagError
			if errors.As(err, &fe) {
				return commands.Usagef(c, "%v", fe)
			}
			if err != nil {
				return err
			}
			if commands.JSON(c) {
				list, err := m.List()
				if err != nil {
					return err
				}
				return commands.WriteJSON(os.Stdout, list)
			}
			return m.WriteYAML(os.Stdout)
		},
	}
}

// programArgs are the words after REF, without the "--" that ended ecc
// deploy's flags (urfave/cli keeps it when it follows an argument).
func programArgs(tail []string) []string {
	if len(tail) > 0 && tail[0] == "--" {
		return tail[1:]
	}
	return tail
}
