package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecc-bpf/ecc/compiler"
	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager/attest"
)

// ecc build --json has one shape: name, outputs[] and, for --wasm only,
// wasm (docs/guide.md).
func TestBuildJSONShape(t *testing.T) {
	arch, _ := compiler.ParseArch("arm64")
	res := &compiler.Result{Name: "probe", Outputs: []compiler.Output{{
		Arch: arch, Object: "o/probe.bpf.o", Skel: "o/probe.skel.json", Package: "o/package.json",
		Cached: true, Took: 12 * time.Millisecond, Clang: &compiler.Clang{Version: "19.1.7"},
	}}}
	bpf := buildResult(res)
	withWasm := buildResult(res)
	withWasm.Wasm = &buildWasmJSON{Path: "o/probe.wasm", Lang: "C", Size: 2048, Compiler: "clang 19.1.7", Millis: 40}
	for _, c := range []struct {
		out  buildJSON
		want string
		text string
	}{
		{bpf, `{"name":"probe","outputs":[{"arch":"arm64","object":"o/probe.bpf.o","skel":"o/probe.skel.json","package":"o/package.json","cached":true,"ms":12}]}`,
			"probe: o/package.json (arm64, cached, unchanged in 12 ms)\n"},
		{withWasm, `{"name":"probe","outputs":[{"arch":"arm64","object":"o/probe.bpf.o","skel":"o/probe.skel.json","package":"o/package.json","cached":true,"ms":12}],` +
			`"wasm":{"path":"o/probe.wasm","lang":"C","size":2048,"compiler":"clang 19.1.7","ms":40}}`,
			"probe: o/package.json (arm64, cached, unchanged in 12 ms)\nprobe: o/probe.wasm (wasm32, C, 2 KiB)\n"},
	} {
		b, err := json.Marshal(c.out)
		if err != nil || string(b) != c.want {
			t.Errorf("JSON %s, %v\nwant %s", b, err, c.want)
		}
		var text bytes.Buffer
		c.out.print(&text)
		if text.String() != c.text {
			t.Errorf("summary %q, want %q", text.String(), c.text)
		}
	}
	if b, _ := json.Marshal(buildResult(&compiler.Result{Name: "x"})); !strings.Contains(string(b), `"outputs":[]`) {
		t.Errorf("no outputs: %s", b)
	}
}

// ecc build --attest writes the provenance and the SBOM beside the
// package: in-toto statements whose subject is the object just built and
// whose materials name the source with its sha256.
func TestBuildAttest(t *testing.T) {
	testenv.BPFBuild(t)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &stdout, &stderr
	if err := app.Run([]string{"ecc", "build", "--attest", "--cache-dir", t.TempDir(), "-o", out,
		"../../examples/execsnoop/execsnoop.bpf.c", "../../examples/execsnoop/execsnoop.h"}); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	object, err := os.ReadFile(filepath.Join(out, "execsnoop.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	source, err := os.ReadFile("../../examples/execsnoop/execsnoop.bpf.c")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"execsnoop.provenance.json", "execsnoop.sbom.spdx.json"} {
		data, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		st, err := attest.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Subject) != 1 || !st.HasSubject(digest.FromBytes(object)) {
			t.Errorf("%s: subjects %+v, want the object %s", name, st.Subject, digest.FromBytes(object))
		}
		if !strings.Contains(string(st.Predicate), digest.FromBytes(source).Encoded()) {
			t.Errorf("%s: the source's sha256 is missing", name)
		}
	}
}
