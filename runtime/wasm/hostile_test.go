package wasm

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/internal/wasmbin"
)

// These tests need clang with wasi-libc, not the kernel (except the map
// half of TestHostileCalls).

const fakeFD = 100000 // a buffer fd served by a fakeSource

func TestNotWasm(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("hello world"), []byte("\x00asm\x0d\x00\x01\x00")} {
		err := Run(context.Background(), b, &Options{Args: []string{"x.wasm"}, CacheDir: "-"})
		if err == nil || !strings.HasPrefix(err.Error(), "x.wasm: ") {
			t.Errorf("Run(%q) = %v, want an error naming x.wasm", b, err)
		}
	}
}

func TestImports(t *testing.T) {
	for _, tc := range []struct{ def, want string }{
		{"UNKNOWN_ENV", "imp.wasm imports env.foo, which ecli does not provide (ecli provides the modules wasi_snapshot_preview1 and wasm_bpf)"},
		{"UNKNOWN_BPF", "imp.wasm imports wasm_bpf.nope, which ecli does not provide"},
		{"WRONG_TYPE", "imp.wasm imports wasm_bpf.wasm_close_bpf_object with type (i32) -> (i32), but ecli provides (i64) -> (i32)"},
		{"ENV_COMPAT", ""},
	} {
		t.Run(tc.def, func(t *testing.T) {
			wasm := freestanding(t, "imports.c", "-D"+tc.def)
			var stderr testenv.SyncBuffer
			err := Run(context.Background(), wasm, &Options{Args: []string{"imp.wasm"}, Stderr: &stderr, CacheDir: cacheDir()})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Run: %v\n%s", err, &stderr)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Fatalf("Run: %v\nwant: %s", err, tc.want)
			}
		})
	}
}

func TestInfiniteLoop(t *testing.T) {
	wasm := wasiGuest(t, "hostile.c")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := Run(ctx, wasm, &Options{Args: []string{"loop.wasm", "loop"}, CacheDir: cacheDir()})
	if err != nil {
		t.Fatalf("Run: %v, want nil (stopped by ctx)", err)
	}
	if d := time.Since(start); d > 1300*time.Millisecond {
		t.Errorf("an infinite loop stopped %v after a 300 ms deadline, want < 1 s after", d)
	}
}

func TestExitCode(t *testing.T) {
	wasm := wasiGuest(t, "hostile.c")
	err := Run(context.Background(), wasm, &Options{Args: []string{"h.wasm"}, CacheDir: cacheDir()})
	if err == nil || err.Error() != "h.wasm exited with code 10" {
		t.Fatalf("Run = %v, want h.wasm exited with code 10", err)
	}
}

func TestMemoryLimit(t *testing.T) {
	wasm := wasiGuest(t, "hostile.c")
	var out testenv.SyncBuffer
	err := Run(context.Background(), wasm, &Options{Args: []string{"grow.wasm", "grow"}, Stdout: &out, MemoryLimitPages: 64, CacheDir: cacheDir()})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := lines(out.String())
	for k, want := range map[string]string{"grow_past_limit": "-1", "grow_over_limit": "-1", "grow_one": "1", "malloc_64m": "0", "pages_after": "1"} {
		if got[k] != want {
			t.Errorf("%s=%s, want %s\n%s", k, got[k], want, &out)
		}
	}
}

// TestHostileCalls calls every host function with out-of-range pointers
// and sizes, unknown handles, fds and table indices; each must return its
// error code and the next call must work.
func TestHostileCalls(t *testing.T) {
	want := map[string]string{
		"load_oob": "0", "load_null": "0", "load_neg": "0", "load_huge": "0", "load_straddle": "0", "load_garbage": "0",
		"attach_badobj": "-22", "attach_oob_name": "-14", "attach_null_name": "-14", "attach_unterminated": "-14",
		"attach_long": "-22", "attach_oob_target": "-14", "attach_unknown": "-2",
		"fd_badobj": "-22", "fd_oob": "-14", "fd_unknown": "-2",
		"poll_badobj": "-22", "poll_badfd": "-9", "poll_stdout": "-9", "poll_oob_data": "-14", "poll_straddle": "-14",
		"poll_zero_size": "-22", "poll_neg_size": "-22", "poll_huge_size": "-14", "poll_cb_range": "-22",
		"poll_cb_negative": "-22", "poll_cb_type": "-22", "poll_pull": "16", "pulled": "record-00000001", // bad callbacks take no record
		"poll_pull_short": "4", "poll_cb": "42", "poll_cb_all": "0", "count": "7", "poll_drained": "0",
		"map_badfd": "-9", "map_stdout": "-9",
		"close_badobj": "-22", "close": "0", "close_again": "-22", "poll_closed": "-22", "map_closed": "-9",
	}
	mapWant := map[string]string{
		"map_badcmd": "-22", "map_oob_key": "-14", "map_null_key": "-14", "map_oob_value": "-14",
		"map_straddle_value": "-14", "map_update_oob": "-14", "map_update_null": "-14", "map_delete_oob": "-14",
		"map_next_oob": "-14", "map_next_out_oob": "-14", "map_lookup_missing": "-2", "map_update": "0",
		"map_lookup": "0", "map_value": "77", "map_next_first": "0", "map_next_key": "1", "map_next_last": "-2",
	}
	check := func(t *testing.T, withMap bool) {
		wasm := wasiGuest(t, "hostile.c")
		var m *ebpf.Map
		if withMap {
			var err error
			m, err = ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
			if err != nil {
				t.Fatal(err)
			}
		}
		src := &fakeSource{n: 10}
		withHook(t, func(h *host) {
			maps := map[string]*ebpf.Map{}
			if m != nil {
				maps["m"] = m
			}
			addFakeObject(h, fakeFD, src, maps)
		})
		fdmap := "-1"
		if m != nil {
			fdmap = strconv.Itoa(m.FD())
		}
		var out, stderr testenv.SyncBuffer
		err := Run(context.Background(), wasm, &Options{
			Args:   []string{"hostile.wasm", "calls", "1", strconv.Itoa(fakeFD), fdmap},
			Stdout: &out, Stderr: &stderr, CacheDir: cacheDir(),
		})
		if err != nil {
			t.Fatalf("Run: %v\nstdout:\n%s\nstderr:\n%s", err, &out, &stderr)
		}
		got := lines(out.String())
		expect := maps.Clone(want)
		if withMap {
			maps.Copy(expect, mapWant)
		}
		for k, v := range expect {
			if got[k] != v {
				t.Errorf("%s=%q, want %q", k, got[k], v)
			}
		}
		for i := 5; i <= 10; i++ {
			if line := "cb ctx=77 size=16 data=" + recordName(i); !strings.Contains(out.String(), line+"\n") {
				t.Errorf("no %q", line)
			}
		}
		for _, msg := range []string{
			"ecli: hostile.wasm: wasm_bpf_buffer_poll: callback table index 100000 is out of the guest's table",
			"is not a function int(void *, void *, size_t)",
			"ecli: hostile.wasm: read BPF object:",
		} {
			if !strings.Contains(stderr.String(), msg) {
				t.Errorf("stderr lacks %q", msg)
			}
		}
		if !src.closed.Load() {
			t.Error("closing the object did not close its buffer")
		}
		if m != nil && m.FD() != -1 {
			t.Error("closing the object did not close its map")
		}
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", &out, &stderr)
		}
	}
	t.Run("fake", func(t *testing.T) { check(t, false) })
	t.Run("maps", func(t *testing.T) {
		testenv.Kernel(t)
		check(t, true)
	})
}

func recordName(i int) string { return fmt.Sprintf("record-%08d", i) }

// TestBlockedPoll: a poll waiting forever (timeout_ms -1) is woken when
// ctx is done, and the guest stops without seeing an error code.
func TestBlockedPoll(t *testing.T) {
	wasm := wasiGuest(t, "hostile.c")
	withHook(t, func(h *host) { addFakeObject(h, fakeFD, newBlockingSource(), nil) })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var out testenv.SyncBuffer
	start := time.Now()
	err := Run(ctx, wasm, &Options{Args: []string{"block.wasm", "block", "1", strconv.Itoa(fakeFD)}, Stdout: &out, CacheDir: cacheDir()})
	if err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if d := time.Since(start); d > 1300*time.Millisecond {
		t.Errorf("a blocked poll stopped %v after a 300 ms deadline, want < 1 s after", d)
	}
	if out.String() != "" {
		t.Errorf("the guest went on after the host stopped it:\n%s", &out)
	}
}

// TestCallbackFailures: what a callback does to the run.
func TestCallbackFailures(t *testing.T) {
	wasm := wasiGuest(t, "hostile.c")
	for _, tc := range []struct {
		mode    string
		timeout time.Duration
		check   func(t *testing.T, err error, out string)
	}{
		{"cbloop", 300 * time.Millisecond, func(t *testing.T, err error, out string) {
			if err != nil {
				t.Errorf("Run = %v, want nil (stopped by ctx)", err)
			}
		}},
		{"cbexit", 0, func(t *testing.T, err error, out string) {
			if err == nil || err.Error() != "cb.wasm exited with code 7" {
				t.Errorf("Run = %v, want cb.wasm exited with code 7", err)
			}
		}},
		{"cbtrap", 0, func(t *testing.T, err error, out string) {
			var cbErr *callbackError
			if err == nil || !strings.Contains(err.Error(), "callback (table index") || !strings.Contains(err.Error(), "unreachable") {
				t.Errorf("Run = %v, want the callback's trap", err)
			} else if errors.As(err, &cbErr) {
				t.Errorf("Run's error should be a message, not wrap the internal callbackError")
			}
		}},
		{"cbpoll", 0, func(t *testing.T, err error, out string) {
			got := lines(out)
			if err != nil || got["nested_poll"] != "-16" || got["poll"] != "0" {
				t.Errorf("Run = %v, output:\n%s\nwant nested_poll=-16 (EBUSY), poll=0", err, out)
			}
		}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			withHook(t, func(h *host) { addFakeObject(h, fakeFD, &fakeSource{n: 3}, nil) })
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			var out testenv.SyncBuffer
			start := time.Now()
			err := Run(ctx, wasm, &Options{Args: []string{"cb.wasm", tc.mode, "1", strconv.Itoa(fakeFD)}, Stdout: &out, CacheDir: cacheDir()})
			if d := time.Since(start); d > tc.timeout+time.Second {
				t.Errorf("Run took %v", d)
			}
			tc.check(t, err, out.String())
		})
	}
}

// TestReadRealModules: the modules ecli runs read whole, and no prefix of
// them makes the reader panic.
func TestReadRealModules(t *testing.T) {
	for _, wasm := range [][]byte{wasiGuest(t, "hostile.c"), trampolineModule("app")} {
		info, err := wasmbin.Read(wasm)
		if err != nil || len(info.Exports) == 0 {
			t.Fatalf("Read = %v, %v", info, err)
		}
		for n := range len(wasm) {
			wasmbin.Read(wasm[:n])
		}
	}
}
