package compiler

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager"
)

// @format doc comments in the export header land in
// export_types[].members[].format, members of anonymous unions under the
// union's members; bad ones fail the build naming the header line.
func TestBuildFormats(t *testing.T) {
	testenv.BPFBuild(t)
	dir := t.TempDir()
	hdr := filepath.Join(dir, "ev.h")
	src := filepath.Join(dir, "ev.bpf.c")
	os.WriteFile(src, []byte("#include \"vmlinux.h\"\n#include \"ev.h\"\nstruct ev e;\n"), 0o644)
	os.WriteFile(hdr, []byte(`struct ev {
	/// @format ipv4
	__u32 peer;
	union {
		__u32 a4;
		/// @format ipv6
		__u8 a6[16];
	};
	/// @format be
	__u16 port;
};
`), 0o644)
	res, stderr, err := build(t, &Options{Source: src, ExportHeader: hdr, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatalf("build: %v\n%s", err, stderr)
	}
	data, err := os.ReadFile(res.Outputs[0].Skel)
	if err != nil {
		t.Fatal(err)
	}
	var m packager.Meta
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	ms := m.ExportTypes[0].Members
	if len(ms) != 3 || ms[0].Format != "ipv4" || ms[1].Name != "" || ms[2].Format != "be" ||
		len(ms[1].Members) != 2 || ms[1].Members[0].Format != "" || ms[1].Members[1].Name != "a6" || ms[1].Members[1].Format != "ipv6" {
		t.Errorf("members %s", data)
	}
	if !strings.Contains(string(data), `"format": "ipv4"`) {
		t.Errorf("no format in %s", data)
	}

	for _, c := range []struct{ header, want string }{
		{"struct ev {\n\t/// @format ipv5\n\t__u32 peer;\n};\n", `ev.h:2: @format of peer in struct ev: unknown format "ipv5"`},
		{"struct ev {\n\t/// @format ipv4\n\t__u16 peer;\n};\n", "format ipv4 needs 4 bytes, not 2"},
		{"struct ev {\n\tint x;\n\tstruct { int y; } inner;\n};\nstruct other {\n\t/// @format hex\n\tint z;\n};\n", ""},
	} {
		os.WriteFile(hdr, []byte(c.header), 0o644)
		os.WriteFile(src, []byte("#include \"vmlinux.h\"\n#include \"ev.h\"\nstruct ev e;\nstruct other o;\n"), 0o644)
		if c.want == "" {
			if _, stderr, err := build(t, &Options{Source: src, ExportHeader: hdr, CacheDir: t.TempDir()}); err != nil {
				t.Errorf("build: %v\n%s", err, stderr)
			}
			continue
		}
		os.WriteFile(src, []byte("#include \"vmlinux.h\"\n#include \"ev.h\"\nstruct ev e;\n"), 0o644)
		_, _, err := build(t, &Options{Source: src, ExportHeader: hdr, CacheDir: t.TempDir()})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("header %q: %v, want %q", c.header, err, c.want)
		}
	}
}
