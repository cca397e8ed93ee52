package wasm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/ecc-bpf/ecc/internal/wasmbin"
	"github.com/ecc-bpf/ecc/runtime/attach"
)

// DefaultMemoryLimitPages caps a guest's memory when Options leave it 0:
// 4096 pages of 64 KiB, 256 MiB.
const DefaultMemoryLimitPages = 4096

// guestName is the name of the guest instance in the wazero runtime; the
// trampoline imports its table under it.
const guestName = "app"

// Options configure Run.
type Options struct {
	// Args is the guest's argv; Args[0] is the program name, also used in
	// messages (default "app.wasm").
	Args []string
	// Env is the guest's environment.
	Env map[string]string
	// Stdout and Stderr receive the guest's output (default: the
	// process's). Host messages go to Stderr too, prefixed "ecli:".
	Stdout, Stderr io.Writer
	// MemoryLimitPages caps the guest's linear memory, in 64 KiB pages
	// (default DefaultMemoryLimitPages, at most 65536). memory.grow past it
	// fails in the guest (returns -1, so malloc returns NULL).
	MemoryLimitPages uint32
	// CacheDir holds wazero's compiled code, so that the next run of the
	// same module starts without compiling it (default: the user cache
	// directory's ecc/wasm; "-" disables the cache).
	CacheDir string
	// Attach holds the defaults of ecli run's --ifname, --cgroup,
	// --uprobe, --pid and --freq for wasm_attach_bpf_program.
	Attach attach.Options
	// Verbose prints what the host does on Stderr.
	Verbose bool
}

// testHookHost, when set by tests, sees the host before the guest starts.
var testHookHost func(*host)

// Run runs the Wasm program wasm, a WASI preview 1 command (it exports
// _start and memory), with the wasm_bpf host functions. It returns when
// the guest exits (nil for exit code 0, else an error with the code), or
// when ctx is done (nil): wazero then stops the guest wherever it is, even
// in an infinite loop, and a poll waiting in the kernel is woken. Every BPF
// object the guest loaded is detached and closed before Run returns.
func Run(ctx context.Context, wasm []byte, o *Options) error {
	in, err := newInstance(ctx, wasm, o)
	if err != nil {
		return err
	}
	defer func() {
		in.close()
		in.trace("detach and close")
	}()
	_, err = in.mod.ExportedFunction("_start").Call(ctx)
	in.trace("run")
	return in.h.result(ctx, err)
}

// instance is a guest instantiated with the host modules, not yet started.
type instance struct {
	h       *host
	mod     api.Module
	trace   func(step string)
	closers []func()
}

// close frees the BPF objects, then the wazero runtime.
func (in *instance) close() {
	for i := len(in.closers) - 1; i >= 0; i-- {
		in.closers[i]()
	}
	in.closers = nil
}

func newInstance(ctx context.Context, wasm []byte, o *Options) (_ *instance, err error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if len(opts.Args) == 0 {
		opts.Args = []string{"app.wasm"}
	}
	name := filepath.Base(opts.Args[0])
	if opts.MemoryLimitPages == 0 {
		opts.MemoryLimitPages = DefaultMemoryLimitPages
	}
	opts.MemoryLimitPages = min(opts.MemoryLimitPages, 65536)

	// What the module imports and exports, for clear errors before wazero
	// instantiates it; wazero reports a malformed section itself.
	info, err := wasmbin.Read(wasm)
	if err != nil && !errors.Is(err, wasmbin.ErrMalformed) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	h := newHost(&opts, name)
	in := &instance{h: h, trace: func(string) {}}
	defer func() {
		if err != nil {
			in.close()
		}
	}()
	if opts.Verbose {
		last := time.Now()
		in.trace = func(step string) {
			h.logf("wasm: %s in %.2f ms", step, float64(time.Since(last).Microseconds())/1000)
			last = time.Now()
		}
	}

	rc := wazero.NewRuntimeConfig().
		WithMemoryLimitPages(opts.MemoryLimitPages).
		WithCloseOnContextDone(true)
	if cache := openCache(h, opts.CacheDir); cache != nil {
		in.closers = append(in.closers, func() { cache.Close(context.Background()) })
		rc = rc.WithCompilationCache(cache)
	}
	r := wazero.NewRuntimeWithConfig(ctx, rc)
	in.closers = append(in.closers, func() { r.Close(context.Background()) })
	stop := context.AfterFunc(ctx, h.interrupt)
	in.closers = append(in.closers, func() { stop() }, h.closeAll)
	if testHookHost != nil {
		testHookHost(h)
	}

	have := provided{}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		return nil, fmt.Errorf("%s: WASI: %w", name, err)
	}
	have[wasi_snapshot_preview1.ModuleName] = r.Module(wasi_snapshot_preview1.ModuleName).ExportedFunctionDefinitions()
	for _, mod := range hostModules(info) {
		m, err := h.instantiate(ctx, r, mod)
		if err != nil {
			return nil, fmt.Errorf("%s: host module %s: %w", name, mod, err)
		}
		have[mod] = m.ExportedFunctionDefinitions()
	}

	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("%s: compile: %w", name, err)
	}
	in.closers = append(in.closers, func() { compiled.Close(context.Background()) })
	in.trace("compile")
	if err := checkImports(name, info, compiled.ImportedFunctions(), have); err != nil {
		return nil, err
	}
	if _, ok := compiled.ExportedFunctions()["_start"]; !ok {
		return nil, fmt.Errorf("%s exports no _start function: build a WASI command (clang --target=wasm32-wasi, or GOOS=wasip1 GOARCH=wasm go build)", name)
	}
	if _, ok := compiled.ExportedMemories()["memory"]; !ok {
		return nil, fmt.Errorf("%s exports no memory: build a WASI command (clang --target=wasm32-wasi, or GOOS=wasip1 GOARCH=wasm go build)", name)
	}

	cfg := wazero.NewModuleConfig().
		WithName(guestName).
		WithStartFunctions(). // _start runs later, once the trampoline is linked
		WithArgs(opts.Args...).
		WithStdout(opts.Stdout).
		WithStderr(opts.Stderr).
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader)
	for _, k := range slices.Sorted(maps.Keys(opts.Env)) {
		cfg = cfg.WithEnv(k, opts.Env[k])
	}
	mod, err := r.InstantiateModule(ctx, compiled, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: instantiate: %w", name, err)
	}
	in.mod = mod
	if info.Exports[tableExport] == wasmbin.KindTable {
		if err := h.instantiateTrampoline(ctx, r, mod); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	in.trace("instantiate")
	return in, nil
}

// hostModules lists the modules the wasm_bpf functions are defined in:
// wasm_bpf, and env too for older wasm-bpf guests that import them from
// there (C declarations without import_module, linked with
// --allow-undefined).
func hostModules(info *wasmbin.Module) []string {
	mods := []string{ModuleName}
	names := map[string]bool{}
	for _, f := range (&host{}).functions() {
		names[f.name] = true
	}
	for _, imp := range info.Imports {
		if imp.Module == "env" && imp.Kind == wasmbin.KindFunc && names[imp.Name] {
			return append(mods, "env")
		}
	}
	return mods
}

// openCache opens the compilation cache, or returns nil (no cache).
func openCache(h *host, dir string) wazero.CompilationCache {
	if dir == "-" {
		return nil
	}
	if dir == "" && os.Getenv("ECC_CACHE_DIR") != "" {
		dir = filepath.Join(os.Getenv("ECC_CACHE_DIR"), "wasm")
	}
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			h.debugf("no compilation cache: %v", err)
			return nil
		}
		dir = filepath.Join(base, "ecc", "wasm")
	}
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		h.debugf("no compilation cache in %s: %v", dir, err)
		return nil
	}
	return cache
}

// result turns how _start ended into Run's error.
func (h *host) result(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch code := exit.ExitCode(); {
		case code == 0:
			return nil
		case ctx.Err() != nil && (code == sys.ExitCodeContextCanceled || code == sys.ExitCodeDeadlineExceeded):
			return nil
		default:
			return fmt.Errorf("%s exited with code %d", h.name, code)
		}
	}
	var cb *callbackError
	if errors.As(err, &cb) {
		return fmt.Errorf("%s: %v", h.name, cb)
	}
	if ctx.Err() != nil && h.isStopped() {
		return nil
	}
	return fmt.Errorf("%s: %w", h.name, err)
}
