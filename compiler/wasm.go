package compiler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ecc-bpf/ecc/compiler/wasmgen"
	"github.com/ecc-bpf/ecc/internal/wasmbin"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/templates"
)

// WasmSuffix is the suffix of a Wasm package's module: NAME.wasm.
const WasmSuffix = ".wasm"

// EccWasmImport is the import path of the Go guest SDK.
const EccWasmImport = "github.com/ecc-bpf/ecc/templates/wasm/go/eccwasm"

// minGoMinor is the oldest Go (1.N) that builds Go guests: wasip1 with
// go:wasmimport, generics and the structs package.
const minGoMinor = 23

// wasmStackSize is the C guests' stack (wasm-ld's default is 64 KiB, and an
// overflow silently corrupts the data after it).
const wasmStackSize = 1 << 20

// WasmOptions configures `ecc build --wasm`: a BPF build plus its user-space
// program compiled to a Wasm module that embeds the BPF object.
type WasmOptions struct {
	// Options builds the BPF program. Source may be empty: the only
	// NAME.bpf.c in the guest's folder is used. ExportHeader may be empty:
	// NAME.h beside the source is used when the source includes it.
	// OutDir (default: the guest's folder) receives NAME.wasm as well.
	Options
	// Guest is the user-space program: a C file, or a Go file of a
	// package main (the whole package is built), or a folder holding one
	// main.c or main.go.
	Guest string
	// GuestCFlags are extra clang flags for a C guest.
	GuestCFlags []string
	// Go is the go command for Go guests; default: ECC_GO, then go on
	// PATH, then the Go that built ecc, then /usr/local/go/bin/go.
	Go string
}

// WasmResult is a Wasm build's outcome.
type WasmResult struct {
	// Name is NAME (from NAME.bpf.c).
	Name string
	// Wasm is the path of NAME.wasm.
	Wasm string
	// Lang is "C" or "Go".
	Lang string
	// Size is NAME.wasm's size in bytes.
	Size int64
	// Compiler is what compiled the guest: "clang 19.1.7", "go1.26.8".
	Compiler string
	// BPF is the BPF build (package.json and friends in the same folder).
	BPF *Result
	// Took is the time the guest's build took (the BPF build has its own).
	Took time.Duration
}

// WasmToolchainError is returned when clang cannot target wasm32-wasi.
type WasmToolchainError struct {
	Clang   *Clang
	Missing []string
}

func (e *WasmToolchainError) Error() string {
	v := strconv.Itoa(e.Clang.Major)
	return fmt.Sprintf("clang %s cannot build wasm32-wasi programs (missing: %s); install them: apt-get install wasi-libc lld-%s libclang-rt-%s-dev-wasm32",
		e.Clang.Version, strings.Join(e.Missing, ", "), v, v)
}

// BuildWasm builds the BPF program (cached like Build) and its guest into
// OutDir/NAME.wasm. On error no NAME.wasm is written.
func BuildWasm(ctx context.Context, o *WasmOptions) (*WasmResult, error) {
	start := time.Now()
	stderr := o.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	guest, lang, err := checkGuest(o.Guest)
	if err != nil {
		return nil, err
	}
	guestDir := filepath.Dir(guest)
	bo := o.Options
	if bo.Source, err = findBPFSource(guestDir, o.Source); err != nil {
		return nil, err
	}
	if bo.ExportHeader == "" {
		bo.ExportHeader = autoExportHeader(bo.Source)
	}
	if len(bo.Arches) > 1 {
		return nil, fmt.Errorf("a Wasm module embeds one BPF object: pass one --arch, not %d", len(bo.Arches))
	}
	if bo.OutDir == "" {
		bo.OutDir = guestDir
	}
	if bo.Stderr == nil {
		bo.Stderr = stderr
	}
	if bo.CacheDir == "" {
		bo.CacheDir = DefaultCacheDir()
	}
	bpf, err := Build(ctx, &bo)
	if err != nil {
		return nil, err
	}
	start = time.Now()
	out := bpf.Outputs[0]
	obj, err := os.ReadFile(out.Object)
	if err != nil {
		return nil, err
	}
	skel, err := os.ReadFile(out.Skel)
	if err != nil {
		return nil, err
	}
	m, err := packager.UnmarshalMeta(skel)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", out.Skel, err)
	}
	bind, err := wasmgen.New(bpf.Name, filepath.Base(bo.Source), obj, m)
	if err != nil {
		return nil, fmt.Errorf("bindings of %s: %w", bo.Source, err)
	}
	work, err := os.MkdirTemp(bo.CacheDir, ".wasm-work-")
	if err != nil {
		return nil, fmt.Errorf("work folder: %w", err)
	}
	defer os.RemoveAll(work)
	sdk, err := templates.ExtractWasm(bo.CacheDir)
	if err != nil {
		return nil, err
	}
	w := &wasmBuild{o: o, bo: &bo, stderr: stderr, guest: guest, guestDir: guestDir,
		name: bpf.Name, bind: bind, obj: obj, work: work, sdk: sdk,
		module: filepath.Join(work, bpf.Name+WasmSuffix)}
	res := &WasmResult{Name: bpf.Name, Lang: lang, BPF: bpf,
		Wasm: filepath.Join(bo.OutDir, bpf.Name+WasmSuffix)}
	if lang == "C" {
		res.Compiler, err = w.buildC(ctx)
	} else {
		res.Compiler, err = w.buildGo(ctx)
	}
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(w.module)
	if err != nil {
		return nil, err
	}
	if err := checkModule(data, lang, res.Wasm, stderr); err != nil {
		return nil, err
	}
	if err := packager.WriteFileAtomic(res.Wasm, data, 0o644); err != nil {
		return nil, err
	}
	res.Size = int64(len(data))
	res.Took = time.Since(start)
	return res, nil
}

func checkGuest(guest string) (string, string, error) {
	if guest == "" {
		return "", "", errors.New("no Wasm guest given; usage: ecc build --wasm main.c|main.go")
	}
	abs, err := filepath.Abs(guest)
	if err != nil {
		return "", "", err
	}
	st, err := os.Stat(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", "", fmt.Errorf("wasm guest %s: no such file; check the path", guest)
	case err != nil:
		return "", "", fmt.Errorf("wasm guest %s: %w", guest, err)
	case st.IsDir():
		var found []string
		for _, f := range []string{"main.c", "main.go"} {
			if _, err := os.Stat(filepath.Join(abs, f)); err == nil {
				found = append(found, filepath.Join(abs, f))
			}
		}
		if len(found) != 1 {
			return "", "", fmt.Errorf("wasm guest %s is a folder without one main.c or main.go; pass the guest's file", guest)
		}
		return checkGuest(found[0])
	case strings.HasSuffix(abs, ".bpf.c"):
		return "", "", fmt.Errorf("wasm guest %s is the BPF program; pass the user-space program to --wasm (main.c or main.go) and the BPF program with --bpf", guest)
	case strings.HasSuffix(abs, ".c"):
		return abs, "C", nil
	case strings.HasSuffix(abs, ".go"):
		return abs, "Go", nil
	}
	return "", "", fmt.Errorf("wasm guest %s is neither C (.c) nor Go (.go)", guest)
}

// findBPFSource returns the BPF program: the one given, else the only
// *.bpf.c in the guest's folder.
func findBPFSource(guestDir, given string) (string, error) {
	if given != "" {
		return given, nil
	}
	found, err := filepath.Glob(filepath.Join(guestDir, "*.bpf.c"))
	if err != nil {
		return "", err
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no BPF program (*.bpf.c) in %s, the guest's folder; pass one with --bpf FILE.bpf.c", guestDir)
	case 1:
		return found[0], nil
	}
	var names []string
	for _, f := range found {
		names = append(names, filepath.Base(f))
	}
	return "", fmt.Errorf("several BPF programs in %s (%s); pick one with --bpf FILE.bpf.c", guestDir, strings.Join(names, ", "))
}

// autoExportHeader returns NAME.h beside NAME.bpf.c when the source
// #includes it (eunomia's `ecc NAME.bpf.c NAME.h` convention), else "".
func autoExportHeader(src string) string {
	name := NameOf(src)
	hdr := filepath.Join(filepath.Dir(src), name+".h")
	if _, err := os.Stat(hdr); err != nil {
		return ""
	}
	text, err := os.ReadFile(src)
	if err != nil {
		return ""
	}
	re := regexp.MustCompile(`(?m)^\s*#\s*include\s*"` + regexp.QuoteMeta(name+".h") + `"`)
	if !re.Match(text) {
		return ""
	}
	return hdr
}

type wasmBuild struct {
	o        *WasmOptions
	bo       *Options
	stderr   io.Writer
	guest    string
	guestDir string
	name     string
	bind     *wasmgen.Bindings
	obj      []byte
	work     string
	sdk      string
	module   string // the module, built in work
}

func (w *wasmBuild) verbose(path string, args []string, env []string) {
	if w.o.Verbose != nil {
		fmt.Fprintln(w.o.Verbose, "+", shellQuote(append(append(env, path), args...)))
	}
}

// layoutHint explains a failed layout check of a generated file.
func layoutHint(diag []byte, generated string) string {
	if !bytes.Contains(diag, []byte(generated)) {
		return ""
	}
	return fmt.Sprintf("; a struct layout check of the generated %s failed: if you declare the structs yourself (ECC_WASM_OWN_TYPES), make them match the BPF program's, else this is a bug in ecc, please report it", generated)
}

func (w *wasmBuild) buildC(ctx context.Context) (string, error) {
	hdr, err := w.bind.CHeader()
	if err != nil {
		return "", fmt.Errorf("generate %s: %w", wasmgen.CHeaderName(w.name), err)
	}
	if err := os.WriteFile(filepath.Join(w.work, wasmgen.CHeaderName(w.name)), hdr, 0o644); err != nil {
		return "", err
	}
	cl, err := FindClang(w.o.Clang, w.bo.CacheDir)
	if err != nil {
		return "", err
	}
	args := []string{"--target=wasm32-wasi", "-O2",
		"-I" + w.work, "-I" + filepath.Join(w.sdk, "c"), "-I" + w.guestDir}
	args = append(args, w.o.GuestCFlags...)
	if w.o.Color {
		args = append(args, "-fcolor-diagnostics")
	}
	args = append(args, "-Wl,--export-table", "-Wl,-z,stack-size="+strconv.Itoa(wasmStackSize),
		w.guest, "-o", w.module)
	w.verbose(cl.Path, args, nil)
	cmd := exec.CommandContext(ctx, cl.Path, args...)
	var diag bytes.Buffer
	cmd.Stdout, cmd.Stderr = &diag, &diag
	err = cmd.Run()
	w.stderr.Write(diag.Bytes())
	if err != nil {
		if missing := wasmToolchainMissing(cl); len(missing) > 0 {
			return "", &WasmToolchainError{Clang: cl, Missing: missing}
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("clang failed to compile %s for wasm32-wasi (exit status %d; diagnostics above)%s",
				w.o.Guest, ee.ExitCode(), layoutHint(diag.Bytes(), wasmgen.CHeaderName(w.name)))
		}
		return "", fmt.Errorf("%s: %w", filepath.Base(cl.Path), err)
	}
	return "clang " + cl.Version, nil
}

// wasmToolchainMissing lists what clang lacks to link wasm32-wasi programs:
// the linker (lld), the C library (wasi-libc), the builtins (compiler-rt).
func wasmToolchainMissing(cl *Clang) []string {
	ask := func(flag string) string {
		out, err := exec.Command(cl.Path, "--target=wasm32-wasi", flag).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	exists := func(p string) bool {
		if !filepath.IsAbs(p) {
			return false
		}
		_, err := os.Stat(p)
		return err == nil
	}
	var missing []string
	if p := ask("-print-prog-name=wasm-ld"); !exists(p) {
		if _, err := exec.LookPath("wasm-ld"); err != nil {
			missing = append(missing, "wasm-ld (lld)")
		}
	}
	if !exists(ask("-print-file-name=libc.a")) {
		missing = append(missing, "libc.a (wasi-libc)")
	}
	if !exists(ask("-print-libgcc-file-name")) {
		missing = append(missing, "libclang_rt.builtins-wasm32.a (compiler-rt for wasm32)")
	}
	return missing
}

// findGo returns the go command: explicit, ECC_GO, go on PATH, the Go that
// built ecc, /usr/local/go/bin/go.
func findGo(explicit string) (string, error) {
	if explicit == "" {
		explicit = os.Getenv("ECC_GO")
	}
	if explicit != "" {
		p, err := exec.LookPath(explicit)
		if err != nil {
			return "", fmt.Errorf("go command %q: %v; point ECC_GO at a Go 1.%d+ toolchain", explicit, err, minGoMinor)
		}
		return p, nil
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	for _, p := range []string{filepath.Join(runtime.GOROOT(), "bin", "go"), "/usr/local/go/bin/go"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Go toolchain found (looked for go on PATH, in %s and /usr/local/go/bin) to build the Go guest; install Go 1.%d or newer (https://go.dev/dl) or set ECC_GO", filepath.Join(runtime.GOROOT(), "bin"), minGoMinor)
}

var goVersionRE = regexp.MustCompile(`^go1\.(\d+)`)

func goVersion(ctx context.Context, goCmd string) (string, error) {
	cmd := exec.CommandContext(ctx, goCmd, "env", "GOVERSION")
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s env GOVERSION: %w", goCmd, err)
	}
	v := strings.TrimSpace(string(out))
	if m := goVersionRE.FindStringSubmatch(v); m != nil {
		if minor, _ := strconv.Atoi(m[1]); minor < minGoMinor {
			return "", fmt.Errorf("%s is %s; Go guests need Go 1.%d or newer (https://go.dev/dl), or set ECC_GO", goCmd, v, minGoMinor)
		}
	}
	return v, nil
}

func (w *wasmBuild) buildGo(ctx context.Context) (string, error) {
	goCmd, err := findGo(w.o.Go)
	if err != nil {
		return "", err
	}
	version, err := goVersion(ctx, goCmd)
	if err != nil {
		return "", err
	}
	f, err := parser.ParseFile(token.NewFileSet(), w.guest, nil, parser.PackageClauseOnly)
	if err != nil {
		return "", fmt.Errorf("wasm guest %s: %w", w.o.Guest, err)
	}
	if f.Name.Name != "main" {
		return "", fmt.Errorf("wasm guest %s is package %s; a Wasm guest is a command: package main", w.o.Guest, f.Name.Name)
	}
	_, hasMod := os.Stat(filepath.Join(w.guestDir, "go.mod"))
	ownModule := hasMod == nil
	src := filepath.Join(w.work, "guest")
	if err := copyGuest(w.guestDir, src, ownModule); err != nil {
		return "", fmt.Errorf("copy %s: %w", w.guestDir, err)
	}
	objName := w.name + ObjSuffix
	gen, err := w.bind.GoFile("main", objName)
	if err != nil {
		return "", fmt.Errorf("generate %s: %w", wasmgen.GoFileName(w.name), err)
	}
	if err := os.WriteFile(filepath.Join(src, objName), w.obj, 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, wasmgen.GoFileName(w.name)), gen, 0o644); err != nil {
		return "", err
	}
	// The SDK, as a module of its own that the guest's module replaces.
	sdkMod := filepath.Join(w.work, "eccwasm")
	if err := copyTree(filepath.Join(w.sdk, "go", "eccwasm"), sdkMod); err != nil {
		return "", err
	}
	goLine := fmt.Sprintf("go 1.%d\n", minGoMinor)
	if err := os.WriteFile(filepath.Join(sdkMod, "go.mod"), []byte("module "+EccWasmImport+"\n\n"+goLine), 0o644); err != nil {
		return "", err
	}
	env := []string{"GOOS=wasip1", "GOARCH=wasm", "GOWORK=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0"}
	if ownModule {
		if err := w.requireSDK(ctx, goCmd, src, sdkMod, env); err != nil {
			return "", err
		}
	} else {
		mod := "module eccguest\n\n" + goLine + "\nrequire " + EccWasmImport + " v0.0.0\n\nreplace " + EccWasmImport + " => ../eccwasm\n"
		if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte(mod), 0o644); err != nil {
			return "", err
		}
		// Nothing to download: the standard library and eccwasm only.
		env = append(env, "GOPROXY=off", "GOFLAGS=-mod=mod")
	}
	args := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", w.module, "."}
	w.verbose(goCmd, args, env)
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), env...)
	var diag bytes.Buffer
	cmd.Stdout, cmd.Stderr = &diag, &diag
	err = cmd.Run()
	w.stderr.Write(diag.Bytes())
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			hint := layoutHint(diag.Bytes(), wasmgen.GoFileName(w.name))
			if !ownModule && bytes.Contains(diag.Bytes(), []byte("GOPROXY=off")) {
				hint = "; a guest without a go.mod may use only the standard library and eccwasm: add a go.mod to " + w.guestDir + " to use other modules"
			}
			return "", fmt.Errorf("go build of %s for wasip1/wasm failed (exit status %d; diagnostics above)%s", w.o.Guest, ee.ExitCode(), hint)
		}
		return "", fmt.Errorf("%s: %w", goCmd, err)
	}
	return version, nil
}

// requireSDK points the guest's own go.mod (in the copy) at the embedded
// eccwasm, unless it already says where eccwasm comes from.
func (w *wasmBuild) requireSDK(ctx context.Context, goCmd, src, sdkMod string, env []string) error {
	mod, err := os.ReadFile(filepath.Join(src, "go.mod"))
	if err != nil {
		return err
	}
	if bytes.Contains(mod, []byte(EccWasmImport+" =>")) || regexp.MustCompile(`(?m)^\s*replace\s+`+regexp.QuoteMeta(EccWasmImport)+`\s`).Match(mod) {
		return nil
	}
	args := []string{"mod", "edit", "-require=" + EccWasmImport + "@v0.0.0", "-replace=" + EccWasmImport + "=" + sdkMod}
	w.verbose(goCmd, args, nil)
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go mod edit in a copy of %s: %v: %s", w.guestDir, err, bytes.TrimSpace(out))
	}
	return nil
}

// copyGuest copies the guest's package (its folder's files) or, when the
// folder is a module root, the module (without dot folders and testdata).
func copyGuest(from, to string, module bool) error {
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil || rel == "." {
			return err
		}
		base := d.Name()
		if d.IsDir() {
			if !module || strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") || base == "testdata" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		if strings.HasPrefix(base, ".") || strings.HasSuffix(base, WasmSuffix) {
			return nil
		}
		st, err := os.Stat(p) // follows symlinks
		if err != nil || !st.Mode().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
}

func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if strings.HasSuffix(p, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
}

// checkModule checks the built module has what ecli needs to run it.
func checkModule(data []byte, lang, path string, notes io.Writer) error {
	m, err := wasmbin.Read(data)
	if err != nil {
		return fmt.Errorf("built %s is not a valid Wasm module: %w", path, err)
	}
	if _, ok := m.Exports["_start"]; !ok {
		return fmt.Errorf("built %s exports no _start: a guest must be a WASI command with a main function", path)
	}
	if lang == "C" && m.ImportsFunc("wasm_bpf", "wasm_bpf_buffer_poll") {
		if k, ok := m.Exports["__indirect_function_table"]; !ok || k != wasmbin.KindTable {
			return fmt.Errorf("built %s polls buffers but does not export __indirect_function_table; link with -Wl,--export-table", path)
		}
	}
	if !m.ImportsFrom("wasm_bpf") {
		fmt.Fprintf(notes, "note: %s never calls the wasm_bpf host functions: it does not load its BPF program (ecc_bpf_open() in C, eccwasm.Load(bpfObject) in Go)\n", filepath.Base(path))
	}
	return nil
}
