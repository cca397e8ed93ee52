package templates

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"text/template"
)

// The `ecc init` project scaffolds. Every folder of init/ holding a
// template.json is a template; init/_shared holds the files every project
// gets (Makefile, .gitignore, the CI workflow), which a template overrides
// by shipping a file of the same path. Files are Go text/template texts with
// [[ ]] delimiters (so GitHub's ${{ }} passes through untouched), rendered
// with a ScaffoldData; "NAME" in a file or folder name becomes the project
// name; files ending in .tmpl are partials ([[define]] blocks for the
// others), not written out; a file ending in .in is written without it
// (go.mod.in → go.mod: a go.mod here would make its folder a module of its
// own, which go:embed leaves out). Adding a template is adding a folder.
//
//go:embed all:init
var initFiles embed.FS

// DefaultScaffold is the template `ecc init` uses without --template.
const DefaultScaffold = "tracepoint"

const (
	initRoot        = "init"
	sharedDir       = "_shared"
	manifestFile    = "template.json"
	partialExt      = ".tmpl"
	inExt           = ".in"
	namePlaceholder = "NAME"
	// GoVersion is the Go release the generated CI workflow sets up.
	scaffoldGoVersion = "1.26"
	// guestGoVersion is the oldest Go that builds a Go Wasm guest, for its
	// go.mod: the compiler's minGoMinor (wasip1 with go:wasmimport,
	// generics and the structs package).
	guestGoVersion = "1.23"
)

// Scaffold is one project template.
type Scaffold struct {
	// Name is the template's name, its folder under init/.
	Name string `json:"-"`
	// Description is a one-line summary for `ecc init --list`.
	Description string `json:"description"`
	// RunFlags are the ecli flags a run needs, e.g. "--ifname lo"
	// (they go before the package).
	RunFlags string `json:"run_flags,omitempty"`
	// Args are example program flags (they go after the package).
	Args string `json:"args,omitempty"`
	// Build, when set, are the arguments of `ecc build` after its flags
	// (NAME stands for the project name), e.g. "--wasm main.c"; by default
	// NAME.bpf.c, and NAME.h when the template has one.
	Build string `json:"build,omitempty"`
	// Package, when set, is what `ecli run` runs, relative to the project
	// (NAME stands for the project name); by default build/package.json.
	Package string `json:"package,omitempty"`
	// NoKernelTest, when set, says why `ecc test` cannot run the package
	// in a VM as it is (a uprobe's target comes from ecli run's flags):
	// the project then gets no kernel tests.
	NoKernelTest string `json:"no_kernel_test,omitempty"`
}

// DefaultKernels are the kernels a new project's CI and `make
// test-kernels` test the package on: kernel images in cilium/ci-kernels'
// layout (/boot/vmlinuz in the image, tagged by kernel version), the
// long-term releases that most distributions ship.
var DefaultKernels = []string{"ghcr.io/cilium/ci-kernels:6.1", "ghcr.io/cilium/ci-kernels:6.6"}

// ScaffoldData is what a template's files are rendered with.
type ScaffoldData struct {
	Name        string // project name, of files, folder and package: my-probe
	Ident       string // the name as a C identifier: my_probe
	Upper       string // MY_PROBE, for macros and include guards
	Template    string // template name
	Description string // the template's one-line description
	Header      string // NAME.h when the template has an export header, else ""
	Sources     string // the arguments of ecc build: "NAME.bpf.c [NAME.h]"
	Package     string // what ecli runs: build/package.json
	RunFlags    string // ecli flags a run needs (Scaffold.RunFlags)
	Args        string // example program flags (Scaffold.Args)
	GoVersion   string // Go release for CI
	GuestGo     string // the oldest Go release a Go Wasm guest builds with, for its go.mod
	Module      string // ecc's Go module, for go install
	EccVersion  string // the version of ecc the CI workflow installs (Options.EccVersion)
	// Kernels are what `ecc test` boots in CI and `make test-kernels`,
	// space-separated (DefaultKernels); "" when the template has
	// NoKernelTest.
	Kernels string
	// KernelLines are the Kernels one per line, indented for the
	// workflow's KERNELS.
	KernelLines string
	// BPFPackage is the BPF package ecc test runs: build/package.json
	// (a Wasm project's too: its BPF side).
	BPFPackage string
	// NoKernelTest says why the project has no kernel tests
	// (Scaffold.NoKernelTest), "" when it has.
	NoKernelTest string
	// Wasm is set for projects with a Wasm user-space program.
	Wasm bool
	// BuildTools says what BuildPackages, the Debian packages a build
	// needs, are.
	BuildTools, BuildPackages string
}

// Options are the choices of the one who renders a project.
type Options struct {
	// EccVersion is the version of ecc that the project's CI workflow and
	// README install (go install MODULE/cmd/ecc@EccVersion): the one that
	// generates the project, so that CI builds as it does. "" is latest.
	EccVersion string
}

// File is one rendered file of a project.
type File struct {
	Path string // slash-separated, relative to the project folder
	Data []byte
}

var nameRE = regexp.MustCompile(`^[a-z]([a-z0-9_-]*[a-z0-9_])?$`)

// ValidName reports whether name can name a project: it becomes the names
// of files, of the folder and of the package (and of its OCI repository,
// which takes lower case only), and, with - as _, C identifiers. So it is
// lower-case letters, digits, _ and -, starting with a letter.
func ValidName(name string) error {
	if len(name) > 64 {
		return fmt.Errorf("project name %q is too long (at most 64 characters)", name)
	}
	if !nameRE.MatchString(name) {
		hint := strings.Trim(strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
				return r
			case r >= 'A' && r <= 'Z':
				return r + ('a' - 'A')
			}
			return '_'
		}, name), "_-0123456789")
		msg := fmt.Sprintf("invalid project name %q: use lower-case letters, digits, - and _, starting with a letter", name)
		if hint != "" && nameRE.MatchString(hint) {
			msg += fmt.Sprintf(" (e.g. %q)", hint)
		}
		return errors.New(msg)
	}
	return nil
}

var loadScaffolds = sync.OnceValues(func() ([]Scaffold, error) {
	ents, err := fs.ReadDir(initFiles, initRoot)
	if err != nil {
		return nil, err
	}
	var out []Scaffold
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), "_") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := fs.ReadFile(initFiles, path.Join(initRoot, e.Name(), manifestFile))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		s := Scaffold{Name: e.Name()}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return nil, fmt.Errorf("template %s: %s: %w", e.Name(), manifestFile, err)
		}
		if s.Description == "" || strings.Contains(s.Description, "\n") {
			return nil, fmt.Errorf("template %s: %s needs a one-line description", e.Name(), manifestFile)
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
})

// Scaffolds lists the templates of `ecc init`, by name.
func Scaffolds() []Scaffold {
	s, err := loadScaffolds()
	if err != nil {
		panic("templates: embedded init templates: " + err.Error())
	}
	return s
}

// LookupScaffold finds a template by name.
func LookupScaffold(name string) (Scaffold, error) {
	var names []string
	for _, s := range Scaffolds() {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Scaffold{}, fmt.Errorf("unknown template %q; the templates are %s (ecc init --list describes them)", name, strings.Join(names, ", "))
}

// ScaffoldFor returns what the files of template tmpl are rendered with for
// a project called name; o may be nil.
func ScaffoldFor(tmpl, name string, o *Options) (ScaffoldData, error) {
	if err := ValidName(name); err != nil {
		return ScaffoldData{}, err
	}
	s, err := LookupScaffold(tmpl)
	if err != nil {
		return ScaffoldData{}, err
	}
	ident := strings.ReplaceAll(name, "-", "_")
	d := ScaffoldData{
		Name:        name,
		Ident:       ident,
		Upper:       strings.ToUpper(ident),
		Template:    s.Name,
		Description: s.Description,
		Sources:     name + ".bpf.c",
		Package:     "build/package.json",
		RunFlags:    s.RunFlags,
		Args:        s.Args,
		GoVersion:   scaffoldGoVersion,
		GuestGo:     guestGoVersion,
		Module:      "github.com/ecc-bpf/ecc",
		EccVersion:  "latest",
		BPFPackage:  "build/package.json",
	}
	if d.NoKernelTest = s.NoKernelTest; d.NoKernelTest == "" {
		d.Kernels = strings.Join(DefaultKernels, " ")
		d.KernelLines = strings.Join(DefaultKernels, "\n    ")
	}
	d.Wasm = strings.Contains(s.Build, "--wasm")
	d.BuildTools, d.BuildPackages = "clang, llvm and the libbpf headers", "clang llvm libbpf-dev"
	if d.Wasm {
		d.BuildTools, d.BuildPackages = "clang, llvm, the libbpf headers and the wasm32 toolchain", d.BuildPackages+" lld wasi-libc libclang-rt-dev-wasm32"
	}
	if o != nil && o.EccVersion != "" {
		d.EccVersion = o.EccVersion
	}
	if _, err := fs.Stat(initFiles, path.Join(initRoot, s.Name, namePlaceholder+".h")); err == nil {
		d.Header = name + ".h"
		d.Sources += " " + d.Header
	}
	if s.Build != "" {
		d.Sources = strings.ReplaceAll(s.Build, namePlaceholder, name)
	}
	if s.Package != "" {
		d.Package = strings.ReplaceAll(s.Package, namePlaceholder, name)
	}
	return d, nil
}

// RenderFiles renders template tmpl for a project called name, in memory,
// sorted by path; o may be nil.
func RenderFiles(tmpl, name string, o *Options) ([]File, error) {
	d, err := ScaffoldFor(tmpl, name, o)
	if err != nil {
		return nil, err
	}
	// Sources: shared files, then the template's, which win.
	sources := map[string]string{} // output path (with NAME) -> embedded path
	var partials []string
	for _, dir := range []string{sharedDir, d.Template} {
		root := path.Join(initRoot, dir)
		err := fs.WalkDir(initFiles, root, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			rel := strings.TrimPrefix(p, root+"/")
			switch {
			case rel == manifestFile:
			case strings.HasSuffix(rel, partialExt):
				partials = append(partials, p)
			default:
				sources[rel] = p
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", d.Template, err)
		}
	}
	base := template.New("").Delims("[[", "]]").Option("missingkey=error")
	for _, p := range partials {
		b, err := fs.ReadFile(initFiles, p)
		if err != nil {
			return nil, err
		}
		if _, err := base.New(p).Parse(string(b)); err != nil {
			return nil, fmt.Errorf("template %s: %w", d.Template, err)
		}
	}
	var out []File
	for rel, p := range sources {
		b, err := fs.ReadFile(initFiles, p)
		if err != nil {
			return nil, err
		}
		t, err := base.Clone()
		if err == nil {
			t, err = t.New(p).Parse(string(b))
		}
		var buf bytes.Buffer
		if err == nil {
			err = t.Execute(&buf, d)
		}
		if err != nil {
			return nil, fmt.Errorf("template %s: render %s: %w", d.Template, rel, err)
		}
		out = append(out, File{Path: strings.TrimSuffix(strings.ReplaceAll(rel, namePlaceholder, name), inExt), Data: buf.Bytes()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Render creates the project name from template tmpl in dir. dir must not
// exist or be an empty folder; nothing is left behind on error (the files
// are written to a temporary folder next to dir, then renamed). o may be
// nil.
func Render(tmpl, name, dir string, o *Options) error {
	files, err := RenderFiles(tmpl, name, o)
	if err != nil {
		return err
	}
	return WriteProject(dir, files)
}

// WriteProject writes files into dir, which must not exist or be empty: all
// or nothing.
func WriteProject(dir string, files []File) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	st, err := os.Stat(abs)
	switch {
	case err == nil && !st.IsDir():
		return fmt.Errorf("%s exists and is not a folder", dir)
	case err == nil:
		ents, err := os.ReadDir(abs)
		if err != nil {
			return err
		}
		if len(ents) > 0 {
			return fmt.Errorf("%s already exists and is not empty; ecc init never overwrites files: choose another NAME or -o DIR", dir)
		}
		return fillEmpty(abs, files)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	parent := filepath.Dir(abs)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(abs)+".ecc-init-")
	if err != nil {
		return err
	}
	if err := writeFiles(tmp, files); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, abs); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return nil
}

// fillEmpty writes files into the existing empty folder dir (which may be
// the working directory, so it is kept): staged in a hidden folder inside
// it, then moved up entry by entry.
func fillEmpty(dir string, files []File) error {
	stage, err := os.MkdirTemp(dir, ".ecc-init-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	if err := writeFiles(stage, files); err != nil {
		return err
	}
	ents, err := os.ReadDir(stage)
	if err != nil {
		return err
	}
	var moved []string
	for _, e := range ents {
		dst := filepath.Join(dir, e.Name())
		if err := os.Rename(filepath.Join(stage, e.Name()), dst); err != nil {
			for _, m := range moved {
				os.RemoveAll(m)
			}
			return fmt.Errorf("create %s: %w", dst, err)
		}
		moved = append(moved, dst)
	}
	return nil
}

func writeFiles(root string, files []File) error {
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
