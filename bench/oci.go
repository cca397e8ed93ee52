package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// counter is a reverse proxy in front of the registry that counts the
// requests of each run, by method and kind.
type counter struct {
	mu   sync.Mutex
	reqs []string
}

func (c *counter) reset() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.reqs
	c.reqs = nil
	return r
}

func uploads(reqs []string) int {
	n := 0
	for _, r := range reqs {
		if strings.HasPrefix(r, "POST ") && strings.Contains(r, "/blobs/uploads") {
			n++
		}
	}
	return n
}

// startRegistry runs docker-registry (plain HTTP) behind a counting proxy
// and returns the proxy's host:port.
func startRegistry(out string) (string, *counter, func(), error) {
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		return "", nil, nil, fmt.Errorf("docker-registry is not installed (make test-deps installs it)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, nil, err
	}
	regAddr := l.Addr().String()
	l.Close()
	cfg := filepath.Join(out, "registry.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(out, "registry-data"), regAddr)), 0o644)
	reg := exec.Command(bin, "serve", cfg)
	if err := reg.Start(); err != nil {
		return "", nil, nil, err
	}
	for i := 0; i < 100; i++ {
		if r, err := http.Get("http://" + regAddr + "/v2/"); err == nil {
			r.Body.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	c := &counter{}
	target, _ := url.Parse("http://" + regAddr)
	proxy := httputil.NewSingleHostReverseProxy(target)
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		reg.Process.Kill()
		return "", nil, nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.reqs = append(c.reqs, r.Method+" "+r.URL.Path)
		c.mu.Unlock()
		proxy.ServeHTTP(w, r)
	})}
	go srv.Serve(pl)
	stop := func() {
		srv.Close()
		reg.Process.Kill()
		reg.Wait()
	}
	return pl.Addr().String(), c, stop, nil
}

// benchOCI compares ecc push/pull with the oras CLI on one docker-registry.
func benchOCI(ecc, out string, env []string) bool {
	oras := ""
	for _, p := range []string{".tools/bin/oras"} {
		if abs, err := filepath.Abs(p); err == nil {
			if _, err := os.Stat(abs); err == nil {
				oras = abs
			}
		}
	}
	if oras == "" {
		oras, _ = exec.LookPath("oras")
	}
	if oras == "" {
		fmt.Println("oras CLI not installed (make test-deps installs it): push/pull comparison skipped")
		return true
	}
	host, c, stop, err := startRegistry(out)
	if err != nil {
		fmt.Println("push/pull comparison skipped:", err)
		return true
	}
	defer stop()
	pkgDir := filepath.Join(out, "oci-execsnoop")
	if _, err := measure(ecc, []string{"build", "-o", pkgDir, "examples/execsnoop/execsnoop.bpf.c", "examples/execsnoop/execsnoop.h"}, env); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return false
	}
	// The same content for oras: the object as a layer, the metadata as config.
	orasDir := filepath.Join(out, "oras-files")
	os.MkdirAll(orasDir, 0o755)
	obj, _ := os.ReadFile(filepath.Join(pkgDir, "execsnoop.bpf.o"))
	os.WriteFile(filepath.Join(orasDir, "execsnoop.bpf.o"), obj, 0o644)
	skel, _ := os.ReadFile(filepath.Join(pkgDir, "execsnoop.skel.json"))
	os.WriteFile(filepath.Join(orasDir, "config.json"), skel, 0o644)
	orasPush := func(ref string) []string {
		return []string{"push", "--plain-http", "--no-tty", "--artifact-type", "application/vnd.ecc.package.v1",
			"--config", "config.json:application/vnd.ecc.package.config.v1+json", ref, "execsnoop.bpf.o:application/vnd.ecc.bpf.object.v1+elf"}
	}
	inDir := func(dir string, name string, args []string, extraEnv []string) (sample, error) {
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), extraEnv...)
		start := time.Now()
		b, err := cmd.CombinedOutput()
		if err != nil {
			return sample{}, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
		}
		return sample{wall: time.Since(start)}, nil
	}
	var eccPush, orasPushS, eccPull, orasPull series
	var eccPushReqs, orasPushReqs, eccPullReqs, orasPullReqs int
	for i := 0; i < *runs; i++ {
		c.reset()
		s, err := measure(ecc, []string{"push", pkgDir, fmt.Sprintf("%s/ecc%d/execsnoop:v1", host, i)}, env)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return false
		}
		eccPush = append(eccPush, s)
		eccPushReqs = len(c.reset())
		s, err = inDir(orasDir, oras, orasPush(fmt.Sprintf("%s/oras%d/execsnoop:v1", host, i)), nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return false
		}
		orasPushS = append(orasPushS, s)
		orasPushReqs = len(c.reset())
		// Pull into empty places, so that everything is downloaded. The
		// first pull after the pushes pays for the registry finishing
		// their work, so the tools take turns going first.
		store := filepath.Join(out, fmt.Sprintf("store%d", i))
		pullECC := func() error {
			s, err := measure(ecc, []string{"pull", "-o", filepath.Join(out, fmt.Sprintf("ecc-pull%d", i)), host + "/ecc0/execsnoop:v1"}, append(env, "ECC_STORE_DIR="+store))
			if err != nil {
				return err
			}
			eccPull = append(eccPull, s)
			eccPullReqs = len(c.reset())
			return nil
		}
		pullOras := func() error {
			pdir := filepath.Join(out, fmt.Sprintf("oras-pull%d", i))
			os.MkdirAll(pdir, 0o755)
			// The same artifact ecc pulls: the index, the amd64 manifest, the object.
			s, err := inDir(pdir, oras, []string{"pull", "--plain-http", "--no-tty", "--platform", "linux/amd64", host + "/ecc0/execsnoop:v1"}, nil)
			if err != nil {
				return err
			}
			orasPull = append(orasPull, s)
			orasPullReqs = len(c.reset())
			return nil
		}
		order := []func() error{pullECC, pullOras}
		if i%2 == 1 {
			order = []func() error{pullOras, pullECC}
		}
		for _, pull := range order {
			if err := pull(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return false
			}
		}
	}
	// Re-push of an unchanged package: no blob upload.
	measure(ecc, []string{"push", pkgDir, host + "/ecc0/execsnoop:v1"}, env)
	eccRe := c.reset()
	inDir(orasDir, oras, orasPush(host+"/oras0/execsnoop:v1"), nil)
	orasRe := c.reset()

	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "execsnoop on docker-registry (loopback)\tecc\toras CLI\tratio\tecc requests\toras requests\t")
	fmt.Fprintf(tw, "push (new repository)\t%s\t%s\t%.3f×\t%d\t%d\t\n", ms(eccPush.median()), ms(orasPushS.median()),
		float64(eccPush.median())/float64(orasPushS.median()), eccPushReqs, orasPushReqs)
	fmt.Fprintf(tw, "pull, same artifact (empty store / folder)\t%s\t%s\t%.3f×\t%d\t%d\t\n", ms(eccPull.median()), ms(orasPull.median()),
		float64(eccPull.median())/float64(orasPull.median()), eccPullReqs, orasPullReqs)
	fmt.Fprintf(tw, "re-push unchanged: blob uploads\t%d\t%d\t\t%d\t%d\t\n", uploads(eccRe), uploads(orasRe), len(eccRe), len(orasRe))
	tw.Flush()
	fmt.Println("(push: ecc an index over a per-arch manifest, oras one manifest; pull: both the index ecc pushed, taking turns first, oras without the")
	fmt.Println(" metadata config and without a local store. target: ratio ≤ 1.0, no blob upload on re-push)")
	return true
}
