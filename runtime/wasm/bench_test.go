package wasm

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
)

// benchGuest instantiates testdata/bench.c with a fake object whose buffer
// yields 128-byte records.
func benchGuest(b *testing.B) (*instance, uint64, *fakeSource) {
	wasm := freestanding(b, "bench.c")
	src := &fakeSource{n: 0, rec: make([]byte, 128)}
	var id uint64
	withHook(b, func(h *host) { id = addFakeObject(h, fakeFD, src, nil) })
	in, err := newInstance(context.Background(), wasm, &Options{CacheDir: cacheDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(in.close)
	return in, id, src
}

// BenchmarkCallback: per record, the host copies it into the guest and
// calls the guest's callback through the trampoline (one poll delivers
// up to 65536 records).
func BenchmarkCallback(b *testing.B) {
	in, id, src := benchGuest(b)
	f := in.mod.ExportedFunction("bench_callback")
	src.n, src.i = b.N, 0
	b.SetBytes(128)
	b.ResetTimer()
	for src.i < b.N {
		r, err := f.Call(context.Background(), id, fakeFD)
		if err != nil || int32(r[0]) != 0 {
			b.Fatalf("bench_callback = %v, %v", r, err)
		}
	}
}

// BenchmarkPull: per record, the guest calls wasm_bpf_buffer_poll in pull
// mode, which copies one record.
func BenchmarkPull(b *testing.B) {
	in, id, src := benchGuest(b)
	f := in.mod.ExportedFunction("bench_pull")
	src.n, src.i = b.N, 0
	b.SetBytes(128)
	b.ResetTimer()
	r, err := f.Call(context.Background(), id, fakeFD, uint64(b.N))
	if err != nil || int(r[0]) != b.N {
		b.Fatalf("bench_pull = %v, %v; want %d", r, err, b.N)
	}
}

// BenchmarkDispatch: the dispatch alone, called from Go: host →
// trampoline → (next → guest callback) per record; "batch" delivers
// every record in one dispatch (as a poll draining a busy buffer does),
// "one" a single record per dispatch (a poll that finds one record).
func BenchmarkDispatch(b *testing.B) {
	for _, one := range []bool{false, true} {
		name := "batch"
		if one {
			name = "one"
		}
		b.Run(name, func(b *testing.B) {
			in, id, src := benchGuest(b)
			ctx := context.Background()
			r, err := in.mod.ExportedFunction("cb_index").Call(ctx)
			if err != nil {
				b.Fatal(err)
			}
			d, err := in.mod.ExportedFunction("data_ptr").Call(ctx)
			if err != nil {
				b.Fatal(err)
			}
			a := pollArgs{fn: uint32(r[0]), data: uint32(d[0]), maxSize: 256}
			obj := in.h.object(id)
			rec := make([]byte, 128)
			src.n, src.i = b.N-1, 0
			if one {
				src.n = 0
			}
			b.SetBytes(128)
			b.ResetTimer()
			for done := 0; done < b.N; {
				if r := in.h.dispatch(ctx, obj, src, rec, a); r != 0 {
					b.Fatalf("dispatch = %d", r)
				}
				if one {
					done++
				} else {
					done = src.i + 1
				}
			}
		})
	}
}

// BenchmarkStartup: compile and instantiate a guest, with the compilation
// cache cold (a new directory each time) or warm.
func BenchmarkStartup(b *testing.B) {
	guests := []struct {
		name string
		wasm func(b *testing.B) []byte
	}{
		{"c", func(b *testing.B) []byte { return wasiGuest(b, "hostile.c") }},
		{"go", func(b *testing.B) []byte { return goGuest(b, []byte("not an object")) }},
	}
	for _, g := range guests {
		wasm := g.wasm(b)
		start := func(b *testing.B, dir string) {
			in, err := newInstance(context.Background(), wasm, &Options{CacheDir: dir})
			if err != nil {
				b.Fatal(err)
			}
			in.close()
		}
		b.Run(g.name+"/cold", func(b *testing.B) {
			root := b.TempDir()
			b.ReportMetric(float64(len(wasm)), "wasm-bytes")
			for i := range b.N {
				start(b, filepath.Join(root, strconv.Itoa(i)))
			}
		})
		b.Run(g.name+"/warm", func(b *testing.B) {
			dir := b.TempDir()
			start(b, dir)
			b.ResetTimer()
			for range b.N {
				start(b, dir)
			}
		})
		b.Run(g.name+"/nocache", func(b *testing.B) {
			for range b.N {
				start(b, "-")
			}
		})
	}
}
