package ecc

import (
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// module is this repository's module path.
const module = "github.com/ecc-bpf/ecc"

// rules are the layers of DESIGN.md ("Layout"): the packages under a
// folder (the key) must not link any package under the folders it lists,
// directly or through other packages. Only what the packages build into
// counts: tests may use anything (runtime's tests build their programs
// with the compiler).
var rules = []struct {
	under  string
	not    []string
	reason string
}{
	{"compiler", []string{"runtime", "vm"}, "the compiler builds packages; it does not run them"},
	{"registry", []string{"runtime", "vm"}, "the registry moves packages; it does not run them"},
	{"runtime", []string{"compiler", "registry", "source", "vm"}, "runtime runs what package source resolved: runtime.Run takes the name and the package; in a test VM it is the guest, which shares only internal/vmproto with the host"},
	{"runtime", []string{"deploy", "k8s.io"}, "runtime runs packages on a host; Kubernetes manifests are ecc deploy's"},
	{"deploy", []string{"compiler", "registry", "runtime", "source", "vm"}, "deploy writes manifests from a package already read: the command resolves it, the nodes' ecli runs it"},
	{"vm", []string{"runtime", "compiler"}, "ecc test boots VMs on the host; the guest side is ecli (runtime/vmguest), and packages come built"},
	{"source", []string{"compiler", "runtime", "vm"}, "source resolves a PACKAGE argument for ecli run and both inspects, below the compiler and the runtime"},
	{"packager", []string{"compiler", "registry", "runtime", "source", "vm"}, "the package model and metadata extraction serve every layer above them"},
	{"decode", []string{"compiler", "registry", "runtime", "source", "packager", "vm"}, "the BTF value decoder serves metadata extraction and runtime output alike"},
	{"runtime/metrics", []string{"runtime/loader", "runtime/attach", "runtime/progflags", "runtime/wasm", "decode", "packager", "source"}, "metrics turns the numbers the runtime reads and decodes into Prometheus metrics; it reads no map and decodes nothing itself"},
	{"internal", []string{"compiler", "registry", "runtime", "source", "packager", "decode", "vm", "cmd"}, "internal holds the small helpers every layer may use"},
}

// linksNot are commands that must not link any package under a folder.
var linksNot = []struct{ cmd, not, reason string }{
	{"cmd/ecli", "compiler", "ecli runs packages; it never compiles"},
	{"cmd/ecli", "vm", "ecli is the guest of a test VM, never its host"},
	{"cmd/ecli", "packager/ociimage", "ecli is what the image holds; ecc ecli-image builds it"},
	{"cmd/ecli", "packager/attest/statement", "ecli lists and reads attestations (packager/attest); writing them, with protobuf and SPDX code, is ecc's"},
	{"cmd/ecli", "deploy", "ecli runs in the pods ecc deploy describes; it writes no manifests"},
	{"cmd/ecli", "k8s.io", "ecli stays small: the Kubernetes API types are ecc deploy's"},
}

// graph is the import graph of the module's packages and their
// dependencies, without tests, as go list reports it.
type graph map[string][]string

func loadGraph(t *testing.T) graph {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", "./...").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	g := graph{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) > 0 {
			g[f[0]] = f[1:]
		}
	}
	if len(g[module+"/runtime"]) == 0 {
		t.Fatalf("go list does not show %s/runtime's imports:\n%s", module, out)
	}
	return g
}

// under reports whether pkg is dir (relative to the module, or another
// module's path such as k8s.io, whose first element has a dot) or below it.
func under(pkg, dir string) bool {
	p := module + "/" + dir
	if first, _, _ := strings.Cut(dir, "/"); strings.Contains(first, ".") {
		p = dir
	}
	return pkg == p || strings.HasPrefix(pkg, p+"/")
}

// path returns an import chain from pkg to a package under dir, or nil.
func (g graph) path(pkg, dir string) []string {
	prev := map[string]string{pkg: ""}
	queue := []string{pkg}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, q := range g[p] {
			if _, seen := prev[q]; seen {
				continue
			}
			prev[q] = p
			if under(q, dir) {
				chain := []string{q}
				for r := p; r != ""; r = prev[r] {
					chain = append(chain, r)
				}
				slices.Reverse(chain)
				return chain
			}
			queue = append(queue, q)
		}
	}
	return nil
}

func (g graph) violations() []string {
	var out []string
	pkgs := make([]string, 0, len(g))
	for p := range g {
		if p == module || strings.HasPrefix(p, module+"/") {
			pkgs = append(pkgs, p)
		}
	}
	slices.Sort(pkgs)
	for _, r := range rules {
		for _, p := range pkgs {
			if !under(p, r.under) {
				continue
			}
			for _, not := range r.not {
				if chain := g.path(p, not); chain != nil {
					out = append(out, short(chain)+": "+r.under+"/ must not link "+not+"/ ("+r.reason+")")
				}
			}
		}
	}
	for _, l := range linksNot {
		if chain := g.path(module+"/"+l.cmd, l.not); chain != nil {
			out = append(out, short(chain)+": "+l.cmd+" must not link "+l.not+"/ ("+l.reason+")")
		}
	}
	return out
}

func short(chain []string) string {
	s := make([]string, len(chain))
	for i, p := range chain {
		s[i] = strings.TrimPrefix(p, module+"/")
	}
	return strings.Join(s, " → ")
}

// The layers hold: no package links one it must not, and ecli links no
// compiler package.
func TestLayers(t *testing.T) {
	g := loadGraph(t)
	for _, r := range rules {
		if !slices.ContainsFunc(slices.Collect(maps.Keys(g)), func(p string) bool { return under(p, r.under) }) {
			t.Errorf("no package under %s/: the rule for it checks nothing", r.under)
		}
	}
	for _, v := range g.violations() {
		t.Error(v)
	}
}

// The check itself finds a forbidden import, however deep.
func TestLayersCatch(t *testing.T) {
	g := graph{
		module + "/runtime":          {module + "/runtime/loader"},
		module + "/runtime/loader":   {module + "/internal/bpfobj", module + "/packager/extract"},
		module + "/packager/extract": {module + "/registry"},
		module + "/registry":         {"oras.land/oras-go/v2"},
		module + "/cmd/ecli":         {module + "/runtime"},
	}
	got := strings.Join(g.violations(), "\n")
	for _, want := range []string{
		"runtime → runtime/loader → packager/extract → registry: runtime/ must not link registry/",
		"runtime/loader → packager/extract → registry: runtime/ must not link registry/",
		"packager/extract → registry: packager/ must not link registry/",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("violations lack %q:\n%s", want, got)
		}
	}
	g[module+"/runtime/loader"] = append(g[module+"/runtime/loader"], "k8s.io/api/core/v1")
	if got := strings.Join(g.violations(), "\n"); !strings.Contains(got, "runtime → runtime/loader → k8s.io/api/core/v1: runtime/ must not link k8s.io/") ||
		!strings.Contains(got, "cmd/ecli → runtime → runtime/loader → k8s.io/api/core/v1: cmd/ecli must not link k8s.io/") {
		t.Errorf("linking k8s.io is not caught:\n%s", got)
	}
	g[module+"/runtime/loader"] = append(g[module+"/runtime/loader"], module+"/compiler/vmlinux")
	if got := strings.Join(g.violations(), "\n"); !strings.Contains(got, "cmd/ecli → runtime → runtime/loader → compiler/vmlinux: cmd/ecli must not link compiler/") {
		t.Errorf("ecli linking the compiler is not caught:\n%s", got)
	}
}
