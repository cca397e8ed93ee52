package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ecc-bpf/ecc/internal/fetch"
	"github.com/ecc-bpf/ecc/internal/pin"
	"github.com/ecc-bpf/ecc/internal/tlsconf"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry"
)

// fakePackage is a package.json that parses (its object is not a real
// ELF: these tests stop before anything is loaded).
func fakePackage(t *testing.T, name string) []byte {
	t.Helper()
	var p packager.Package
	p.Object = []byte("\x7fELF not really an object")
	p.Meta.BpfSkel.ObjName = name
	data, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(s[:])
}

func writeCA(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func oneLine(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	if err.Error() != want {
		t.Errorf("error\n got %q\nwant %q", err, want)
	}
}

// URLs: HTTPS verified as for registries, plain HTTP only with PlainHTTP,
// no redirect from HTTPS to HTTP, an optional pinned digest; every refusal
// comes before the bytes are parsed.
func TestOpenURLRules(t *testing.T) {
	good := fakePackage(t, "good")
	evil := fakePackage(t, "evil")
	var plainHits atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plainHits.Add(1)
		w.Write(evil)
	}))
	defer plain.Close()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/p/package.json":
			w.Write(good)
		case "/junk.json":
			w.Write([]byte("not json at all"))
		case "/to-http":
			http.Redirect(w, r, plain.URL+"/p/package.json", http.StatusMovedPermanently)
		case "/hop":
			http.Redirect(w, r, "/p/package.json", http.StatusFound)
		case "/huge":
			w.Header().Set("Content-Length", fmt.Sprint(packager.MaxPackageSize+1))
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("{"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ca := writeCA(t, srv)
	ctx := context.Background()
	name := func(s *Source) string { return s.Package.Meta.BpfSkel.ObjName }

	t.Run("plain-http", func(t *testing.T) {
		u := plain.URL + "/p/package.json"
		_, err := Open(ctx, u, nil)
		oneLine(t, err, "fetch "+u+": refusing plain HTTP: anyone on the network path could swap the package, which runs as root; use https://, or pass --plain-http to allow it (best with --digest sha256:... to pin what runs)")
		if plainHits.Load() != 0 {
			t.Errorf("the server was asked before the refusal")
		}
		s, err := Open(ctx, u, &OpenOptions{PlainHTTP: true})
		if err != nil || name(s) != "evil" {
			t.Fatalf("with PlainHTTP: %v", err)
		}
		plainHits.Store(0)
	})
	t.Run("tls", func(t *testing.T) {
		u := srv.URL + "/p/package.json"
		_, err := Open(ctx, u, nil)
		if err == nil || !strings.HasSuffix(err.Error(), "x509: certificate signed by unknown authority") || !tlsconf.IsCertError(err) {
			t.Errorf("self-signed without --ca-file: %v", err)
		}
		for _, o := range []*OpenOptions{{CAFile: ca}, {Insecure: true}} {
			s, err := Open(ctx, u, o)
			if err != nil || name(s) != "good" || s.Name != u {
				t.Errorf("%+v: %v", o, err)
			}
		}
		if s, err := Open(ctx, srv.URL+"/hop", &OpenOptions{CAFile: ca}); err != nil || name(s) != "good" {
			t.Errorf("https → https redirect: %v", err)
		}
	})
	t.Run("redirect-to-http", func(t *testing.T) {
		u := srv.URL + "/to-http"
		_, err := Open(ctx, u, &OpenOptions{CAFile: ca, PlainHTTP: true})
		oneLine(t, err, "fetch "+u+": refusing the redirect from "+u+" to "+plain.URL+"/p/package.json: it drops TLS (never followed, even with --plain-http)")
		if plainHits.Load() != 0 {
			t.Errorf("the plain server was asked")
		}
	})
	t.Run("digest", func(t *testing.T) {
		u := srv.URL + "/p/package.json"
		if s, err := Open(ctx, u, &OpenOptions{CAFile: ca, Digest: sha(good)}); err != nil || name(s) != "good" {
			t.Errorf("right digest: %v", err)
		}
		_, err := Open(ctx, u, &OpenOptions{CAFile: ca, Digest: sha(evil)})
		oneLine(t, err, "package "+u+": digest mismatch: --digest wants "+sha(evil)+" but the content is "+sha(good)+"; refusing to use it")
		// The digest is checked before parsing: junk that does not match
		// is refused for its digest, not for failing to parse.
		_, err = Open(ctx, srv.URL+"/junk.json", &OpenOptions{CAFile: ca, Digest: sha(good)})
		if !errors.Is(err, pin.ErrMismatch) {
			t.Errorf("junk: %v", err)
		}
		// A password in the URL is not repeated in the message.
		withPass := strings.Replace(u, "https://", "https://me:hunter2@", 1)
		_, err = Open(ctx, withPass, &OpenOptions{CAFile: ca, Digest: sha(evil)})
		if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "https://me:xxxxx@") {
			t.Errorf("password in the message: %v", err)
		}
		_, err = Open(ctx, u, &OpenOptions{CAFile: ca, Digest: "sha256:1234"})
		oneLine(t, err, `--digest "sha256:1234": want sha256: and 64 lowercase hex digits (sha256sum prints them)`)
	})
	t.Run("size", func(t *testing.T) {
		u := srv.URL + "/huge"
		_, err := Open(ctx, u, &OpenOptions{CAFile: ca})
		oneLine(t, err, fmt.Sprintf("fetch %s: the server announces %d bytes, more than the %d a package may have", u, packager.MaxPackageSize+1, packager.MaxPackageSize))
		if !errors.Is(err, fetch.ErrTooLarge) {
			t.Errorf("not ErrTooLarge: %v", err)
		}
	})
}

// --digest pins files, folders (their package.json) and stdin as well.
func TestOpenDigestLocal(t *testing.T) {
	dir := t.TempDir()
	data := fakePackage(t, "local")
	pj := filepath.Join(dir, "package.json")
	if err := os.WriteFile(pj, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	other := sha([]byte("something else"))
	for _, c := range []struct{ ref, what string }{{pj, pj}, {dir, pj}, {"-", "-"}} {
		o := func(d string) *OpenOptions { return &OpenOptions{Digest: d, Stdin: bytes.NewReader(data)} }
		s, err := Open(ctx, c.ref, o(sha(data)))
		if err != nil || s.Package.Meta.BpfSkel.ObjName != "local" || s.Name != c.ref {
			t.Errorf("%s with its digest: %v", c.ref, err)
		}
		_, err = Open(ctx, c.ref, o(other))
		oneLine(t, err, "package "+c.what+": digest mismatch: --digest wants "+other+" but the content is "+sha(data)+"; refusing to use it")
	}
	// A bare object is pinned by its own bytes, checked before it is parsed.
	obj := filepath.Join(dir, "x.bpf.o")
	os.WriteFile(obj, []byte("\x7fELF junk"), 0o644)
	if _, err := Open(ctx, obj, &OpenOptions{Digest: other}); !errors.Is(err, pin.ErrMismatch) {
		t.Errorf("bare object: %v", err)
	}
	// A folder without package.json still says how to build one.
	empty := t.TempDir()
	if _, err := Open(ctx, empty, &OpenOptions{Digest: other}); err == nil || !strings.Contains(err.Error(), "holds no package.json") {
		t.Errorf("empty folder: %v", err)
	}
}

// pushLayout pushes a fake package NAME (obj_name too) to an OCI layout
// folder and returns its reference and manifest digest.
func pushLayout(t *testing.T, name string) (layout, digest string) {
	t.Helper()
	var p packager.Package
	p.Object = []byte("\x7fELF not really an object")
	p.Meta.BpfSkel.ObjName = name
	layout = "oci:" + filepath.Join(t.TempDir(), "layout") + ":v1"
	ref, err := registry.ParseReference(layout)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dst, err := registry.OpenTarget(ctx, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := registry.Push(ctx, []packager.PlatformPackage{{Package: &p, Name: name, Platform: "linux/" + goruntime.GOARCH}}, dst, ref, nil)
	dst.Close()
	if err != nil {
		t.Fatal(err)
	}
	return layout, res.Digest
}

// For a reference, --digest is REF@DIGEST: it names the manifest to use.
func TestOpenDigestReference(t *testing.T) {
	t.Setenv("ECC_STORE_DIR", t.TempDir())
	ctx := context.Background()

	// A package pushed to an OCI layout folder opens under its digest, and
	// not under another one.
	layout, pushed := pushLayout(t, "pinned")
	s, err := Open(ctx, layout, &OpenOptions{Digest: pushed, Pull: PullAlways})
	if err != nil || s.Package.Meta.BpfSkel.ObjName != "pinned" {
		t.Fatalf("right digest: %v", err)
	}
	if _, err := Open(ctx, layout, &OpenOptions{Digest: sha([]byte("not it")), Pull: PullAlways}); err == nil {
		t.Errorf("a digest the layout lacks opened")
	} else {
		t.Logf("wrong digest: %v", err)
	}

	d := sha([]byte("manifest"))
	_, err = Open(ctx, "127.0.0.1:5000/probes/x:v1", &OpenOptions{Digest: d, Pull: PullNever})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:5000/probes/x:v1@"+d+" is not in the local store") {
		t.Errorf("got %v", err)
	}
	other := sha([]byte("other"))
	_, err = Open(ctx, "127.0.0.1:5000/probes/x:v1@"+other, &OpenOptions{Digest: d, Pull: PullNever})
	oneLine(t, err, "package 127.0.0.1:5000/probes/x:v1@"+other+": --digest "+d+" contradicts the reference's own digest")
}

// Inspect's options: a NAME.skel.json opens as metadata without an object,
// a reference pulled with NoStore is not kept, and the registry options are
// asked for only when a reference is pulled.
func TestOpenForInspect(t *testing.T) {
	t.Setenv("ECC_STORE_DIR", t.TempDir())
	ctx := context.Background()
	dir := t.TempDir()
	skel := filepath.Join(dir, "x.skel.json")
	if err := os.WriteFile(skel, []byte(`{"bpf_skel":{"obj_name":"x_bpf"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	asked := 0
	registryOptions := func() (*registry.Options, error) { asked++; return nil, nil }
	s, err := Open(ctx, skel, &OpenOptions{MetadataOnly: true, Registry: registryOptions})
	if err != nil || s.Package.Object != nil || s.Package.Meta.BpfSkel.ObjName != "x_bpf" || s.Name != skel {
		t.Fatalf("skel.json with MetadataOnly: %+v, %v", s, err)
	}
	if _, err := Open(ctx, skel, nil); err == nil || !strings.Contains(err.Error(), "is this a skel.json?") {
		t.Errorf("skel.json without MetadataOnly: %v", err)
	}
	if asked != 0 {
		t.Errorf("registry options asked for a local file")
	}

	layout, _ := pushLayout(t, "kept_out")
	s, err = Open(ctx, layout, &OpenOptions{NoStore: true, Registry: registryOptions})
	if err != nil || s.Package.Meta.BpfSkel.ObjName != "kept_out" {
		t.Fatalf("NoStore: %v", err)
	}
	if asked != 1 {
		t.Errorf("registry options asked for %d times for one pull", asked)
	}
	if _, err := Open(ctx, layout, &OpenOptions{Pull: PullNever}); err == nil || !strings.Contains(err.Error(), "is not in the local store") {
		t.Errorf("after a NoStore pull, the store has it: %v", err)
	}
}

// A build folder of several architectures (ecc build --arch A,B: A at the
// top, B in B/) opens as this machine's package wherever it is.
func TestOpenFolderPicksHostArch(t *testing.T) {
	host := packager.HostArch()
	other := "arm64"
	if host == other {
		other = "x86_64"
	}
	write := func(dir, arch string) {
		t.Helper()
		var p packager.Package
		p.Object = []byte("\x7fELF not really an object")
		p.Meta.BpfSkel.ObjName = "probe_bpf"
		p.Meta.Arch = arch
		data, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "package.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		archs [2]string // top, in a folder of its name
		want  string
	}{
		{"foreign first", [2]string{other, host}, host},
		{"host first", [2]string{host, other}, host},
		{"foreign only", [2]string{other, ""}, other}, // the runtime says it cannot run
		{"no arch", [2]string{"", ""}, ""},
	} {
		dir := t.TempDir()
		write(dir, c.archs[0])
		if c.archs[1] != "" {
			write(filepath.Join(dir, c.archs[1]), c.archs[1])
		}
		s, err := Open(ctx, dir, nil)
		if err != nil || s.Package.Meta.Arch != c.want || s.Name != dir {
			t.Errorf("%s: %v, %+v; want arch %q", c.name, err, s, c.want)
		}
		// Platform asks for the other one (ecc test on a kernel of it):
		// found where there is one, else the top one.
		want := other
		if c.archs[0] != other && c.archs[1] != other {
			want = c.archs[0]
		}
		s, err = Open(ctx, dir, &OpenOptions{Platform: "linux/" + packager.OCIArch(other)})
		if err != nil || s.Package.Meta.Arch != want {
			t.Errorf("%s, platform %s: %v, %+v; want arch %q", c.name, other, err, s, want)
		}
	}
}
