package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// tool finds a CLI that make test-deps installs into .tools/bin, else on
// PATH; "" when there is none.
func tool(name string) string {
	if abs, err := filepath.Abs(filepath.Join(".tools/bin", name)); err == nil {
		if _, err := os.Stat(abs); err == nil {
			return abs
		}
	}
	p, _ := exec.LookPath(name)
	return p
}

// benchSign compares ecc sign, verify and copy with the cosign CLI's sign
// and verify and the oras CLI's cp -r, on docker-registry over loopback,
// with one cosign key pair for both tools.
func benchSign(ecc, out string, env []string) bool {
	cosign, oras := tool("cosign"), tool("oras")
	if cosign == "" || oras == "" {
		fmt.Println("cosign or oras CLI not installed (make test-deps installs them): sign/verify/copy comparison skipped")
		return true
	}
	host, c, stop, err := startRegistry(out)
	if err != nil {
		fmt.Println("sign/verify comparison skipped:", err)
		return true
	}
	defer stop()
	dir := filepath.Join(out, "sign")
	os.MkdirAll(dir, 0o755)
	env = append(append(env, "COSIGN_PASSWORD=bench", "COSIGN_YES=true", "DOCKER_CONFIG="+dir), "ECC_STORE_DIR="+filepath.Join(dir, "store"))
	run := func(name string, args ...string) (time.Duration, error) {
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
		start := time.Now()
		b, err := cmd.CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, b)
		}
		return time.Since(start), nil
	}
	pkg := filepath.Join(dir, "pkg")
	steps := [][]string{
		{cosign, "generate-key-pair"},
		{ecc, "build", "-o", pkg, filepath.Join(mustWd(), "examples/execsnoop/execsnoop.bpf.c"), filepath.Join(mustWd(), "examples/execsnoop/execsnoop.h")},
	}
	for _, s := range steps {
		if _, err := run(s[0], s[1:]...); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return false
		}
	}
	var eccSign, cosSign, eccVerify, cosVerify, eccCopy, orasCopy series
	var reqs [6]int
	add := func(s *series, i int, d time.Duration) {
		*s = append(*s, sample{wall: d})
		reqs[i] = len(c.reset())
	}
	for i := 0; i < *runs; i++ {
		eRef, cRef := fmt.Sprintf("%s/ecc%d/probe:v1", host, i), fmt.Sprintf("%s/cos%d/probe:v1", host, i)
		for _, ref := range []string{eRef, cRef} {
			if _, err := run(ecc, "push", pkg, ref); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return false
			}
		}
		c.reset()
		cmds := []struct {
			s    *series
			args []string
		}{
			{&eccSign, []string{ecc, "sign", "--key", "cosign.key", eRef}},
			{&cosSign, []string{cosign, "sign", "--key", "cosign.key", "--tlog-upload=false", "--allow-http-registry", cRef}},
			{&eccVerify, []string{ecc, "verify", "--key", "cosign.pub", eRef}},
			{&cosVerify, []string{cosign, "verify", "--key", "cosign.pub", "--insecure-ignore-tlog", "--allow-http-registry", eRef}},
			{&eccCopy, []string{ecc, "copy", eRef, fmt.Sprintf("oci:ecc-copy%d:v1", i)}},
			{&orasCopy, []string{oras, "cp", "-r", "--from-plain-http", "--no-tty", eRef, "--to-oci-layout", fmt.Sprintf("oras-copy%d:v1", i)}},
		}
		for j, cm := range cmds {
			d, err := run(cm.args[0], cm.args[1:]...)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return false
			}
			add(cm.s, j, d)
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "execsnoop on docker-registry (loopback)\tecc\tother\tratio\tecc requests\tother requests\t")
	row := func(what string, e, o series, re, ro int) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f×\t%d\t%d\t\n", what, ms(e.median()), ms(o.median()), float64(e.median())/float64(o.median()), re, ro)
	}
	row("sign (cosign sign --tlog-upload=false)", eccSign, cosSign, reqs[0], reqs[1])
	row("verify the same signature (cosign verify --insecure-ignore-tlog)", eccVerify, cosVerify, reqs[2], reqs[3])
	row("copy with referrers to oci:DIR (oras cp -r)", eccCopy, orasCopy, reqs[4], reqs[5])
	tw.Flush()
	fmt.Println("(one cosign key pair for both tools; verify: both check the signature ecc sign made. target: ratio ≤ 1.0)")
	return true
}

func mustWd() string {
	wd, _ := os.Getwd()
	return wd
}
