package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/ecc-bpf/ecc/compiler"
	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/runtime/attach"
)

// plantSource has a cgroup program and a tracepoint program; plant_* names
// let the tests find them among the kernel's (other tests run at the same
// time). plant_QQQQQ is renamed with control characters by escapeMarker.
const plantSource = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/// Programs of the ecli plan tests
/// @version 0.1.0
char LICENSE[] SEC("license") = "GPL";

/// Only this process
const volatile int plant_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} plant_counts SEC(".maps");

SEC("cgroup_skb/egress")
int plant_egress(struct __sk_buff *skb) { return 1; }

SEC("tp/sched/sched_process_exec")
int plant_exec(void *ctx)
{
	u32 k = 0;
	u64 *v = bpf_map_lookup_elem(&plant_counts, &k);
	if (v && plant_pid != -1)
		__sync_fetch_and_add(v, 1);
	return 0;
}

SEC("tp/sched/sched_process_fork")
int plant_QQQQQ(void *ctx) { return 0; }
`

// escapeMarker is what the crafted packages turn into control characters.
const escapeMarker, escaped = "plant_QQQQQ", "plant_\x1b[2J\r"

// buildSource builds C source into a package and returns it.
func buildSource(t *testing.T, name, code string) *packager.Package {
	t.Helper()
	testenv.Clang(t)
	dir := t.TempDir()
	src := filepath.Join(dir, name+".bpf.c")
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	res, err := compiler.Build(context.Background(), &compiler.Options{Source: src, OutDir: dir,
		CacheDir: filepath.Join(tmpRoot, "cache"), Stderr: &stderr})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	p, err := packager.ReadFile(res.Outputs[0].Package)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// craft writes a copy of p, edited, as a package.json and returns its path.
func craft(t *testing.T, p *packager.Package, edit func(p *packager.Package)) string {
	t.Helper()
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c, err := packager.Unmarshal(b) // a deep copy
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(c)
	}
	out, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "package.json")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func prog(m *packager.Meta, name string) *packager.Prog {
	for i := range m.BpfSkel.Progs {
		if m.BpfSkel.Progs[i].Name == name {
			return &m.BpfSkel.Progs[i]
		}
	}
	return nil
}

// kernelProgs lists the names of the BPF programs in the kernel that begin
// with prefix.
func kernelProgs(prefix string) []string {
	var names []string
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			return names
		}
		id = next
		if p, err := ebpf.NewProgramFromID(id); err == nil {
			if info, err := p.Info(); err == nil && strings.HasPrefix(info.Name, prefix) {
				names = append(names, info.Name)
			}
			p.Close()
		}
	}
}

// Metadata that disagrees with the object is refused by ecli run (dry or
// not) and inspect, with one line naming both sides.
func TestLyingMetadataRefused(t *testing.T) {
	testenv.Kernel(t)
	p := buildSource(t, "plant", plantSource)
	for _, c := range []struct {
		name string
		edit func(p *packager.Package)
		want string
	}{
		{"section", func(p *packager.Package) {
			prog(&p.Meta, "plant_egress").Attach = "tp/sched/sched_process_exec"
		}, `package.json says program plant_egress is SEC("tp/sched/sched_process_exec") but the object has it in SEC("cgroup_skb/egress")`},
		{"unlisted program", func(p *packager.Package) {
			var keep []packager.Prog
			for _, pr := range p.Meta.BpfSkel.Progs {
				if pr.Name != "plant_egress" {
					keep = append(keep, pr)
				}
			}
			p.Meta.BpfSkel.Progs = keep
		}, `the object has program plant_egress in SEC("cgroup_skb/egress") but package.json does not list it (it lists `},
		{"program the object lacks", func(p *packager.Package) {
			prog(&p.Meta, "plant_exec").Name = "plant_ghost"
		}, `package.json lists program plant_ghost in SEC("tp/sched/sched_process_exec") but the object has no such program (it has plant_QQQQQ, plant_egress, plant_exec) (and 1 more disagreement)`},
		{"map the object lacks", func(p *packager.Package) {
			p.Meta.BpfSkel.Map("plant_counts").Name = "plant_events"
		}, `package.json lists map plant_events but the object has no such map (it has `},
	} {
		t.Run(c.name, func(t *testing.T) {
			pkg := craft(t, p, c.edit)
			for _, args := range [][]string{
				{"run", "--cgroup", "/sys/fs/cgroup", pkg},
				{"run", "--dry-run", "--cgroup", "/sys/fs/cgroup", pkg},
				{"run", pkg, "--help"},
				{"inspect", pkg},
				{"inspect", "--format", "json", pkg},
			} {
				stdout, stderr, status := ecli(t, args...)
				if status != 1 || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 2 || !strings.HasPrefix(stderr, "ecli: "+pkg+": ") ||
					!strings.HasSuffix(stderr, "\necli: hint: rebuild it with ecc build, or ask its author\n") {
					t.Errorf("ecli %s: status %d, stderr:\n%s\nwant one line with %q, then the hint", strings.Join(args, " "), status, stderr, c.want)
				}
				if stdout != "" {
					t.Errorf("ecli %s printed:\n%s", strings.Join(args, " "), stdout)
				}
			}
		})
	}
	if n := kernelProgs("plant_"); len(n) > 0 {
		t.Errorf("refused packages left programs in the kernel: %v", n)
	}
}

// Cgroup programs need --cgroup; --dry-run prints the plan and loads
// nothing; a run prints one line per attachment.
func TestCgroupDryRunAndAttachLines(t *testing.T) {
	testenv.Kernel(t)
	root, err := attach.CgroupRoot()
	if err != nil {
		t.Skip(err)
	}
	pkg := craft(t, buildSource(t, "plant", plantSource), nil)

	_, stderr, status := ecli(t, "run", "-d", "1s", pkg)
	want := "ecli: program plant_egress (SEC(\"cgroup_skb/egress\")): cgroup_skb programs attach to a cgroup: pass --cgroup PATH, or --cgroup " + root + " to attach to the root cgroup (every process on the machine)\n"
	if status != 1 || stderr != want {
		t.Errorf("without --cgroup: status %d, stderr:\n%s\nwant:\n%s", status, stderr, want)
	}

	before := kernelProgs("plant_")
	stdout, stderr, status := ecli(t, "run", "--dry-run", "--cgroup", root, pkg, "--plant-pid", "7")
	if status != 0 || stderr != "" {
		t.Fatalf("--dry-run: status %d, stderr:\n%s", status, stderr)
	}
	for _, w := range []string{
		pkg + ": dry run, nothing loaded; ecli run would:\n",
		"  plant_egress → cgroup_skb/egress on cgroup " + root + "\n",
		"  plant_exec → tracepoint sched/sched_process_exec\n",
		"  plant_QQQQQ → tracepoint sched/sched_process_fork\n",
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("--dry-run output lacks %q:\n%s", w, stdout)
		}
	}
	if after := kernelProgs("plant_"); len(after) != len(before) {
		t.Errorf("--dry-run loaded programs: before %v, after %v", before, after)
	}
	stdout, _, status = ecli(t, "run", "--dry-run", "-j", "--cgroup", root, pkg)
	var plan struct {
		Programs []struct{ Name, Action, Kind, Cgroup string }
	}
	if err := json.Unmarshal([]byte(stdout), &plan); status != 0 || err != nil || len(plan.Programs) != 3 ||
		plan.Programs[1].Name != "plant_egress" || plan.Programs[1].Cgroup != root || plan.Programs[1].Action != "attach" {
		t.Errorf("--dry-run -j: status %d, %v:\n%s", status, err, stdout)
	}
	// A bad program flag fails the dry run as it fails the run: a usage
	// error, status 2.
	if _, stderr, status := ecli(t, "run", "--dry-run", "--cgroup", root, pkg, "--plant-pid", "x"); status != 2 || !strings.Contains(stderr, `got "x"`) {
		t.Errorf("--dry-run with a bad flag: status %d, %s", status, stderr)
	}

	_, stderr, status = ecli(t, "run", "-d", "300ms", "--cgroup", root, pkg)
	if status != 0 {
		t.Fatalf("run --cgroup %s: status %d\n%s", root, status, stderr)
	}
	for _, w := range []string{
		"ecli: plant_egress → cgroup_skb/egress on cgroup " + root + "\n",
		"ecli: plant_exec → tracepoint sched/sched_process_exec\n",
		"ecli: plant_QQQQQ → tracepoint sched/sched_process_fork\n",
	} {
		if strings.Count(stderr, w) != 1 {
			t.Errorf("stderr has %q %d times, want once:\n%s", w, strings.Count(stderr, w), stderr)
		}
	}
}

// Control characters in what a package says (its doc, descriptions, flag
// help, program names) are escaped in --help, inspect, --dry-run and the
// run's messages.
func TestControlCharactersEscaped(t *testing.T) {
	testenv.Kernel(t)
	root, err := attach.CgroupRoot()
	if err != nil {
		t.Skip(err)
	}
	p := buildSource(t, "plant", plantSource)
	evil := "evil\x1b[2J\x1b]0;owned\x07 text\rhidden"
	pkg := craft(t, p, func(p *packager.Package) {
		p.Object = bytes.ReplaceAll(p.Object, []byte(escapeMarker), []byte(escaped))
		prog(&p.Meta, escapeMarker).Name = escaped
		prog(&p.Meta, escaped).Description = evil
		s := &p.Meta.BpfSkel
		s.ObjName = "plant\x1b[2J_bpf"
		s.Doc = &packager.Doc{Version: "1\r2", Brief: evil, Details: "line one\n" + evil, Description: evil}
		for i := range s.DataSections {
			for j := range s.DataSections[i].Variables {
				v := &s.DataSections[i].Variables[j]
				v.Description = evil
				if v.Cmdarg != nil {
					v.Cmdarg.Help = evil
				}
			}
		}
		s.Map("plant_counts").Description = evil
	})
	for _, args := range [][]string{
		{"run", pkg, "--help"},
		{"inspect", pkg},
		{"run", "--dry-run", "--cgroup", root, pkg},
		{"run", "-d", "300ms", "--cgroup", root, pkg},
	} {
		stdout, stderr, _ := ecli(t, args...)
		t.Logf("ecli %s:\n%s%s", strings.Join(args, " "), stdout, stderr)
		all := stdout + stderr
		if strings.ContainsAny(all, "\x1b\r\x07") {
			t.Errorf("ecli %s printed control characters:\n%q", strings.Join(args, " "), all)
		}
		if !strings.Contains(all, `\x1b[2J`) {
			t.Errorf("ecli %s shows no escaped ESC:\n%s", strings.Join(args, " "), all)
		}
	}
	stdout, _, _ := ecli(t, "run", pkg, "--help")
	for _, w := range []string{`evil\x1b[2J\x1b]0;owned\x07 text\x0dhidden`, "line one\n"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("--help lacks %q:\n%s", w, stdout)
		}
	}
	stdout, _, _ = ecli(t, "inspect", pkg)
	if !strings.Contains(stdout, `plant_\x1b[2J\x0d`) {
		t.Errorf("inspect does not show the escaped program name:\n%s", stdout)
	}
}

// A Wasm program decides what it attaches while it runs: --dry-run cannot
// plan it, and says why.
func TestDryRunWasm(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.wasm")
	if err := os.WriteFile(path, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, status := ecli(t, "run", "--dry-run", path)
	if status != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "--dry-run: "+path+" is a Wasm program") {
		t.Errorf("status %d, stdout %q, stderr:\n%s", status, stdout, stderr)
	}
}
