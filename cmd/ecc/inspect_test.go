package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager"
)

// ecc inspect shows what the object holds, and refuses metadata that says
// otherwise with one line naming both.
func TestInspectRefusesLyingMetadata(t *testing.T) {
	testenv.BPFBuild(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "liar.bpf.c")
	os.WriteFile(src, []byte(`#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
SEC("cgroup_skb/egress")
int handle_exec(struct __sk_buff *skb) { return 1; }
`), 0o644)
	if _, stderr, status := ecc(t, "build", "-o", dir, src); status != 0 {
		t.Fatalf("build: %s", stderr)
	}
	honest := filepath.Join(dir, "package.json")
	stdout, stderr, status := ecc(t, "inspect", honest)
	if status != 0 || !strings.Contains(stdout, "handle_exec  cgroup_skb/egress  CGroupSKB") || !strings.Contains(stdout, "pass --cgroup PATH") {
		t.Fatalf("inspect: status %d\n%s%s", status, stdout, stderr)
	}

	p, err := packager.ReadFile(honest)
	if err != nil {
		t.Fatal(err)
	}
	p.Meta.BpfSkel.Progs[0].Attach = "tp/sched/sched_process_exec"
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	liar := filepath.Join(dir, "liar.json")
	os.WriteFile(liar, b, 0o644)
	// eunomia's packages may leave progs and maps out: the object's are
	// shown.
	bare := *p
	bare.Meta.BpfSkel.Progs, bare.Meta.BpfSkel.Maps = nil, nil
	b, err = bare.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	omitted := filepath.Join(dir, "omitted.json")
	os.WriteFile(omitted, b, 0o644)
	stdout, stderr, status = ecc(t, "inspect", omitted)
	if status != 0 || !strings.Contains(stdout, "handle_exec  cgroup_skb/egress  CGroupSKB") || !strings.Contains(stdout, "pass --cgroup PATH") {
		t.Errorf("inspect without progs and maps: status %d\n%s%s", status, stdout, stderr)
	}

	want := `ecc: ` + liar + `: package.json says program handle_exec is SEC("tp/sched/sched_process_exec") but the object has it in SEC("cgroup_skb/egress"); the metadata does not describe this package's object` + "\n" +
		"ecc: hint: rebuild it with ecc build, or ask its author\n"
	for _, format := range []string{"text", "json"} {
		stdout, stderr, status := ecc(t, "inspect", "--format", format, liar)
		if status != 1 || stderr != want || stdout != "" {
			t.Errorf("inspect --format %s: status %d, stdout %q, stderr:\n%s\nwant:\n%s", format, status, stdout, stderr, want)
		}
	}
}
