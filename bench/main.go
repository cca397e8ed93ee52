// Command bench measures ecc against the tools users would otherwise run,
// side by side in one run, and prints medians and ratios:
//
//   - ecc build --no-cache of each example against the bare clang command
//     ecc runs for it (same flags, same vmlinux.h): the cost of ecc's own work
//     (DWARF strip, metadata, package) on top of the compiler;
//
//   - the cached rebuild (ecc build with nothing changed);
//
//   - vmlinux.h generation in Go (ecc gen vmlinux) against
//     bpftool btf dump file /sys/kernel/btf/vmlinux format c.
//
//   - ecli run against bpftrace and BCC: start-up wall time and peak RSS,
//     time to attach, and lossless events/s from a tight syscall loop;
//
//   - a histogram tool written with no annotation, ecli run -i 1s -c 1,
//     against the same histogram from bpftrace and BCC's runqlat;
//
//   - ecc push/pull against the oras CLI on one docker-registry: wall time,
//     HTTP requests, and blob uploads of a re-push;
//
//   - Wasm packages against the JSON package of the same program: start-up
//     with the compilation cache cold and warm, and the per-event callback cost.
//
//   - ecc's BTF minimiser (ecc build --btfgen) against bpftool gen
//     min_core_btf: time and output size per example and kernel
//     (-btfgen-kernels).
//
// Runs alternate between the compared commands so that machine noise hits
// both alike. Usage: go run ./bench [-n 11] [-ecc bin/ecc] [-only build|vmlinux].
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ecc-bpf/ecc/compiler"
)

var (
	runs    = flag.Int("n", 11, "runs per command (the median is reported)")
	eccBin  = flag.String("ecc", "bin/ecc", "ecc binary to measure")
	only    = flag.String("only", "", "run only this part: build, vmlinux, run, results, oci, sign, wasm or btfgen")
	exGlob  = flag.String("examples", "examples/*", "example folders")
	keepOut = flag.Bool("keep", false, "keep the output folder")
)

type sample struct {
	wall time.Duration
	rss  int64 // peak KiB of the child
}

func measure(name string, args []string, env []string) (sample, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = nil, nil
	var errBuf strings.Builder
	cmd.Stderr = &errBuf
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errBuf.String())
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return sample{wall, rss}, nil
}

type series []sample

func (s series) median() time.Duration {
	d := make([]time.Duration, len(s))
	for i, x := range s {
		d[i] = x.wall
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}

func (s series) maxRSS() int64 {
	var m int64
	for _, x := range s {
		if x.rss > m {
			m = x.rss
		}
	}
	return m
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func main() {
	flag.Parse()
	if _, err := os.Stat(*eccBin); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v (run make build first)\n", err)
		os.Exit(1)
	}
	ecc, _ := filepath.Abs(*eccBin)
	out, err := os.MkdirTemp("", "ecc-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if !*keepOut {
		defer os.RemoveAll(out)
	}
	cache := filepath.Join(out, "cache")
	env := []string{"ECC_CACHE_DIR=" + cache}
	os.Setenv("ECC_CACHE_DIR", cache)
	fmt.Printf("bench: %d runs per command, medians; ecc=%s\n\n", *runs, ecc)
	ok := true
	if *only == "" || *only == "build" {
		ok = benchBuild(ecc, out, env) && ok
	}
	if *only == "" || *only == "vmlinux" {
		ok = benchVmlinux(ecc, out, env) && ok
	}
	if *only == "" || *only == "run" {
		ok = benchRun(ecc, out, env) && ok
	}
	if *only == "" || *only == "results" {
		ok = benchResults(ecc, out, env) && ok
	}
	if *only == "" || *only == "oci" {
		ok = benchOCI(ecc, out, env) && ok
	}
	if *only == "" || *only == "sign" {
		ok = benchSign(ecc, out, env) && ok
	}
	if *only == "" || *only == "wasm" {
		ok = benchWasm(ecc, out, env) && ok
	}
	if *only == "" || *only == "btfgen" {
		ok = benchBTFGen(ecc, out, env) && ok
	}
	if !ok {
		os.Exit(1)
	}
}

func benchBuild(ecc, out string, env []string) bool {
	dirs, _ := filepath.Glob(*exGlob)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "example\tbare clang\tecc build --no-cache\tratio\tecc cached rebuild\tclang RSS\tecc RSS\t")
	var sumRatio float64
	var n int
	for _, d := range dirs {
		name := filepath.Base(d)
		src := filepath.Join(d, name+".bpf.c")
		if _, err := os.Stat(src); err != nil {
			continue
		}
		hdr := filepath.Join(d, name+".h")
		args := []string{"build", "-o", filepath.Join(out, name), src}
		if _, err := os.Stat(hdr); err == nil {
			args = append(args, hdr)
		} else {
			hdr = ""
		}
		// One build to warm the cache (vmlinux.h, clang probe, headers).
		if _, err := measure(ecc, args, env); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return false
		}
		clang, cargs, err := compiler.BareClangArgs(&compiler.Options{Source: src, ExportHeader: hdr, OutDir: filepath.Join(out, name)})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return false
		}
		cargs[len(cargs)-1] = filepath.Join(out, name, "bare.o")
		var bare, full, cached series
		for i := 0; i < *runs; i++ {
			s, err := measure(clang, cargs, nil)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return false
			}
			bare = append(bare, s)
			s, err = measure(ecc, append([]string{"build", "--no-cache"}, args[1:]...), env)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return false
			}
			full = append(full, s)
			s, err = measure(ecc, args, env)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return false
			}
			cached = append(cached, s)
		}
		ratio := float64(full.median()) / float64(bare.median())
		sumRatio += ratio
		n++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f×\t%s\t%d MiB\t%d MiB\t\n", name, ms(bare.median()), ms(full.median()), ratio,
			ms(cached.median()), bare.maxRSS()/1024, full.maxRSS()/1024)
	}
	tw.Flush()
	if n > 0 {
		fmt.Printf("\nmean ratio ecc build --no-cache / bare clang: %.3f× (target ≤ 1.10)\n\n", sumRatio/float64(n))
	}
	return true
}

func benchVmlinux(ecc, out string, env []string) bool {
	bpftool, err := exec.LookPath("bpftool")
	if err != nil {
		fmt.Println("vmlinux.h: bpftool not installed, skipped (make deps installs it)")
		return true
	}
	target := filepath.Join(out, "vmlinux.h")
	var ours, theirs series
	for i := 0; i < *runs; i++ {
		s, err := measure(ecc, []string{"gen", "vmlinux", "-o", target}, env)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return false
		}
		ours = append(ours, s)
		s, err = measure("/bin/sh", []string{"-c", bpftool + " btf dump file " + compiler.DefaultBTF + " format c > " + filepath.Join(out, "bpftool-vmlinux.h")}, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return false
		}
		theirs = append(theirs, s)
	}
	oursSize, theirSize := fileSize(target), fileSize(filepath.Join(out, "bpftool-vmlinux.h"))
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "vmlinux.h from "+compiler.DefaultBTF+"\twall\tpeak RSS\toutput\t")
	fmt.Fprintf(tw, "bpftool btf dump format c\t%s\t%d MiB\t%.1f MB\t\n", ms(theirs.median()), theirs.maxRSS()/1024, float64(theirSize)/1e6)
	fmt.Fprintf(tw, "ecc gen vmlinux (Go)\t%s\t%d MiB\t%.1f MB\t\n", ms(ours.median()), ours.maxRSS()/1024, float64(oursSize)/1e6)
	tw.Flush()
	fmt.Printf("\nratio ecc / bpftool: %.3f× (target < 1)\n", float64(ours.median())/float64(theirs.median()))
	return true
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}
