package main

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

// ecc test refuses bad input before booting anything: one line naming the
// flag or file (and a hint line where there is something to do), exit
// status 2 for a usage error and 1 for the rest, no files left behind.
func TestTestBadInput(t *testing.T) {
	testenv.BPFBuild(t)
	dir := t.TempDir()
	pkg := filepath.Join(dir, "pkg")
	src := filepath.Join(dir, "p.bpf.c")
	os.WriteFile(src, []byte("#include \"vmlinux.h\"\n#include <bpf/bpf_helpers.h>\nSEC(\"tp/sched/sched_process_exec\") int p(void *ctx) { return 0; }\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n"), 0o644)
	if _, stderr, status := ecc(t, "build", "-o", pkg, src); status != 0 {
		t.Fatalf("build: %s", stderr)
	}
	multi := filepath.Join(dir, "multi")
	if _, stderr, status := ecc(t, "build", "--arch", "x86_64,arm64", "-o", multi, src); status != 0 {
		t.Fatalf("build --arch: %s", stderr)
	}
	// An arm64 Image header, enough to choose the machine.
	image := filepath.Join(dir, "Image")
	arm := make([]byte, 4096)
	copy(arm[0x38:], "ARM\x64")
	os.WriteFile(image, arm, 0o644)
	notes := filepath.Join(dir, "notes.txt")
	os.WriteFile(notes, []byte("hi"), 0o644)
	// A file with a bzImage boot header passes as a kernel until qemu.
	vmlinuz := filepath.Join(dir, "vmlinuz")
	img := make([]byte, 4096)
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(img[0x20e:], 0x200)
	copy(img[0x400:], "6.1.0-test\x00")
	os.WriteFile(vmlinuz, img, 0o644)
	noEcliPath := "PATH=" + t.TempDir()

	cases := []struct {
		name  string
		env   []string
		args  []string
		wants []string
		lines int
	}{
		{"no package", nil, []string{"test", "--kernel", vmlinuz}, []string{"ecc test: expects a PACKAGE"}, 1},
		{"no kernel", nil, []string{"test", pkg}, []string{"ecc test: expects at least one --kernel K: a vmlinuz file, a linux-image-*.deb", "see 'ecc test --help'"}, 1},
		{"bad format", nil, []string{"test", "--kernel", vmlinuz, "--format", "yaml", pkg}, []string{`--format "yaml": use text or json`}, 1},
		{"bad duration", nil, []string{"test", "--kernel", vmlinuz, "-d", "soon", pkg}, []string{`--duration "soon"`}, 1},
		{"missing package", nil, []string{"test", "--kernel", vmlinuz, filepath.Join(dir, "nope")}, []string{"nope"}, 1},
		{"not a kernel", nil, []string{"test", "--kernel", notes, pkg}, []string{"kernel " + notes + ": not a kernel image", "hint: --kernel takes"}, 2},
		{"missing kernel", nil, []string{"test", "--kernel", filepath.Join(dir, "vmlinuz-none"), pkg}, []string{"vmlinuz-none", "no such file"}, 1},
		{"dynamic ecli", nil, []string{"test", "--kernel", vmlinuz, "--ecli", "/bin/sh", pkg}, []string{"--ecli /bin/sh is dynamically linked", "hint: rebuild it with CGO_ENABLED=0"}, 2},
		{"no ecli", []string{noEcliPath}, []string{"test", "--kernel", vmlinuz, pkg}, []string{"no statically linked x86_64 ecli found", "hint: build one with 'CGO_ENABLED=0 go build"}, 2},
		{"no arm64 ecli", []string{noEcliPath}, []string{"test", "--kernel", image, multi},
			[]string{"no statically linked arm64 ecli found", "hint: build one with 'CGO_ENABLED=0 GOARCH=arm64 go build -o bin/ecli-arm64 ./cmd/ecli' (make ecli-arm64 does)"}, 2},
	}
	if bb, err := exec.LookPath("busybox"); err == nil {
		// busybox-static stands in for a static ecli: it is only copied.
		cases = append(cases, struct {
			name  string
			env   []string
			args  []string
			wants []string
			lines int
		}{"dynamic COMMAND", nil, []string{"test", "--kernel", vmlinuz, "--ecli", bb, pkg, "--", "/bin/ls", "-l"},
			[]string{"COMMAND /bin/ls is dynamically linked", "hint: pass a statically linked program"}, 2})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := listFiles(dir)
			cmd := exec.Command(eccBin, c.args...)
			cmd.Env = append(os.Environ(), c.env...)
			out, err := cmd.CombinedOutput()
			stderr := string(out)
			want := 1
			if strings.Contains(stderr, "see 'ecc test --help'") {
				want = 2 // a usage error
			}
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != want {
				t.Errorf("exit: %v, want status %d", err, want)
			}
			for _, w := range c.wants {
				if !strings.Contains(stderr, w) {
					t.Errorf("output does not mention %q:\n%s", w, stderr)
				}
			}
			if n := strings.Count(strings.TrimSpace(stderr), "\n") + 1; n != c.lines {
				t.Errorf("%d lines, want %d:\n%s", n, c.lines, stderr)
			}
			if after := listFiles(dir); !reflect.DeepEqual(before, after) {
				t.Errorf("files changed: before %v after %v", before, after)
			}
		})
	}
}
