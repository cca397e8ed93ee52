package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/cmd/internal/commands"
	"github.com/ecc-bpf/ecc/compiler"
	"github.com/ecc-bpf/ecc/internal/kimage"
	"github.com/ecc-bpf/ecc/packager/attest"
	"github.com/ecc-bpf/ecc/packager/attest/statement"
	"github.com/ecc-bpf/ecc/vm/kernel"
)

func buildCommand() *cli.Command {
	return &cli.Command{
		Name:      "build",
		Usage:     "compile NAME.bpf.c into NAME.bpf.o, NAME.skel.json and package.json",
		ArgsUsage: "SOURCE.bpf.c [EXPORT_HEADER.h]",
		Description: `Compiles the source with the newest clang found (clang-30 down to clang-14),
against a vmlinux.h generated from the kernel's BTF, strips DWARF (keeping BTF),
and extracts the metadata a runtime needs: programs, maps, globals (which become
'ecli run' flags), doc comments and the event structs. Every struct of
EXPORT_HEADER.h is exported; ECC_EXPORT(map, struct x) from <ecc.h> binds one
in the source instead. Unchanged rebuilds come from the cache.

Examples:
   ecc build execsnoop.bpf.c execsnoop.h
   ecc build -o out/ --cflags "-DDEBUG -Wall" runqlat.bpf.c
   ecc build --arch x86_64,arm64 --btf arm64=vmlinux-arm64.btf opensnoop.bpf.c
   ECC_CLANG=clang-14 ecc build --no-cache -v profile.bpf.c
   ecc build --format json -o build/ execsnoop.bpf.c | jq -r '.outputs[0].package'
   ecc build --btfgen /boot/vmlinuz-6.1.0-57-cloud-amd64 execsnoop.bpf.c execsnoop.h
   ecc build --btfgen /sys/kernel/btf/vmlinux,vmlinux-5.10,5.15.0-91-generic.btf runqlat.bpf.c
   ecc build --arch x86_64,arm64 --btfgen vmlinuz-6.1-amd64 --btfgen vmlinuz-6.1-arm64 opensnoop.bpf.c
   ecc build --btfgen linux-image-6.1.0-57-cloud-amd64_6.1.192-3_amd64.deb execsnoop.bpf.c execsnoop.h
   ecc build --btfgen ghcr.io/cilium/ci-kernels:6.6 execsnoop.bpf.c execsnoop.h
   ecc build --attest -o build/ execsnoop.bpf.c execsnoop.h

Every build also writes materials.json beside package.json: the source and
every header clang read with their sha256, the flags, clang, the BTF and
ecc's version (docs/format.md), which 'ecc push --attest' turns into
provenance and an SBOM attached to the pushed package. With --attest the
build writes them now too, about the object alone: NAME.provenance.json and
NAME.sbom.spdx.json.

With --btfgen K, the package also carries kernel K's BTF, cut down to the
types, members and enum values the object's CO-RE relocations use (a few
hundred bytes to kilobytes; the whole is 4-10 MB), for kernels built without
BTF (no /sys/kernel/btf/vmlinux): ecli run uses the one whose release is
'uname -r' there. K is raw BTF (a file named RELEASE.btf, as btfhub names
them, or /sys/kernel/btf/vmlinux of this host), a vmlinux ELF, a vmlinuz
(a bzImage or an Image, compressed or not; unpacked in Go: gzip, xz, zstd,
lz4, bzip2, lzma), a Debian or Ubuntu linux-image-*.deb (its
boot/vmlinuz-*), or a kernel image REF in cilium/ci-kernels' layout
(/boot/vmlinuz in a layer, pulled and cached as for 'ecc test --kernel').
Repeat it or give a comma-separated list, one per kernel release; each goes
to the package of its architecture. The BTF serves CO-RE only: tp_btf,
fentry, fexit, fmod_ret, lsm and iter programs attach through the kernel's
own BTF, which no package can bring.

With --wasm GUEST, ecc also builds the program's user space as a Wasm module,
NAME.wasm, next to package.json: GUEST is a C file (compiled with clang
--target=wasm32-wasi, needs wasi-libc, lld and compiler-rt for wasm32) or a Go
package main (GOOS=wasip1 GOARCH=wasm). The BPF program is --bpf FILE.bpf.c or
the only *.bpf.c in GUEST's folder. A C guest includes the generated
NAME.wasm.h (the program's structs, checked against its BTF, and the embedded
object; see ecc_wasm.h); a Go guest gets NAME_bpf_wasm.go in its package and
imports github.com/ecc-bpf/ecc/templates/wasm/go/eccwasm.

   ecc build --wasm examples/wasm-execsnoop-c/main.c
   ecc build --wasm main.go --bpf ../bpf/execsnoop.bpf.c -o out/
   sudo ecli run examples/wasm-execsnoop-c/execsnoop.wasm`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write outputs to `DIR` (default: the source's folder)"},
			&cli.StringFlag{Name: "clang", Usage: "clang command or `PATH` (default: newest clang-N on PATH)", EnvVars: []string{"ECC_CLANG"}},
			&cli.StringFlag{Name: "cflags", Usage: "extra clang `FLAGS`, space-separated (quotes group words)"},
			&cli.StringSliceFlag{Name: "btf", Usage: "BTF `FILE` for vmlinux.h (raw BTF, a vmlinux or a vmlinuz), or ARCH=FILE per architecture (default: /sys/kernel/btf/vmlinux)"},
			&cli.StringSliceFlag{Name: "arch", Usage: "target `ARCH`es, comma-separated: x86_64, arm64, riscv64, s390x, ppc64le, loongarch64, arm (default: host)"},
			&cli.BoolFlag{Name: "no-cache", Usage: "build even when the cache holds the result"},
			&cli.StringFlag{Name: "cache-dir", Usage: "cache `DIR` (default: $XDG_CACHE_HOME/ecc)", EnvVars: []string{"ECC_CACHE_DIR"}},
			commands.FormatFlag(),
			&cli.BoolFlag{Name: "json", Usage: "the same as --format json"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print the commands run"},
			&cli.StringFlag{Name: "wasm", Usage: "also build the user-space `GUEST` program (main.c or main.go) into NAME.wasm, a Wasm module embedding the BPF object, for 'ecli run NAME.wasm'"},
			&cli.StringFlag{Name: "bpf", Usage: "with --wasm: the BPF program `FILE.bpf.c` (default: the only *.bpf.c in the guest's folder)"},
			&cli.StringFlag{Name: "wasm-cflags", Usage: "with --wasm: extra clang `FLAGS` for a C guest"},
			&cli.BoolFlag{Name: "attest", Usage: "also write NAME.provenance.json (SLSA provenance v1) and NAME.sbom.spdx.json (SPDX 2.3), in-toto statements about the object, beside package.json"},
			&cli.StringSliceFlag{Name: "btfgen", Usage: "also ship kernel `K`'s BTF, minimised to what the program needs, for kernels without BTF: raw BTF, a vmlinux, a vmlinuz, a linux-image-*.deb or a kernel image REF; repeatable, comma-separated"},
		},
		Action: func(c *cli.Context) error {
			if c.String("wasm") == "" && (c.String("bpf") != "" || c.String("wasm-cflags") != "") {
				return commands.Usagef(c, "--bpf and --wasm-cflags go with --wasm GUEST")
			}
			if c.String("wasm") != "" && c.Bool("attest") {
				return commands.Usagef(c, "--attest describes BPF builds; leave it out with --wasm (ecc push --attest attests the package's object)")
			}
			if c.String("wasm") != "" && c.NArg() > 2 {
				return commands.Usagef(c, "--wasm GUEST expects an optional SOURCE.bpf.c and EXPORT_HEADER.h, got %s", commands.NArgs(c))
			}
			if c.String("wasm") == "" && (c.NArg() < 1 || c.NArg() > 2) {
				return commands.Usagef(c, "expects SOURCE.bpf.c and an optional EXPORT_HEADER.h, got %s", commands.NArgs(c))
			}
			arches, err := compiler.ParseArches(c.StringSlice("arch"))
			if err != nil {
				return err
			}
			btfs, err := parseBTFFlags(c.StringSlice("btf"))
			if err != nil {
				return err
			}
			cflags, err := splitFlags(c.String("cflags"))
			if err != nil {
				return fmt.Errorf("--cflags: %w", err)
			}
			btfgen, kernelNames, err := btfgenKernels(c.Context, c.StringSlice("btfgen"))
			if err != nil {
				return err
			}
			o := &compiler.Options{
				Source:       c.Args().Get(0),
				ExportHeader: c.Args().Get(1),
				OutDir:       c.String("output"),
				Clang:        c.String("clang"),
				CFlags:       cflags,
				Arches:       arches,
				BTF:          btfs,
				NoCache:      c.Bool("no-cache"),
				CacheDir:     c.String("cache-dir"),
				Stderr:       os.Stderr,
				Color:        commands.Color(os.Stderr),
				BTFGen:       btfgen,
				KernelNames:  kernelNames,
				Builder:      eccBuilder(),
			}
			if c.Bool("verbose") {
				o.Verbose = os.Stderr
			}
			var out buildJSON
			if guest := c.String("wasm"); guest != "" {
				if out, err = buildWasm(c, o, guest); err != nil {
					return err
				}
			} else {
				res, err := compiler.Build(c.Context, o)
				if err != nil {
					return kernelAdvice(err)
				}
				out = buildResult(res)
				if c.Bool("attest") {
					for i, o := range res.Outputs {
						if out.Outputs[i].Attestations, err = statement.WriteBuild(o.Dir, o.Object, o.Materials); err != nil {
							return fmt.Errorf("--attest: %w", err)
						}
					}
				}
			}
			out.print(os.Stderr)
			if c.Bool("json") || commands.JSON(c) {
				return commands.WriteJSON(os.Stdout, out)
			}
			return nil
		},
	}
}

// buildJSON is what 'ecc build --format json' prints, for a BPF build and
// for a Wasm build (--wasm) alike; docs/output.md documents it.
type buildJSON struct {
	Name string `json:"name"`
	// Outputs has one entry per architecture, the first at the top of
	// the output folder, the others in DIR/ARCH.
	Outputs []buildOutputJSON `json:"outputs"`
	// Wasm is the module, with --wasm only.
	Wasm *buildWasmJSON `json:"wasm,omitempty"`
}

type buildOutputJSON struct {
	Arch    string `json:"arch"`
	Object  string `json:"object"`
	Skel    string `json:"skel"`
	Package string `json:"package"`
	Cached  bool   `json:"cached"`
	Millis  int64  `json:"ms"`
	// BTF lists the kernels' BTF put in the package (--btfgen), when
	// built rather than cached.
	BTF []buildBTFJSON `json:"btf,omitempty"`
	// Materials is materials.json; Attestations the statements --attest
	// wrote.
	Materials    string   `json:"materials,omitempty"`
	Attestations []string `json:"attestations,omitempty"`

	clang string // the version, for the summary on stderr
}

type buildBTFJSON struct {
	Kernel   string `json:"kernel"`
	Release  string `json:"release"`
	Arch     string `json:"arch"`
	Size     int    `json:"size"`
	FullSize int    `json:"full_size"`
	Types    int    `json:"types"`
	Millis   int64  `json:"ms"`
}

type buildWasmJSON struct {
	Path     string `json:"path"`
	Lang     string `json:"lang"` // "C" or "Go"
	Size     int64  `json:"size"`
	Compiler string `json:"compiler"`
	Millis   int64  `json:"ms"`
}

func buildResult(res *compiler.Result) buildJSON {
	out := buildJSON{Name: res.Name, Outputs: []buildOutputJSON{}}
	for _, o := range res.Outputs {
		oj := buildOutputJSON{
			Arch: o.Arch.Name, Object: o.Object, Skel: o.Skel, Package: o.Package, Materials: o.MaterialsFile,
			Cached: o.Cached, Millis: o.Took.Milliseconds(), clang: o.Clang.Version,
		}
		for _, k := range o.BTF {
			oj.BTF = append(oj.BTF, buildBTFJSON{Kernel: k.Kernel, Release: k.Release, Arch: k.Arch,
				Size: k.Size, FullSize: k.FullSize, Types: k.Types, Millis: k.Took.Milliseconds()})
		}
		out.Outputs = append(out.Outputs, oj)
	}
	return out
}

// print writes one summary line per output to w.
func (b buildJSON) print(w io.Writer) {
	for _, o := range b.Outputs {
		how := "built with clang " + o.clang
		if o.Cached {
			how = "cached, unchanged"
		}
		fmt.Fprintf(w, "%s: %s (%s, %s in %d ms)\n", b.Name, o.Package, o.Arch, how, o.Millis)
		for _, k := range o.BTF {
			fmt.Fprintf(w, "%s:   BTF for %s (%s): %d bytes, %d types, of %d (%.1f MB) in %s, %d ms\n",
				b.Name, k.Release, k.Arch, k.Size, k.Types, k.FullSize, float64(k.FullSize)/1e6, k.Kernel, k.Millis)
		}
	}
	if m := b.Wasm; m != nil {
		fmt.Fprintf(w, "%s: %s (wasm32, %s, %d KiB)\n", b.Name, m.Path, m.Lang, (m.Size+1023)/1024)
	}
}

// eccBuilder names this ecc in a build's materials.
func eccBuilder() attest.Tool {
	bi := commands.ReadBuildInfo()
	return attest.Tool{Name: "ecc", Version: bi.Version, Commit: bi.Commit}
}

// kernelAdvice adds what to pass instead to a --btfgen kernel that holds
// no BTF ecc can read.
func kernelAdvice(err error) error {
	var ke *compiler.KernelError
	if errors.As(err, &ke) && errors.Is(err, kimage.ErrNoBTF) {
		return &commands.Advice{Err: err, Hint: "pass that kernel's vmlinux (its -dbg package has one) or its /sys/kernel/btf/vmlinux copied from a machine running it, named RELEASE.btf"}
	}
	return err
}

// btfgenKernels pulls the --btfgen kernels given as image references
// (cilium/ci-kernels' layout, as for ecc test --kernel) into ecc test's
// kernel cache and returns the files to read, with the references they
// stand for.
func btfgenKernels(ctx context.Context, kernels []string) ([]string, map[string]string, error) {
	var paths []string
	names := map[string]string{}
	for _, k := range kernels {
		if _, ok := kernel.ImageRef(k); !ok {
			paths = append(paths, k)
			continue
		}
		fmt.Fprintf(os.Stderr, "ecc: pulling kernel image %s\n", k)
		im, err := kernel.Open(ctx, k, nil)
		if ke := (*kernel.Error)(nil); errors.As(err, &ke) {
			err = ke.Err // named below
		}
		if err != nil {
			return nil, nil, &compiler.KernelError{Kernel: k, Err: err}
		}
		paths = append(paths, im.Path)
		names[im.Path] = k
	}
	return paths, names, nil
}

// parseBTFFlags reads --btf FILE and --btf ARCH=FILE.
func parseBTFFlags(vals []string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range vals {
		if arch, file, ok := strings.Cut(v, "="); ok {
			a, err := compiler.ParseArch(arch)
			if err != nil {
				return nil, fmt.Errorf("--btf %s: %w", v, err)
			}
			out[a.Name] = file
			continue
		}
		out[""] = v
	}
	return out, nil
}

// splitFlags splits a flag string on spaces, honouring single and double quotes.
func splitFlags(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in %q", quote, s)
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}

// buildWasm runs `ecc build --wasm GUEST`: the BPF build, then the guest.
func buildWasm(c *cli.Context, o *compiler.Options, guest string) (buildJSON, error) {
	if b := c.String("bpf"); b != "" {
		if o.Source != "" && o.Source != b {
			return buildJSON{}, fmt.Errorf("--bpf %s and SOURCE %s both name the BPF program; give it once", b, o.Source)
		}
		o.Source = b
	}
	gflags, err := splitFlags(c.String("wasm-cflags"))
	if err != nil {
		return buildJSON{}, fmt.Errorf("--wasm-cflags: %w", err)
	}
	res, err := compiler.BuildWasm(c.Context, &compiler.WasmOptions{Options: *o, Guest: guest, GuestCFlags: gflags})
	if err != nil {
		return buildJSON{}, err
	}
	out := buildResult(res.BPF)
	out.Name = res.Name
	out.Wasm = &buildWasmJSON{Path: res.Wasm, Lang: res.Lang, Size: res.Size, Compiler: res.Compiler, Millis: res.Took.Milliseconds()}
	return out, nil
}
