package e2e

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/ecc-bpf/ecc/internal/regserver"
	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry"
)

// unpackImage reads platform's image from the layout ref (oci:DIR:tag)
// and unpacks its layers into root, as a container runtime does; it
// returns the image's config.
func unpackImage(t *testing.T, ref, platform, root string) ocispec.Image {
	t.Helper()
	ctx := context.Background()
	r, err := registry.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	src, err := registry.OpenTarget(ctx, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	top, err := src.Resolve(ctx, r.TagOrDigest())
	if err != nil {
		t.Fatal(err)
	}
	md, err := packager.SelectManifest(ctx, src, top, platform)
	if err != nil {
		t.Fatal(err)
	}
	var man ocispec.Manifest
	var cfg ocispec.Image
	data, err := content.FetchAll(ctx, src, md)
	if err == nil {
		err = json.Unmarshal(data, &man)
	}
	if err == nil {
		data, err = content.FetchAll(ctx, src, man.Config)
	}
	if err == nil {
		err = json.Unmarshal(data, &cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range man.Layers {
		if l.MediaType != ocispec.MediaTypeImageLayerGzip {
			t.Fatalf("layer %s is %s", l.Digest, l.MediaType)
		}
		rc, err := src.Fetch(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(rc)
		if err != nil {
			t.Fatal(err)
		}
		untarInto(t, root, tar.NewReader(zr))
		rc.Close()
	}
	return cfg
}

// untarInto writes a layer's folders and files under root, with their
// modes (sticky bit included).
func untarInto(t *testing.T, root string, tr *tar.Reader) {
	t.Helper()
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Clean(h.Name)
		if !filepath.IsLocal(name) {
			t.Fatalf("layer entry %q is not a local path", h.Name)
		}
		p := filepath.Join(root, name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			var f *os.File
			if f, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600); err == nil {
				_, err = io.Copy(f, tr)
				f.Close()
			}
		default:
			t.Fatalf("layer entry %s of type %c", h.Name, h.Typeflag)
		}
		mode := os.FileMode(h.Mode & 0o777)
		if h.Mode&0o1000 != 0 {
			mode |= os.ModeSticky
		}
		if err == nil {
			err = os.Chmod(p, mode)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// The ecli image built by ecc ecli-image into an OCI layout, unpacked the
// way a container runtime unpacks it, runs: its entrypoint, chrooted into
// the unpacked root in a private mount namespace with /sys and /proc
// bound in, loads execsnoop, and decodes the exec this test makes.
func TestEcliImageRuns(t *testing.T) {
	pkg := buildExample(t, "execsnoop") // skips without clang or a kernel
	tools := map[string]string{}
	for _, tool := range []string{"unshare", "chroot", "sh", "mount", "mountpoint"} {
		tools[tool] = testenv.Tool(t, tool)
	}
	dir := t.TempDir()
	layout := "oci:" + filepath.Join(dir, "layout") + ":test"
	out, stderr, status := ecc(t, "ecli-image", "--ecli", ecliBin, "--platform", "linux/amd64", "--format", "json", layout)
	if status != 0 {
		t.Fatalf("ecc ecli-image: status %d\n%s", status, stderr)
	}
	var res struct {
		Digest    string `json:"digest"`
		Platforms []struct {
			Platform  string `json:"platform"`
			LayerSize int64  `json:"layer_size"`
		} `json:"platforms"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Platforms) != 1 || res.Platforms[0].Platform != "linux/amd64" {
		t.Fatalf("ecc ecli-image --format json: %v\n%s", err, out)
	}
	t.Logf("image %s, amd64 layer %d bytes", res.Digest, res.Platforms[0].LayerSize)

	root := filepath.Join(dir, "root")
	cfg := unpackImage(t, layout, "linux/amd64", root)
	if len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/usr/local/bin/ecli" {
		t.Fatalf("entrypoint %q", cfg.Config.Entrypoint)
	}
	if st, err := os.Stat(filepath.Join(root, "tmp")); err != nil || st.Mode()&os.ModeSticky == 0 || st.Mode().Perm() != 0o777 {
		t.Errorf("/tmp: %v %v", st.Mode(), err)
	}
	// A mount that outlived its namespace would make the temp folder's
	// removal walk the host's /sys: detach anything left first.
	t.Cleanup(func() {
		for _, m := range []string{"sys", "proc"} {
			if _, err := os.Stat(filepath.Join(root, m, "kernel")); err == nil {
				t.Errorf("/%s is still mounted in the image's root after the run", m)
				syscall.Unmount(filepath.Join(root, m), syscall.MNT_DETACH)
			}
		}
	})
	if err := os.MkdirAll(filepath.Join(root, "pkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(pkg)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "pkg", "package.json"), data, 0o644)

	// The binary in the image is the ecli given, and runs on its own.
	chroot := func(args ...string) *exec.Cmd {
		cmd := exec.Command(tools["chroot"], append(append([]string{root}, cfg.Config.Entrypoint...), args...)...)
		cmd.Env = append(cfg.Config.Env, "ECLI_TRACE=1")
		return cmd
	}
	v, err := chroot("--version").CombinedOutput()
	want, _ := exec.Command(ecliBin, "--version").Output()
	if err != nil || string(v) != string(want) {
		t.Fatalf("ecli --version in the image: %v\n%s\nwant\n%s", err, v, want)
	}

	args := []string{"run", "-j", "/pkg/package.json"}
	// The host's tools by their paths: the environment is the image's.
	script := `set -e
"$MOUNT" --rbind /sys "$1/sys"
"$MOUNT" --bind /proc "$1/proc"
"$MOUNTPOINT" -q "$1/sys/fs/bpf" || "$MOUNT" -t bpf bpf "$1/sys/fs/bpf"
root=$1; shift
exec "$CHROOT" "$root" "$@"`
	script = strings.NewReplacer(`"$MOUNT"`, `"`+tools["mount"]+`"`, `"$MOUNTPOINT"`, `"`+tools["mountpoint"]+`"`, `"$CHROOT"`, `"`+tools["chroot"]+`"`).Replace(script)
	cmd := exec.Command(tools["unshare"], append([]string{"--mount", "--propagation", "private", tools["sh"], "-c", script, "sh", root},
		append(cfg.Config.Entrypoint, args...)...)...)
	cmd.Env = append(cfg.Config.Env, "ECLI_TRACE=1")
	r, _ := tryEcliCmd(t, cmd, args)
	if r == nil {
		t.FailNow()
	}
	bin := namedTrue(t, "ecc-image-probe")
	pids := map[int64]bool{}
	ev := r.waitFor(t, "exec of "+bin, func() {
		c := exec.Command(bin, "image-mark")
		if err := c.Run(); err != nil {
			t.Fatal(err)
		}
		pids[int64(c.Process.Pid)] = true
	}, func(m map[string]any) bool { return m["filename"] == bin })
	if !pids[num(ev["pid"])] || ev["comm"] != "ecc-image-probe" || num(ev["ppid"]) != int64(os.Getpid()) {
		t.Errorf("event %v: want the pid of one of the execs (%v), comm ecc-image-probe, ppid %d", ev, pids, os.Getpid())
	}
	if args, _ := ev["args"].(string); !strings.Contains(args, "image-mark") {
		t.Errorf("event args %q", args)
	}
	r.stop(t)
}

// The ecli image pushed by ecc ecli-image to Debian's docker-registry
// (TLS, htpasswd) is what skopeo, a client that knows nothing of ecc,
// expects: an index whose platforms resolve to configs with the
// entrypoint, and blobs whose digests hold (skopeo copy checks them).
func TestEcliImageRegistry(t *testing.T) {
	skopeo := testenv.Tool(t, "skopeo")
	reg := regserver.Start(t)
	arm := testenv.StaticProgram(t, "arm64") // a stand-in for bin/ecli-arm64
	e := newEnv(t)
	ref := reg.Host + "/ecc/ecli:v1"
	out := e.ok(reg.Password+"\n", eccBin, "ecli-image", "--format", "json", "--ca-file", reg.CAFile, "-u", reg.User, "--password-stdin",
		"--ecli", ecliBin, "--ecli-arm64", arm, ref)
	var res struct{ Digest string }
	if err := json.Unmarshal([]byte(out), &res); err != nil || !strings.HasPrefix(res.Digest, "sha256:") {
		t.Fatalf("ecc ecli-image: %v\n%s", err, out)
	}
	creds := []string{"--cert-dir", reg.CertDir, "--creds", reg.User + ":" + reg.Password}
	for _, arch := range []string{"amd64", "arm64"} {
		cfgJSON := e.ok("", skopeo, append(append([]string{"inspect", "--config", "--override-os", "linux", "--override-arch", arch}, creds...), "docker://"+ref)...)
		var cfg ocispec.Image
		if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
			t.Fatalf("skopeo inspect --config (%s): %v\n%s", arch, err, cfgJSON)
		}
		if cfg.Architecture != arch || cfg.OS != "linux" || strings.Join(cfg.Config.Entrypoint, " ") != "/usr/local/bin/ecli" || len(cfg.RootFS.DiffIDs) != 1 {
			t.Errorf("%s config: %s", arch, cfgJSON)
		}
	}
	// skopeo copies every platform out, checking each blob's digest, and
	// the copy is the same image.
	dir := filepath.Join(t.TempDir(), "copy")
	e.ok("", skopeo, "copy", "--all", "--preserve-digests", "--src-cert-dir", reg.CertDir, "--src-creds", reg.User+":"+reg.Password,
		"docker://"+ref, "oci:"+dir+":v1")
	// Signed and verified like a package (cosign's format).
	key := filepath.Join(t.TempDir(), "image")
	e.ok("", eccBin, "key", "generate", "--output-key-prefix", key)
	e.ok(reg.Password+"\n", eccBin, "login", "--ca-file", reg.CAFile, "-u", reg.User, "--password-stdin", reg.Host)
	e.ok("", eccBin, "sign", "--ca-file", reg.CAFile, "--key", key+".key", ref)
	if out := e.ok("", eccBin, "verify", "--ca-file", reg.CAFile, "--key", key+".pub", ref); !strings.Contains(out, res.Digest) {
		t.Errorf("ecc verify: %s", out)
	}

	root := filepath.Join(t.TempDir(), "root")
	unpackImage(t, "oci:"+dir+":v1", "linux/arm64", root)
	got, _ := os.ReadFile(filepath.Join(root, "usr/local/bin/ecli"))
	want, _ := os.ReadFile(arm)
	if len(got) == 0 || string(got) != string(want) {
		t.Errorf("the arm64 image's /usr/local/bin/ecli (%d bytes) is not the arm64 binary (%d bytes)", len(got), len(want))
	}
}

// Each platform's ecli, taken out of the image as a runtime would unpack
// it, boots as the init of its kernel in ecc test (x86_64 and arm64 6.1
// cloud kernels in qemu) and runs that architecture's object there.
func TestVMEcliImage(t *testing.T) {
	arm := testenv.VMArm64Kernel(t)
	x86 := testenv.VMKernel(t)
	layout := "oci:" + filepath.Join(t.TempDir(), "layout") + ":test"
	if _, stderr, status := ecc(t, "ecli-image", "--ecli", ecliBin, "--ecli-arm64", ecliArm64(t), layout); status != 0 {
		t.Fatalf("ecc ecli-image: status %d\n%s", status, stderr)
	}
	var eclis []string
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		root := filepath.Join(t.TempDir(), "root")
		cfg := unpackImage(t, layout, p, root)
		eclis = append(eclis, "--ecli", filepath.Join(root, cfg.Config.Entrypoint[0]))
	}
	pkg := buildVM(t, "execsnoop", true, "--arch", "x86_64,arm64")
	reps, status := eccTestAll(t, nil, []string{x86, arm}, append(eclis, "--samples", "5", pkg)...)
	if status != 0 {
		t.Errorf("status %d", status)
	}
	for i, arch := range []string{"x86_64", "arm64"} {
		if reps[i].Arch != arch {
			t.Errorf("report %d: arch %s, want %s", i, reps[i].Arch, arch)
		}
		checkExecEvents(t, reps[i])
	}
}
