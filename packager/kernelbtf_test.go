package packager

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// testBTF is a BTF header (little-endian) and some bytes: what packager
// checks of BTF; runtimes parse the rest.
func testBTF(fill byte) []byte {
	b := []byte{0x9f, 0xeb, 1, 0, 24, 0, 0, 0}
	b = append(b, make([]byte, 16)...)
	return append(b, bytes.Repeat([]byte{fill}, 100)...)
}

func btfPackage() *Package {
	p := &Package{Object: testObject(), Meta: testMeta()}
	p.Meta.Arch = "x86_64"
	p.BTF = []KernelBTF{
		{Release: "6.1.0-57-cloud-amd64", Arch: "x86_64", Data: testBTF(1)},
		{Release: "5.15.0-91-generic", Arch: "x86_64", Data: testBTF(2)},
	}
	return p
}

func TestKernelBTFRoundTrip(t *testing.T) {
	p := btfPackage()
	data, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	json.Unmarshal(data, &raw)
	var entries []map[string]any
	if err := json.Unmarshal(raw["btf"], &entries); err != nil || len(entries) != 2 {
		t.Fatalf("package.json's btf: %s (%v)", raw["btf"], err)
	}
	for _, k := range []string{"release", "arch", "size", "sha256", "data"} {
		if _, ok := entries[0][k]; !ok {
			t.Errorf("btf[0] lacks %q: %v", k, entries[0])
		}
	}
	got, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.BTF, p.BTF) {
		t.Errorf("BTF did not survive package.json: %+v", got.BTF)
	}
	var sum bytes.Buffer
	if err := WriteSummary(&sum, got); err != nil || !strings.Contains(sum.String(), "BTF for kernels without it: 5.15.0-91-generic, 6.1.0-57-cloud-amd64\n") {
		t.Errorf("summary (%v):\n%s", err, sum.String())
	}
	// Without BTF, package.json has no "btf" key (eunomia's layout).
	p.BTF = nil
	data, _ = p.Marshal()
	if bytes.Contains(data, []byte(`"btf"`)) {
		t.Error(`a package without kernel BTF writes a "btf" key`)
	}
}

func TestKernelBTFRefused(t *testing.T) {
	good, err := btfPackage().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(e []map[string]any)) []byte {
		var doc map[string]any
		json.Unmarshal(good, &doc)
		var e []map[string]any
		b, _ := json.Marshal(doc["btf"])
		json.Unmarshal(b, &e)
		f(e)
		doc["btf"] = e
		out, _ := json.Marshal(doc)
		return out
	}
	other := btfPackage()
	other.BTF[0].Data = testBTF(9)
	otherJSON, _ := other.Marshal()
	var od map[string]any
	json.Unmarshal(otherJSON, &od)
	otherData := od["btf"].([]any)[0].(map[string]any)["data"]

	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"digest", edit(func(e []map[string]any) { e[0]["sha256"] = strings.Repeat("0", 64) }), "does not match its sha256"},
		{"size", edit(func(e []map[string]any) { e[0]["size"] = 10 }), "inflates past btf[0].size"},
		{"huge size", edit(func(e []map[string]any) { e[0]["size"] = MaxKernelBTFSize + 1 }), "out of range"},
		{"release path", edit(func(e []map[string]any) { e[0]["release"] = "../../etc" }), "not a kernel release"},
		{"two of a release", edit(func(e []map[string]any) { e[1]["release"] = e[0]["release"] }), "two entries"},
		{"other arch", edit(func(e []map[string]any) { e[0]["arch"] = "arm64" }), "the package's is x86_64"},
		{"swapped data", edit(func(e []map[string]any) { e[0]["data"] = otherData }), "sha256"},
		{"bad base64", edit(func(e []map[string]any) { e[0]["data"] = "!!" }), "btf[0].data: bad base64"},
	}
	for _, c := range cases {
		_, err := Unmarshal(c.data)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrInvalid with %q", c.name, err, c.want)
		}
	}
	notBTF := btfPackage()
	notBTF.BTF[0].Data = []byte("not BTF at all, but long enough for a header")
	if _, err := notBTF.Marshal(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not BTF") {
		t.Errorf("data without a BTF header: %v", err)
	}
}

func TestBTFArchive(t *testing.T) {
	p := btfPackage()
	a, err := BTFArchive(p.BTF)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := BTFArchive([]KernelBTF{p.BTF[1], p.BTF[0]})
	if !bytes.Equal(a, b) {
		t.Error("the archive depends on the order of the kernels")
	}
	got, err := ReadBTFArchive(a, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	if BTFReleases(got)[0] != "5.15.0-91-generic" || len(got) != 2 || !bytes.Equal(got[1].Data, p.BTF[0].Data) || got[0].Arch != "x86_64" {
		t.Errorf("read back %+v", got)
	}

	entry := func(hdr *tar.Header, data []byte) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		hdr.Size = int64(len(data))
		tw.WriteHeader(hdr)
		tw.Write(data)
		tw.Close()
		return buf.Bytes()
	}
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"traversal": {entry(&tar.Header{Typeflag: tar.TypeReg, Name: "../6.1.btf", Mode: 0o644}, testBTF(1)), "not named RELEASE.btf"},
		"folder":    {entry(&tar.Header{Typeflag: tar.TypeReg, Name: "x/6.1.btf", Mode: 0o644}, testBTF(1)), "not named RELEASE.btf"},
		"symlink":   {entry(&tar.Header{Typeflag: tar.TypeSymlink, Name: "6.1.btf", Linkname: "/etc/passwd"}, nil), "not a regular file"},
		"not BTF":   {entry(&tar.Header{Typeflag: tar.TypeReg, Name: "6.1.btf", Mode: 0o644}, bytes.Repeat([]byte("x"), 40)), "not BTF"},
		"garbage":   {[]byte("this is no tar archive, just text that goes on for a while......"), "invalid BTF archive"},
	} {
		if _, err := ReadBTFArchive(c.data, "x86_64"); !errors.Is(err, ErrBTFArchive) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrBTFArchive with %q", name, err, c.want)
		}
	}
	// Too many kernels.
	var many []KernelBTF
	for i := range MaxKernelBTFs + 1 {
		many = append(many, KernelBTF{Release: "6.1." + string(rune('a'+i%26)) + strings.Repeat("x", i/26), Data: testBTF(1)})
	}
	if _, err := BTFArchive(many); err == nil {
		t.Error("an archive of more than MaxKernelBTFs kernels was made")
	}
}

// The package's kernel BTF goes to the registry as the BTF layer, and
// comes back from it.
func TestArtifactCarriesKernelBTF(t *testing.T) {
	ctx := context.Background()
	p := btfPackage()
	art, err := NewArtifact([]PlatformPackage{{Package: p}}, ArtifactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := pushAll(t, art)
	d, err := SelectManifest(ctx, s, art.Root, "linux/amd64")
	if err != nil {
		t.Fatal(err)
	}
	pp, err := ReadManifest(ctx, s, d)
	if err != nil {
		t.Fatal(err)
	}
	if pp.BTF == nil || !reflect.DeepEqual(BTFReleases(pp.Package.BTF), BTFReleases(p.BTF)) {
		t.Fatalf("read back %v", BTFReleases(pp.Package.BTF))
	}
	for _, b := range art.Blobs {
		if b.Desc.MediaType == MediaTypeBTF && b.Desc.Annotations["org.opencontainers.image.title"] != "execsnoop.btf.tar" {
			t.Errorf("BTF layer title %q", b.Desc.Annotations["org.opencontainers.image.title"])
		}
	}
}

// FuzzReadBTFArchive: a BTF layer from a registry gives kernels that
// BTFArchive lays out again to the same kernels, or an ErrBTFArchive.
func FuzzReadBTFArchive(f *testing.F) {
	a, _ := BTFArchive(btfPackage().BTF)
	f.Add(a)
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0}, 1024))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ReadBTFArchive(data, "x86_64")
		if err != nil {
			if !errors.Is(err, ErrBTFArchive) {
				t.Fatalf("error does not wrap ErrBTFArchive: %v", err)
			}
			return
		}
		again, err := BTFArchive(got)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ReadBTFArchive(again, "x86_64")
		if err != nil || !reflect.DeepEqual(BTFReleases(back), BTFReleases(got)) {
			t.Fatalf("re-laid archive reads as %v, %v", BTFReleases(back), err)
		}
	})
}
