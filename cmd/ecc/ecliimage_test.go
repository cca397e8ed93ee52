package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

// ecc ecli-image writes the image, prints the documented JSON, and two
// runs with the same SOURCE_DATE_EPOCH give the same digest.
func TestEcliImage(t *testing.T) {
	amd, arm := testenv.StaticProgram(t, "amd64"), testenv.StaticProgram(t, "arm64")
	c := newCLI(t)
	c.env = append(c.env, "SOURCE_DATE_EPOCH=1700000000")
	var digests []string
	for i := range 2 {
		dest := "oci:" + filepath.Join(t.TempDir(), "layout") + ":v1"
		out := c.ok("ecli-image", "--format", "json", "--ecli", amd, "--ecli-arm64", arm, dest)
		wantKeys(t, "ecli-image", jsonKeys(t, "ecli-image", out),
			"reference", "digest", "media_type", "size", "uploaded", "skipped", "platforms")
		var res struct {
			Digest    string
			Platforms []map[string]any
		}
		json.Unmarshal([]byte(out), &res)
		if len(res.Platforms) != 2 || res.Platforms[0]["platform"] != "linux/amd64" || res.Platforms[1]["platform"] != "linux/arm64" {
			t.Fatalf("run %d: platforms %v", i, res.Platforms)
		}
		for _, p := range res.Platforms {
			var keys []string
			for k := range p {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			wantKeys(t, "ecli-image platforms", keys, "platform", "binary", "manifest", "layer", "layer_size", "diff_id")
		}
		digests = append(digests, res.Digest)
	}
	if digests[0] != digests[1] {
		t.Errorf("two runs: %s and %s", digests[0], digests[1])
	}
	// The text form: the digest and a table of platforms.
	out := c.ok("ecli-image", "--ecli", amd, "--platform", "linux/amd64", "oci:"+filepath.Join(t.TempDir(), "text"))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[1], "Digest: sha256:") || !strings.HasPrefix(lines[2], "PLATFORM") || !strings.HasPrefix(lines[3], "linux/amd64 ") {
		t.Errorf("text output:\n%s", out)
	}
}

// Bad command lines are usage errors (status 2); binaries the image cannot
// hold fail with one line naming the flag and the file, and write nothing.
func TestEcliImageErrors(t *testing.T) {
	amd, arm := testenv.StaticProgram(t, "amd64"), testenv.StaticProgram(t, "arm64")
	notELF := filepath.Join(t.TempDir(), "ecli")
	os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755)
	c := newCLI(t)
	c.env = append(c.env, "PATH="+t.TempDir()) // no ecli on PATH
	dest := filepath.Join(t.TempDir(), "layout")
	for _, tc := range []struct {
		args   []string
		status int
		want   string
	}{
		{nil, 2, "ecc ecli-image: expects DEST, got no arguments"},
		{[]string{"--platform", "linux/s390x", "oci:" + dest}, 2, `ecc ecli-image: --platform "linux/s390x": the ecli image is built for linux/amd64 and linux/arm64`},
		{[]string{"--platform", "linux/amd64", "--ecli-arm64", arm, "oci:" + dest}, 2, "ecc ecli-image: --ecli-arm64 is the linux/arm64 ecli, and --platform leaves linux/arm64 out"},
		{[]string{"--ecli", arm, "--ecli-arm64", arm, "oci:" + dest}, 1, "ecc: --ecli " + arm + ": built for arm64, not for linux/amd64"},
		{[]string{"--ecli", amd, "--ecli-arm64", amd, "oci:" + dest}, 1, "ecc: --ecli-arm64 " + amd + ": built for x86_64, not for linux/arm64"},
		{[]string{"--ecli", notELF, "--platform", "linux/amd64", "oci:" + dest}, 1, "ecc: --ecli " + notELF + ": not an ELF executable"},
		{[]string{"--ecli", amd, "oci:" + dest}, 1, "ecc: no linux/arm64 ecli found: none named ecli-arm64 next to ecc or on PATH\necc: hint: build it with 'make build' (bin/ecli-arm64), pass --ecli-arm64 FILE"},
		{[]string{"--ecli", amd, "--platform", "linux/amd64", "--ca-certs", "/nonexistent/ca.crt", "oci:" + dest}, 1, "ecc: CA certificates: open /nonexistent/ca.crt: no such file or directory"},
	} {
		_, stderr, status := c.run(append([]string{"ecli-image"}, tc.args...)...)
		if status != tc.status || !strings.HasPrefix(stderr, tc.want) {
			t.Errorf("ecc ecli-image %s: status %d\n%s\nwant status %d and\n%s", strings.Join(tc.args, " "), status, stderr, tc.status, tc.want)
		}
		if tc.status == 1 && strings.Count(stderr, "\n") > 2 {
			t.Errorf("ecc ecli-image %s: more than an error and a hint:\n%s", strings.Join(tc.args, " "), stderr)
		}
	}
	for _, dyn := range []string{"/bin/true", "/usr/bin/true"} {
		if _, err := os.Stat(dyn); err != nil {
			continue
		}
		_, stderr, status := c.run("ecli-image", "--ecli", dyn, "--platform", "linux/amd64", "oci:"+dest)
		if status != 1 || !strings.HasPrefix(stderr, "ecc: --ecli "+dyn+": dynamically linked") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("a dynamic ecli: status %d\n%s", status, stderr)
		}
		break
	}
	if _, err := os.Stat(dest); err == nil {
		t.Errorf("a refused image left %s behind", dest)
	}
}
