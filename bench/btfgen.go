package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ecc-bpf/ecc/compiler"
	"github.com/ecc-bpf/ecc/compiler/btfgen"
	"github.com/ecc-bpf/ecc/internal/kimage"
)

var btfgenKernels = flag.String("btfgen-kernels", compiler.DefaultBTF, "kernels (raw BTF, vmlinux or vmlinuz), comma-separated, for the btfgen part")

// benchBTFGen compares ecc's BTF minimiser (compiler/btfgen, in process,
// its check against the whole BTF included) with bpftool gen min_core_btf
// on the same raw BTF, per example with CO-RE relocations and per kernel:
// time, and the size of each one's output next to the whole BTF's.
func benchBTFGen(ecc, out string, env []string) bool {
	bpftool, _ := exec.LookPath("bpftool")
	type kern struct {
		name, raw string
		k         *kimage.Kernel
	}
	var kernels []kern
	for _, p := range strings.Split(*btfgenKernels, ",") {
		start := time.Now()
		k, err := kimage.Read(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return false
		}
		raw := filepath.Join(out, "kernel-"+k.Release+".btf")
		if err := os.WriteFile(raw, k.BTF, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return false
		}
		fmt.Printf("kernel %s (%s): %s, %d bytes of BTF, read in %s\n", k.Release, k.Format, p, len(k.BTF), ms(time.Since(start)))
		kernels = append(kernels, kern{p, raw, k})
	}
	if bpftool == "" {
		fmt.Println("bpftool not installed: ecc's figures only (make deps installs it)")
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "example\tkernel\twhole BTF\tecc btfgen\tbpftool min_core_btf\tsame bytes\tecc time\tbpftool time\t")
	for _, name := range []string{"execsnoop", "exitsnoop", "opensnoop", "runqlat", "profile"} {
		src := filepath.Join("examples", name, name+".bpf.c")
		args := []string{"build", "-o", filepath.Join(out, "btfgen-"+name), src}
		if hdr := filepath.Join("examples", name, name+".h"); fileSize(hdr) > 0 {
			args = append(args, hdr)
		}
		if _, err := measure(ecc, args, env); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return false
		}
		objPath := filepath.Join(out, "btfgen-"+name, name+".bpf.o")
		obj, err := os.ReadFile(objPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return false
		}
		for _, k := range kernels {
			var ours, theirs series
			var res *btfgen.Result
			theirOut := filepath.Join(out, name+"-"+k.k.Release+".bpftool.btf")
			for i := 0; i < *runs; i++ {
				start := time.Now()
				if res, err = btfgen.Minimize(obj, k.k.BTF); err != nil {
					fmt.Fprintf(os.Stderr, "%s on %s: %v\n", name, k.k.Release, err)
					return false
				}
				ours = append(ours, sample{wall: time.Since(start)})
				if bpftool != "" {
					s, err := measure(bpftool, []string{"gen", "min_core_btf", k.raw, theirOut, objPath}, nil)
					if err != nil {
						fmt.Fprintln(os.Stderr, err)
						return false
					}
					theirs = append(theirs, s)
				}
			}
			theirSize, same, theirTime := "-", "-", "-"
			if bpftool != "" {
				b, _ := os.ReadFile(theirOut)
				theirSize, same, theirTime = fmt.Sprintf("%d B", len(b)), fmt.Sprint(bytes.Equal(b, res.BTF)), ms(theirs.median())
			}
			fmt.Fprintf(tw, "%s\t%s\t%.1f MB\t%d B (1/%d)\t%s\t%s\t%s\t%s\t\n", name, k.k.Release, float64(res.FullSize)/1e6,
				len(res.BTF), res.FullSize/max(len(res.BTF), 1), theirSize, same, ms(ours.median()), theirTime)
		}
	}
	tw.Flush()
	fmt.Println("\necc's time is in process (reading the object, minimising, checking every relocation against the whole BTF);")
	fmt.Println("bpftool's is its whole run (process start included). Both read the same raw BTF file.")
	fmt.Println()
	return true
}
