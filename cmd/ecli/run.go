package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/cmd/internal/commands"
	"github.com/ecc-bpf/ecc/registry"
	"github.com/ecc-bpf/ecc/runtime"
	"github.com/ecc-bpf/ecc/runtime/attach"
	"github.com/ecc-bpf/ecc/runtime/loader"
	"github.com/ecc-bpf/ecc/runtime/metrics"
	"github.com/ecc-bpf/ecc/runtime/progflags"
	"github.com/ecc-bpf/ecc/runtime/wasm"
	"github.com/ecc-bpf/ecc/source"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "load a package into the kernel, attach it and print its events",
		ArgsUsage: "PACKAGE [PROGRAM FLAGS...]",
		Description: `PACKAGE is a package.json, a build folder, a bare NAME.bpf.o, a NAME.wasm
program (its arguments follow PACKAGE, after an optional --), an http(s) URL
of a package.json, - for stdin, or an OCI reference (host[:port]/repo[:tag],
oci:DIR[:tag], oci-archive:FILE.tar[:tag]) pulled into the local store with
every digest verified; a second run works offline from the store. The program's own flags come after PACKAGE:
they are generated from its global variables ('ecli run PACKAGE --help' lists
them). ecli's flags go before PACKAGE. Ctrl-C (SIGINT) or SIGTERM detaches
everything and exits.

Uprobe targets: a section naming BINARY:SYMBOL is used as it is; --uprobe
PROG=BINARY:SYMBOL[+OFFSET] targets program PROG; --uprobe BINARY serves
sections that name a function alone (uretprobe/readline); --uprobe
BINARY:SYMBOL without PROG= serves bare uprobe/uretprobe sections only when the
package has at most one such entry probe and one such return probe. Relative
paths start at the working folder. Programs left without a target are skipped
with a warning.

URLs: https:// only, verified against the system roots plus --ca-file
(--insecure skips verification); an http:// URL is refused unless
--plain-http, since anyone on the way could swap what runs as root. A
redirect from https:// to http:// is refused always, even with --plain-http;
at most 5 redirects are followed. The download is capped at the package size
limit and must finish within 30s (10s for each response's headers). Nothing
is parsed or loaded before these checks pass.

Pinning: --digest sha256:HEX refuses the package unless the bytes read hash
to it: the file named, a folder's package.json, a URL's body or stdin, i.e.
what 'sha256sum package.json' prints. For a REF it is the manifest digest,
the same as REF@sha256:HEX.

Signatures: --verify-key PUB runs a REF only if PUB signed (ecc sign, cosign
sign) the digest that runs, and nothing that is not a REF; --policy FILE (by
default $XDG_CONFIG_HOME/ecc/policy.json when it exists) says per registry or
repository which keys must have signed and what may run unsigned
(docs/security.md). The REF is resolved once, that digest verified and that
digest pulled; a package that fails never reaches the kernel.

Maps that declare max_entries 0 (sized by libbpf-tools' user space) get 10240
entries, stack traces 16384: --max-entries N changes that, --max-entries
MAP=N sizes one map.

Output: events print as text rows under a header (TIME, then one column per
member), or as JSON lines with --format json (-j), to stdout or to -o FILE
(created or truncated, mode 0644; ecli's messages stay on stderr). --fields
pid,comm prints those members in that order (a name differing only in case
works too, PID); the TIME column or JSON "timestamp" prints only when listed
(timestamp, always first). --fields +NAME,-NAME adds to or takes from the
default columns instead; by default text rows leave out stack addresses
(printed as frames under the row) and their _len/_sz members. --filter EXPR
prints the events whose decoded members match, every --filter at once:
FIELD==VALUE, FIELD!=VALUE, FIELD~REGEX, FIELD!~REGEX (Go regular
expressions, unanchored), FIELD<N, <=, >, >=. Numbers compare as numbers (0x
hex too, negative for signed members), strings as their text, enums by name
or number, addresses as printed (daddr==10.0.0.1). A bad name lists the
fields. Histograms, tables, result globals and bpf_printk lines ignore
--fields and --filter. -q/--quiet prints nothing on stdout (with -o FILE the
file is still written); ecli's messages stay on stderr.

Metrics: --metrics [HOST]:PORT serves Prometheus metrics on /metrics while
the package runs, and /healthz (200 once the programs are attached, 503
before): every histogram (le buckets in the map's unit), every integer of a
key-value map or result global (a gauge, or a counter when it counts), and
ecli_events_total / ecli_lost_events_total per ring buffer and perf event
array, with ecli's own process and Go metrics. Map keys become labels, at
most --metrics-max-series label sets per metric (default 1000); the rest fold
into one series labelled "other" (gauges: dropped), counted by
ecli_metrics_dropped_series_total. Names: ecli_PACKAGE_MAP[_MEMBER][_UNIT]
(docs/metrics.md). The address is bound before anything is loaded.

Examples:
   ecli run examples/execsnoop/package.json
   ecli run -j -d 10s examples/opensnoop/ --pid 1234 --failed
   ecli run --fields pid,comm,filename examples/execsnoop/
   ecli run --fields -ppid,-args_len --filter 'comm~^(bash|sh)$' examples/execsnoop/
   ecli run --filter uid==1000 --filter 'filename!~^/usr/' examples/execsnoop/
   ecli run --format json -o events.json -d 30s examples/execsnoop/
   ecli run --metrics :9090 -q examples/runqlat/    # curl localhost:9090/metrics
   ecli run --metrics 127.0.0.1:9090 -j -o events.json examples/execsnoop/
   ecli run --ifname lo examples/xdpcount/package.json
   ecli run --uprobe /bin/bash:readline probe.bpf.o
   ecli run --uprobe /bin/bash bashreadline/          # SEC("uretprobe/readline")
   ecli run --uprobe alloc_enter=libc.so.6:malloc --uprobe alloc_exit=libc.so.6:malloc memleak/
   ecli run --max-entries 65536 --max-entries counts=1024 tool/
   ecli run examples/runqlat/package.json --help
   ecli run -i 1s -c 5 examples/runqlat/    # like 'runqlat 1 5': five 1-second histograms
   ecli run build/examples/wasm-counter/counter.wasm
   ecli run ghcr.io/org/execsnoop:v1 --uid 1000
   ecli run --pull=never 127.0.0.1:5000/probes/runqlat:latest
   ecli run --verify-key ecc.pub ghcr.io/org/execsnoop:v1   # refuses it unless ecc.pub signed it
   ecli run --policy /etc/ecc/policy.json ghcr.io/org/execsnoop:v1
   ecli run https://example.org/p/package.json
   ecli run --ca-file ca.pem https://pkgs.internal:8443/execsnoop/package.json
   ecli run --digest sha256:$(sha256sum < reviewed/package.json | cut -d' ' -f1) https://example.org/p/package.json
   ecli run --plain-http --digest sha256:HEX http://10.0.0.5:8000/package.json
   curl -s https://example.org/p/package.json | ecli run --digest sha256:HEX -`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "format", Usage: "`FORMAT` of events and maps: text (the default) or json (JSON lines)"},
			&cli.BoolFlag{Name: "json", Aliases: []string{"j"}, Usage: "print events and maps as JSON lines (--format json)"},
			&cli.StringSliceFlag{Name: "fields", Usage: "print only the event members `NAME,...`, in that order (timestamp: ecli's time stamp); +NAME/-NAME add to or take from the default columns (see Output above)"},
			&cli.GenericFlag{Name: "filter", Value: &repeated{}, Usage: "print only events whose members match `EXPR`: FIELD==VALUE, FIELD!=VALUE, FIELD~REGEX, FIELD!~REGEX, FIELD<N (<=, >, >=); repeatable, all must match"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write events and maps to `FILE` (created or truncated) instead of stdout; messages stay on stderr"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print no events or maps on stdout (-o FILE is still written): for agents that serve --metrics"},
			&cli.StringFlag{Name: "metrics", Usage: "serve Prometheus metrics of the maps and event counts on `[HOST]:PORT` (/metrics; /healthz answers 200 once attached), e.g. :9090 or 127.0.0.1:9090"},
			&cli.IntFlag{Name: "metrics-max-series", Value: metrics.DefaultMaxSeries, Usage: "at most `N` label sets per metric; more fold into one labelled \"other\" (see Metrics above)"},
			&cli.StringFlag{Name: "duration", Aliases: []string{"d"}, Usage: "stop after `TIME` (e.g. 10s, 500ms, 2m; a bare number is seconds)"},
			&cli.StringFlag{Name: "interval", Aliases: []string{"i"}, Usage: "print histograms, tables and result globals every `TIME`, each showing that interval (default: once at exit; @sample maps on their own interval)"},
			&cli.IntFlag{Name: "count", Aliases: []string{"c"}, Usage: "stop after `N` intervals (with --interval; alone it means --interval 1s)"},
			&cli.StringFlag{Name: "ifname", Usage: "network interface `NAME` for xdp, tc/tcx and socket programs", EnvVars: []string{"ECLI_IFNAME"}},
			&cli.StringFlag{Name: "cgroup", Usage: "cgroup v2 `PATH` for cgroup programs, which need it (--cgroup /sys/fs/cgroup: the root, every process)"},
			&cli.StringSliceFlag{Name: "uprobe", Usage: "uprobe `TARGET`: [PROG=]BINARY[:SYMBOL[+OFFSET]], repeatable (see Uprobe targets above)"},
			&cli.StringSliceFlag{Name: "usdt", Usage: "`[PROG=]BINARY:PROVIDER:NAME` probe for a SEC(\"usdt\") program that names none; repeat for several, PROG= names which (e.g. --usdt ./app:myapp:request, --usdt on_gc=libjvm.so:hotspot:gc__begin)"},
			&cli.IntFlag{Name: "pid", Usage: "attach uprobes in process `PID` only"},
			&cli.StringSliceFlag{Name: "max-entries", Usage: "`N` entries for maps that declare max_entries 0 (default 10240), or MAP=N for one map; repeatable"},
			&cli.Uint64Flag{Name: "freq", Usage: "perf_event sampling frequency in `HZ` on every CPU", Value: 49},
			&cli.StringFlag{Name: "btf", Usage: "kernel BTF `FILE` for CO-RE on kernels without /sys/kernel/btf/vmlinux (default: the package's BTF for this kernel's release, from ecc build --btfgen)"},
			&cli.BoolFlag{Name: "no-kernel-btf", Hidden: true, EnvVars: []string{"ECLI_NO_KERNEL_BTF"}, Usage: "act as if the kernel had no /sys/kernel/btf/vmlinux, so that the package's BTF serves (for tests)"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "show whole verifier logs and what is attached"},
			&cli.BoolFlag{Name: "dry-run", Usage: "check the package and its flags, print what would be attached where (-j: as JSON) and exit without loading anything"},
			&cli.StringFlag{Name: "pull", Value: source.PullMissing, Usage: "for a REF: `POLICY` missing (use the local store, pull what it lacks), never or always"},
			&cli.StringFlag{Name: "platform", Usage: "for a multi-arch REF: the `OS/ARCH` to run (default: this host's)"},
		}, append(commands.SourceFlags(), commands.PolicyFlags()...)...),
		// An unknown flag before PACKAGE is most often one of the
		// program's own flags, which go after it.
		OnUsageError: commands.OnUsageError(func(cmd, flag string) string {
			return fmt.Sprintf("ecli's flags go before PACKAGE, the program's own after it: %s [FLAGS] PACKAGE %s ...", cmd, flag)
		}),
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return commands.Usagef(c, "expects a PACKAGE")
			}
			dur, err := commands.ParseDuration("duration", c.String("duration"))
			if err != nil {
				return err
			}
			interval, err := commands.ParseDuration("interval", c.String("interval"))
			if err != nil {
				return err
			}
			count := c.Int("count")
			if count < 0 {
				return fmt.Errorf("--count %d: must not be negative", count)
			}
			if count > 0 && interval == 0 {
				interval = time.Second
			}
			if c.IsSet("interval") && interval < 10*time.Millisecond {
				return fmt.Errorf("--interval %s: use at least 10ms", c.String("interval"))
			}
			json, err := outputFormat(c)
			if err != nil {
				return err
			}
			if n := c.Int("metrics-max-series"); n < 1 {
				return commands.Usagef(c, "--metrics-max-series %d: use at least 1", n)
			}
			if addr := c.String("metrics"); c.IsSet("metrics") {
				if err := metrics.CheckAddr(addr); err != nil {
					return commands.Usagef(c, "--metrics: %v", err)
				}
			}
			// Bound before anything is read or loaded: a port in use is one
			// line, at once.
			var server *metrics.Server
			if c.IsSet("metrics") && !c.Bool("dry-run") {
				if server, err = metrics.Listen(c.String("metrics")); err != nil {
					return fmt.Errorf("--metrics: %w", err)
				}
				defer server.Close()
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			ro, err := commands.RegistryOptions(c)
			if err != nil {
				return err
			}
			policy, err := commands.Policy(c)
			if err != nil {
				return err
			}
			uo := commands.URLOptions(c)
			src, err := source.Open(ctx, c.Args().First(), &source.OpenOptions{
				Policy: policy,
				Stdin:  os.Stdin, Registry: func() (*registry.Options, error) { return ro, nil }, Pull: c.String("pull"),
				Platform: c.String("platform"), Progress: commands.Progress(),
				PlainHTTP: uo.PlainHTTP, CAFile: uo.CAFile, Insecure: uo.Insecure,
				Digest: c.String("digest"), Timeout: uo.Timeout,
			})
			if err != nil {
				return err
			}
			o := &runtime.Options{
				JSON:             json,
				Quiet:            c.Bool("quiet"),
				Metrics:          server,
				MetricsMaxSeries: c.Int("metrics-max-series"),
				Fields:           c.StringSlice("fields"),
				Filters:          c.Generic("filter").(*repeated).values,
				OutputFile:       c.String("output"),
				Duration:         dur,
				Interval:         interval,
				Count:            count,
				Verbose:          c.Bool("verbose"),
				DryRun:           c.Bool("dry-run"),
				KernelBTF:        c.String("btf"),
				NoKernelBTF:      c.Bool("no-kernel-btf"),
				MaxEntries:       c.StringSlice("max-entries"),
				Attach: attach.Options{
					IfName: c.String("ifname"),
					Cgroup: c.String("cgroup"),
					Uprobe: c.StringSlice("uprobe"),
					USDT:   c.StringSlice("usdt"),
					PID:    c.Int("pid"),
					Freq:   c.Uint64("freq"),
				},
			}
			args := c.Args().Tail()
			if src.Wasm != nil && o.DryRun {
				return fmt.Errorf("--dry-run: %s is a Wasm program, which decides what it loads and attaches while it runs; run it without --dry-run: each load and attach is printed as it happens, and --ifname/--cgroup override the targets it asks for", src.Name)
			}
			if src.Wasm != nil {
				for _, f := range []string{"fields", "filter", "output", "format", "json", "quiet", "metrics"} {
					if c.IsSet(f) {
						return fmt.Errorf("--%s: %s is a Wasm program, which prints its own output; run it without --%s", f, src.Name, f)
					}
				}
				// A Wasm program gets the arguments after PACKAGE (after an
				// optional "--") as its argv.
				if len(args) > 0 && args[0] == "--" {
					args = args[1:]
				} else if slices.Contains(args, "--help") || slices.Contains(args, "-h") {
					fmt.Printf("%s is a Wasm program: its own arguments follow --, e.g.\n   ecli run %s -- --help\n"+
						"ecli's flags go before it; see 'ecli run --help'.\n", src.Name, src.Name)
					return nil
				}
				if o.Duration > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, o.Duration)
					defer cancel()
				}
				return wasm.Run(ctx, src.Wasm, &wasm.Options{
					Args:    append([]string{filepath.Base(src.Name)}, args...),
					Env:     map[string]string{"TERM": os.Getenv("TERM")},
					Stdout:  os.Stdout,
					Stderr:  os.Stderr,
					Attach:  o.Attach,
					Verbose: o.Verbose,
				})
			}
			err = runtime.Run(ctx, src.Name, src.Package, args, o)
			return hintKernelBTF(hintRunFlags(c, err))
		},
	}
}

// hintRunFlags: program flags the package does not take are a usage error
// (status 2); an unknown one that is one of ecli's own was put after
// PACKAGE.
func hintRunFlags(c *cli.Context, err error) error {
	var pe *progflags.ParseError
	if !errors.As(err, &pe) {
		return err
	}
	usage := &commands.UsageError{Command: "ecli run", Err: err}
	var uf *progflags.UnknownFlagError
	if !errors.As(err, &uf) {
		return usage
	}
	for _, f := range c.Command.Flags {
		for _, n := range f.Names() {
			dash := "-" + n
			if len(n) > 1 {
				dash = "--" + n
			}
			if uf.Flag == dash {
				usage.Err = &commands.Advice{Err: err, Hint: fmt.Sprintf("%s is an ecli run flag: put it before PACKAGE (ecli run %s PACKAGE ...)", dash, dash)}
			}
		}
	}
	return usage
}

// hintKernelBTF: a kernel without BTF, and a package without BTF for it;
// or programs that need the kernel's own BTF.
func hintKernelBTF(err error) error {
	var nb *loader.NoKernelBTFError
	var kb *loader.KernelBTFError
	switch {
	case errors.As(err, &nb):
		return &commands.Advice{Err: err, Hint: fmt.Sprintf("rebuild the package with ecc build --btfgen <this kernel's image> (e.g. /boot/vmlinuz-%s, or its vmlinux), or pass --btf FILE with this kernel's BTF", nb.Release)}
	case errors.As(err, &kb):
		return &commands.Advice{Err: err, Hint: "run it on a kernel built with BTF (CONFIG_DEBUG_INFO_BTF), or " + twinAdvice(kb.Kind)}
	}
	return err
}

// twinAdvice says what a program of kind, which needs the kernel's BTF,
// can have beside it for kernels without.
func twinAdvice(kind string) string {
	var twin string
	switch strings.TrimSuffix(kind, ".s") {
	case "tp_btf":
		twin = "a raw_tp/ or tp/ program"
	case "fentry":
		twin = "a kprobe/ program"
	case "fexit":
		twin = "a kretprobe/ program"
	default:
		return "leave " + kind + " programs out of packages for kernels without BTF"
	}
	return "add " + twin + " on the same hook beside it (a twin: ecli attaches the one the kernel takes)"
}

// outputFormat reads --format and -j: whether events print as JSON.
func outputFormat(c *cli.Context) (bool, error) {
	switch f := c.String("format"); f {
	case "":
		return c.Bool("json"), nil
	case "json":
		return true, nil
	case "text":
		if c.Bool("json") {
			return false, commands.Usagef(c, "--format text and -j/--json disagree; -j is --format json")
		}
		return false, nil
	default:
		return false, commands.Usagef(c, "--format %q: use text or json", f)
	}
}

// repeated is a repeatable flag whose values may hold commas (a regular
// expression), unlike a string slice flag, which splits them.
type repeated struct{ values []string }

func (r *repeated) Set(s string) error { r.values = append(r.values, s); return nil }
func (r *repeated) String() string     { return "" }
