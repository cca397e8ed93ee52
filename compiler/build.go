package compiler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/ecc-bpf/ecc/compiler/buildcache"
	"github.com/ecc-bpf/ecc/compiler/elfstrip"
	"github.com/ecc-bpf/ecc/compiler/vmlinux"
	"github.com/ecc-bpf/ecc/internal/bpfobj"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/packager/attest"
	"github.com/ecc-bpf/ecc/packager/extract"
	"github.com/ecc-bpf/ecc/packager/progscan"
	"github.com/ecc-bpf/ecc/packager/section"
	"github.com/ecc-bpf/ecc/templates"
)

// DefaultBTF is where the running kernel exposes its BTF.
const DefaultBTF = "/sys/kernel/btf/vmlinux"

// Output file names in a build folder.
const (
	PackageFile = "package.json"
	ObjSuffix   = ".bpf.o"
	SkelSuffix  = ".skel.json"
)

// Options configures a build. Source is required; the rest have defaults.
type Options struct {
	// Source is the kernel-side C file, NAME.bpf.c.
	Source string
	// ExportHeader optionally names a header whose structs are the events
	// the program sends to user space.
	ExportHeader string
	// OutDir receives NAME.bpf.o, NAME.skel.json and package.json; default:
	// the source's folder. Extra architectures go to OutDir/ARCH/.
	OutDir string
	// Clang is a clang command or path; default: ECC_CLANG, then the newest found.
	Clang string
	// CFlags are extra flags for clang, after ours.
	CFlags []string
	// Arches to build for; default: the host's.
	Arches []Arch
	// BTF maps an architecture name to a BTF file (raw BTF or an ELF with
	// .BTF) for vmlinux.h; the "" key applies to every architecture.
	// Default: /sys/kernel/btf/vmlinux.
	BTF map[string]string
	// NoCache forces a build even when the cache holds the result.
	NoCache bool
	// CacheDir holds vmlinux.h files, build headers and cached builds;
	// default: DefaultCacheDir().
	CacheDir string
	// Stderr receives clang's diagnostics and notices; default os.Stderr.
	Stderr io.Writer
	// Verbose, when set, receives the commands run.
	Verbose io.Writer
	// Color asks clang for colored diagnostics.
	Color bool
	// BTFGen are kernels (raw BTF, a vmlinux ELF, a vmlinuz or a
	// linux-image-*.deb) whose BTF, cut down to what the object's CO-RE
	// relocations need, the package carries for kernels without BTF of
	// their own (`--btfgen`). Each goes to the build of its architecture.
	BTFGen []string
	// KernelNames names BTFGen files in errors and outputs as the user
	// gave them, when that was not the path (a kernel image REF pulled
	// into a cache file); paths not in it are named as they are.
	KernelNames map[string]string
	// Builder names the ecc doing the build (version, commit) in the
	// build's materials; default: "ecc", version "devel".
	Builder attest.Tool
}

// Output is what one architecture's build produced.
type Output struct {
	Arch    Arch
	Dir     string
	Object  string
	Skel    string
	Package string
	Cached  bool
	// Took is the time this architecture took.
	Took time.Duration
	// Clang is the compiler used.
	Clang *Clang
	// BTF lists the kernels' BTF put in the package (BTFGen), when
	// built rather than taken from the cache.
	BTF []KernelBTFOutput
	// Materials are the build's inputs (source, headers, flags, clang,
	// BTF), the same for a cached build; MaterialsFile is where they were
	// written (attest.MaterialsFile beside package.json).
	Materials     *attest.Materials
	MaterialsFile string
}

// Result is a build's outcome.
type Result struct {
	Name    string
	Outputs []Output
}

// ClangError is returned when clang fails; its diagnostics were already
// written to Options.Stderr.
type ClangError struct {
	Source string
	Status int
}

func (e *ClangError) Error() string {
	return fmt.Sprintf("clang failed to compile %s (exit status %d; diagnostics above)", e.Source, e.Status)
}

// DefaultCacheDir is ECC_CACHE_DIR, else the user's cache dir + /ecc.
func DefaultCacheDir() string {
	if d := os.Getenv("ECC_CACHE_DIR"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "ecc")
	}
	return filepath.Join(os.TempDir(), "ecc-cache")
}

// NameOf returns NAME for NAME.bpf.c: the file name up to the first dot.
func NameOf(source string) string { return packager.NameOf(source) }

type builder struct {
	o       *Options
	src     string // absolute source path
	srcText []byte
	hdr     string
	hdrText []byte
	structs []string
	// own: without an export header, the structs the program defines.
	own      []string
	name     string
	clang    *Clang
	include  string
	cache    *buildcache.Cache
	selfID   string
	notes    io.Writer
	btfCache map[string]*btfInfo
	// kernelList holds the BTFGen kernels once read.
	kernelList []*kernel
}

// withDefaults returns a copy of o with the defaults filled in: the
// caller's Options are never modified.
func (o *Options) withDefaults() *Options {
	c := *o
	if c.CacheDir == "" {
		c.CacheDir = DefaultCacheDir()
	}
	return &c
}

// Build compiles the source for each architecture and writes the package files.
// On error no output file is left behind, nor any folder Build created.
// Programs in sections neither libbpf nor ecli knows fail the build with
// a *section.UnknownError that suggests the closest known name. The caller's Options are not
// modified.
func Build(ctx context.Context, opts *Options) (*Result, error) {
	o := opts.withDefaults()
	b := &builder{o: o, notes: o.Stderr, btfCache: map[string]*btfInfo{}}
	if b.notes == nil {
		b.notes = os.Stderr
	}
	if err := b.prepare(); err != nil {
		return nil, err
	}
	arches := o.Arches
	if len(arches) == 0 {
		arches = []Arch{HostArch()}
	}
	res := &Result{Name: b.name}
	// On error, the files written and the folders created go: a failed
	// build leaves the output folder as it found it, or not at all.
	var written, created []string
	fail := func(err error) (*Result, error) {
		for _, f := range written {
			os.Remove(f)
		}
		for i := len(created) - 1; i >= 0; i-- {
			os.Remove(created[i]) // only if empty
		}
		return nil, err
	}
	for i, a := range arches {
		dir := b.outDir()
		if i > 0 {
			dir = filepath.Join(dir, a.Name)
		}
		dirs, err := mkdirNew(dir)
		created = append(created, dirs...)
		if err != nil {
			return fail(fmt.Errorf("output folder: %w", err))
		}
		out, files, err := b.buildArch(ctx, a, dir, len(arches) == 1)
		written = append(written, files...)
		if err == nil && i == len(arches)-1 {
			// A --btfgen kernel no architecture took.
			err = b.unusedKernels(arches)
		}
		if err != nil {
			return fail(err)
		}
		res.Outputs = append(res.Outputs, *out)
	}
	return res, nil
}

// mkdirNew creates dir and its missing parents, as os.MkdirAll, and
// returns the folders that did not exist before, parents first (also on
// error: some may have been created).
func mkdirNew(dir string) ([]string, error) {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); !errors.Is(err, os.ErrNotExist) {
			break
		}
		missing = append([]string{d}, missing...)
		if filepath.Dir(d) == d {
			break
		}
	}
	return missing, os.MkdirAll(dir, 0o755)
}

func (b *builder) outDir() string {
	if b.o.OutDir != "" {
		return b.o.OutDir
	}
	return filepath.Dir(b.src)
}

var binaryRE = regexp.MustCompile(`[\x00]`)

func (b *builder) prepare() error {
	o := b.o
	if o.Source == "" {
		return errors.New("no source file given; usage: ecc build NAME.bpf.c [EXPORT_HEADER.h]")
	}
	src, err := filepath.Abs(o.Source)
	if err != nil {
		return err
	}
	b.src = src
	st, err := os.Stat(src)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("source %s: no such file; check the path", o.Source)
	case err != nil:
		return fmt.Errorf("source %s: %w", o.Source, err)
	case st.IsDir():
		return fmt.Errorf("source %s is a directory; pass the NAME.bpf.c file inside it", o.Source)
	case !strings.HasSuffix(src, ".c"):
		return fmt.Errorf("source %s is not a C file; ecc build takes a NAME.bpf.c source", o.Source)
	}
	if b.srcText, err = os.ReadFile(src); err != nil {
		return fmt.Errorf("source %s: %w", o.Source, err)
	}
	if binaryRE.Match(b.srcText) {
		return fmt.Errorf("source %s is not a C file (it holds binary data); ecc build takes a NAME.bpf.c source", o.Source)
	}
	b.name = NameOf(src)
	if b.name == "" {
		return fmt.Errorf("source %s: cannot derive a program name from the file name; call it NAME.bpf.c", o.Source)
	}
	if o.ExportHeader != "" {
		if b.hdr, err = filepath.Abs(o.ExportHeader); err != nil {
			return err
		}
		st, err := os.Stat(b.hdr)
		switch {
		case err != nil:
			return fmt.Errorf("export header %s: no such file; check the path or leave it out", o.ExportHeader)
		case st.IsDir():
			return fmt.Errorf("export header %s is a directory; pass the .h file", o.ExportHeader)
		}
		if b.hdrText, err = os.ReadFile(b.hdr); err != nil {
			return fmt.Errorf("export header %s: %w", o.ExportHeader, err)
		}
		b.structs = extract.HeaderStructs(b.hdrText)
		if len(b.structs) == 0 {
			// Enums and macros only: events are then printed as hex
			// unless the source binds a struct with ECC_EXPORT.
			fmt.Fprintf(b.notes, "ecc: warning: export header %s: %v (only enums, macros or typedefs); events are not decoded unless a struct is defined there or bound with ECC_EXPORT\n", o.ExportHeader, extract.ErrNoStruct)
		}
	}
	if b.cache, err = buildcache.Open(filepath.Join(o.CacheDir, "build")); err != nil {
		return err
	}
	if b.clang, err = FindClang(o.Clang, o.CacheDir); err != nil {
		return err
	}
	if usesLibbpf(b.srcText) && !hasLibbpf(b.clang.IncludeDirs) {
		return fmt.Errorf("libbpf headers not found (bpf/bpf_helpers.h is in none of %s); install them: apt-get install libbpf-dev", strings.Join(b.clang.IncludeDirs, ", "))
	}
	if b.include, err = templates.ExtractInclude(o.CacheDir); err != nil {
		return err
	}
	b.selfID = selfID()
	return nil
}

func usesLibbpf(src []byte) bool {
	return bytes.Contains(src, []byte("<bpf/")) || bytes.Contains(src, []byte(`"bpf/`))
}

func hasLibbpf(dirs []string) bool {
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "bpf", "bpf_helpers.h")); err == nil {
			return true
		}
	}
	return false
}

// selfID identifies this ecc binary, so that a new ecc never reuses builds
// (and metadata) of an older one.
func selfID() string {
	exe, err := os.Executable()
	if err != nil {
		return "unknown"
	}
	st, err := os.Stat(exe)
	if err != nil {
		return exe
	}
	return fmt.Sprintf("%s|%d|%d", exe, st.Size(), st.ModTime().UnixNano())
}

func (b *builder) clangArgs(a Arch, bi *btfInfo, input, obj, deps string) []string {
	// No -mcpu: clang's default, what most programs were written and
	// verified against (see docs/guide.md on --cflags -mcpu=v3).
	args := []string{"-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_" + a.Target}
	if bi.foreign {
		args = append(args, "-D__ECC_FOREIGN_BTF")
	}
	args = append(args, "-I"+filepath.Dir(b.src), "-I"+b.include, "-I"+bi.dir)
	for _, d := range b.clang.IncludeDirs {
		args = append(args, "-idirafter", d)
	}
	args = append(args, b.o.CFlags...)
	if b.o.Color {
		args = append(args, "-fcolor-diagnostics")
	}
	if deps != "" {
		args = append(args, "-MD", "-MF", deps)
	}
	return append(args, "-c", input, "-o", obj)
}

// BareClangArgs returns the clang command line ecc runs for a source, without
// the dependency file: what a user would type by hand (for benchmarks).
func BareClangArgs(o *Options) (string, []string, error) {
	b := &builder{o: o.withDefaults(), notes: io.Discard, btfCache: map[string]*btfInfo{}}
	if b.o.Stderr == nil {
		b.o.Stderr = io.Discard
	}
	if err := b.prepare(); err != nil {
		return "", nil, err
	}
	a := HostArch()
	bi, err := b.btf(a)
	if err != nil {
		return "", nil, err
	}
	return b.clang.Path, b.clangArgs(a, bi, b.src, "/dev/null", ""), nil
}

func (b *builder) buildArch(ctx context.Context, a Arch, dir string, single bool) (*Output, []string, error) {
	start := time.Now()
	bi, err := b.btf(a)
	if err != nil {
		return nil, nil, err
	}
	out := &Output{Arch: a, Dir: dir, Clang: b.clang,
		Object:        filepath.Join(dir, b.name+ObjSuffix),
		Skel:          filepath.Join(dir, b.name+SkelSuffix),
		Package:       filepath.Join(dir, PackageFile),
		MaterialsFile: filepath.Join(dir, attest.MaterialsFile),
	}
	key := buildcache.Key([]byte("ecc-build-3"), []byte(b.selfID), []byte(b.clang.id),
		// What the materials name besides contents: a cached build
		// reports the same materials (attest.MaterialsFile).
		[]byte(bi.path), []byte(b.builder().Name+"\x00"+b.builder().Version+"\x00"+b.builder().Commit),
		[]byte(a.Name), []byte(bi.digest), []byte(vmlinux.FormatVersion), []byte(templates.IncludeDigest()),
		[]byte(strings.Join(b.o.CFlags, "\x00")), []byte(b.src), b.srcText,
		[]byte(b.hdr), b.hdrText, b.btfgenKey())
	names := []string{b.name + ObjSuffix, b.name + SkelSuffix, PackageFile, attest.MaterialsFile}
	if !b.o.NoCache {
		if e, ok := b.cache.Get(key); ok {
			files, err := installOutputs(e, names, dir)
			if err == nil {
				out.Materials, err = attest.ReadMaterials(out.MaterialsFile)
			}
			if err != nil {
				return nil, nil, err
			}
			out.Cached, out.Took = true, time.Since(start)
			return out, files, nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("output folder: %w", err)
	}
	work, err := os.MkdirTemp(b.o.CacheDir, ".work-")
	if err != nil {
		return nil, nil, fmt.Errorf("work folder: %w", err)
	}
	defer os.RemoveAll(work)

	// Without an export header, a second pass keeps the program's own
	// structs in BTF when a buffer is left without one: structs used only
	// on the stack have no BTF, and the buffer could not be bound to them.
	var (
		objBytes []byte
		m        *packager.Meta
		deps     []buildcache.Dep
		own      []string
		obj      = filepath.Join(work, names[0])
	)
	for pass := 0; ; pass++ {
		objBytes, deps, err = b.compileObject(ctx, a, bi, work, obj, own)
		if err != nil {
			return nil, nil, err
		}
		if pass == 0 {
			if err := checkSections(objBytes); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", b.o.Source, err)
			}
		}
		in := &extract.Input{
			Object: objBytes, Name: b.name,
			Source: b.o.Source, SourceText: b.srcText,
			Header: b.o.ExportHeader, HeaderStructs: b.structs, HeaderText: b.hdrText,
			OwnStructs: own,
			Warn:       func(msg string) { fmt.Fprintf(b.notes, "ecc: warning: %s\n", msg) },
			Info: func(msg string) {
				if b.o.Verbose != nil {
					fmt.Fprintf(b.o.Verbose, "ecc: %s\n", msg)
				}
			},
		}
		if pass == 0 && b.hdr == "" && unboundBuffer(objBytes) {
			if own = ownStructs(b.src, b.srcText); len(own) > 0 {
				continue
			}
		}
		if m, err = extract.Extract(in); err != nil {
			return nil, nil, err
		}
		break
	}
	m.Arch = a.Name
	skel, err := packager.MarshalMeta(m)
	if err != nil {
		return nil, nil, err
	}
	kbtf, stats, err := b.kernelBTF(a, objBytes, single)
	if err != nil {
		return nil, nil, err
	}
	out.BTF = stats
	pkg, err := (&packager.Package{Object: objBytes, Meta: *m, BTF: kbtf}).Marshal()
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(work, names[1]), skel, 0o644); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(work, names[2]), pkg, 0o644); err != nil {
		return nil, nil, err
	}
	mats, err := b.materials(a, bi, objBytes, deps, kbtf, start)
	if err != nil {
		return nil, nil, err
	}
	matsData, err := mats.Marshal()
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(work, names[3]), matsData, 0o644); err != nil {
		return nil, nil, err
	}
	out.Materials = mats
	e, err := b.cache.Put(key, map[string]string{
		names[0]: obj, names[1]: filepath.Join(work, names[1]), names[2]: filepath.Join(work, names[2]),
		names[3]: filepath.Join(work, names[3]),
	}, deps)
	if err != nil {
		return nil, nil, err
	}
	files, err := installOutputs(e, names, dir)
	if err != nil {
		return nil, nil, err
	}
	out.Took = time.Since(start)
	return out, files, nil
}

// compileObject runs clang (through a wrapper that keeps the export
// header's structs, or the program's own structs, in BTF) and strips
// DWARF from the object; it returns the object and the included files.
func (b *builder) compileObject(ctx context.Context, a Arch, bi *btfInfo, work, obj string, own []string) ([]byte, []buildcache.Dep, error) {
	input := b.src
	wrapper := ""
	if b.hdr != "" || len(own) > 0 {
		// Keep the structs alive in BTF with an unused pointer, eunomia's
		// way, without touching the user's file.
		wrapper = filepath.Join(work, b.name+".ecc.c")
		var w bytes.Buffer
		fmt.Fprintf(&w, "#include %q\n", b.src)
		for _, s := range b.structs {
			fmt.Fprintf(&w, "struct %s *%s%s_ptr __attribute__((unused));\n", s, extract.DummyPrefix, s)
		}
		for _, s := range own {
			fmt.Fprintf(&w, "struct %s *%s%s_ptr __attribute__((unused));\n", s, extract.OwnPrefix, s)
		}
		if err := os.WriteFile(wrapper, w.Bytes(), 0o644); err != nil {
			return nil, nil, err
		}
		input = wrapper
	}
	depFile := filepath.Join(work, "deps.d")
	args := b.clangArgs(a, bi, input, obj, depFile)
	if err := b.run(ctx, b.clang.Path, args, wrapper); err != nil {
		return nil, nil, err
	}
	objBytes, err := os.ReadFile(obj)
	if err != nil {
		return nil, nil, err
	}
	// DWARF out, BTF kept: what llvm-strip --strip-debug does, in-process.
	if objBytes, err = elfstrip.StripDebug(objBytes); err != nil {
		return nil, nil, fmt.Errorf("strip DWARF from %s: %w", filepath.Base(obj), err)
	}
	if err := os.WriteFile(obj, objBytes, 0o644); err != nil {
		return nil, nil, err
	}
	deps, err := readDeps(depFile, wrapper)
	if err != nil {
		return nil, nil, err
	}
	return objBytes, deps, nil
}

// checkSections refuses programs in sections that neither libbpf nor ecli
// knows (a misspelt SEC("tracepont/...")): ecli would skip them at run
// time, so the build says so now, with the closest known name.
func checkSections(object []byte) error {
	spec, err := bpfobj.LoadSpec(object)
	if err != nil {
		return nil // extract reports unreadable objects
	}
	return section.Check(spec)
}

// unboundBuffer reports whether the object has a ring buffer or perf event
// array that no ECC_EXPORT binds and that its programs submit records of
// a constant size to: one the program's own structs may describe.
func unboundBuffer(object []byte) bool {
	spec, err := bpfobj.LoadSpec(object)
	if err != nil {
		return false
	}
	scan := progscan.Scan(spec)
	for name, ms := range spec.Maps {
		if ms.Type != ebpf.RingBuf && ms.Type != ebpf.PerfEventArray {
			continue
		}
		if _, bound := spec.Variables[extract.ExportPrefix+name]; bound {
			continue
		}
		if u := scan.Maps[name]; u != nil && len(u.SubmitSizes) > 0 {
			return true
		}
	}
	return false
}

// includeRE finds #include "FILE" lines (not <FILE>).
var includeRE = regexp.MustCompile(`(?m)^[ \t]*#[ \t]*include[ \t]*"([^"]+)"`)

// ownStructs lists the structs the program defines itself: in its source
// and the headers it includes from its own folder (not vmlinux.h), in
// order. They are what a buffer may carry when no export header says.
func ownStructs(src string, text []byte) []string {
	dir := filepath.Dir(src)
	seen := map[string]bool{}
	var out []string
	add := func(text []byte) {
		for _, name := range extract.HeaderStructs(text) {
			if !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	add(text)
	for _, m := range includeRE.FindAllSubmatch(text, -1) {
		name := string(m[1])
		if filepath.Base(name) == "vmlinux.h" || filepath.IsAbs(name) {
			continue
		}
		path := filepath.Join(dir, name)
		if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() || st.Size() > 4<<20 {
			continue
		}
		if h, err := os.ReadFile(path); err == nil {
			add(h)
		}
	}
	return out
}

// installOutputs copies an entry's files into dir; all or nothing.
func installOutputs(e *buildcache.Entry, names []string, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("output folder: %w", err)
	}
	var done []string
	for _, n := range names {
		data, err := os.ReadFile(e.Path(n))
		if err == nil {
			dst := filepath.Join(dir, n)
			err = packager.WriteFileAtomic(dst, data, 0o644)
			if err == nil {
				done = append(done, dst)
				continue
			}
		}
		for _, f := range done {
			os.Remove(f)
		}
		return nil, err
	}
	return done, nil
}

// run runs a tool, forwarding its stderr (minus lines about our wrapper file).
func (b *builder) run(ctx context.Context, path string, args []string, wrapper string) error {
	if b.o.Verbose != nil {
		fmt.Fprintln(b.o.Verbose, "+", shellQuote(append([]string{path}, args...)))
	}
	cmd := exec.CommandContext(ctx, path, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	err := cmd.Run()
	diag := stderr.Bytes()
	if wrapper != "" {
		diag = filterWrapper(diag, wrapper)
	}
	b.notes.Write(diag)
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return &ClangError{Source: b.o.Source, Status: ee.ExitCode()}
		}
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return nil
}

// filterWrapper drops "In file included from WRAPPER:N:" lines so clang's
// diagnostics read as if the user's file had been compiled directly.
func filterWrapper(diag []byte, wrapper string) []byte {
	if len(diag) == 0 {
		return diag
	}
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(diag, []byte("\n")) {
		if bytes.Contains(line, []byte(wrapper)) {
			continue
		}
		out.Write(line)
	}
	return out.Bytes()
}

// readDeps parses clang's -MD output into the files the build read.
func readDeps(path, skip string) ([]buildcache.Dep, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read clang dependency file: %w", err)
	}
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	if i := strings.Index(text, ": "); i >= 0 {
		text = text[i+2:]
	}
	var files []string
	var cur strings.Builder
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\\' && i+1 < len(text) && text[i+1] == ' ':
			cur.WriteByte(' ')
			i++
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			if cur.Len() > 0 {
				files = append(files, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteByte(c)
		}
	}
	if cur.Len() > 0 {
		files = append(files, cur.String())
	}
	var deps []buildcache.Dep
	seen := map[string]bool{}
	for _, f := range files {
		if f == skip || seen[f] {
			continue
		}
		seen[f] = true
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		d, err := buildcache.NewDep(abs)
		if err != nil {
			return nil, fmt.Errorf("dependency %s: %w", f, err)
		}
		deps = append(deps, d)
	}
	return deps, nil
}

func shellQuote(args []string) string {
	var parts []string
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$\\*?;&|<>()") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
