package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager"
)

func sha256Of(data []byte) string {
	s := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(s[:])
}

// urlServers serves pkg over HTTPS (a self-signed certificate, its CA in
// ca) at /pkg/package.json and over plain HTTP; /to-http on the HTTPS
// server redirects to the plain one, /hop to /pkg/package.json.
type urlServers struct {
	tls, plain *httptest.Server
	plainHits  atomic.Int32
	ca         string
}

func newURLServers(t *testing.T, pkg []byte) *urlServers {
	t.Helper()
	s := &urlServers{}
	s.plain = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.plainHits.Add(1)
		w.Write(pkg)
	}))
	s.tls = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/pkg/package.json":
			w.Write(pkg)
		case "/to-http":
			http.Redirect(w, r, s.plain.URL+"/pkg/package.json", http.StatusFound)
		case "/hop":
			http.Redirect(w, r, "/pkg/package.json", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.plain.Close)
	t.Cleanup(s.tls.Close)
	s.ca = filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(s.ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.tls.Certificate().Raw}), 0o644)
	return s
}

// Refusals need no kernel: each is one line on stderr, exit status 1, and
// comes before anything is parsed or loaded.
func TestRunURLRefusals(t *testing.T) {
	var p packager.Package
	p.Object = []byte("\x7fELF not an object: loading it would fail differently")
	p.Meta.BpfSkel.ObjName = "urlprobe"
	pkg, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := newURLServers(t, pkg)
	wrong := sha256Of([]byte("another package"))
	plainURL := s.plain.URL + "/pkg/package.json"
	tlsURL := s.tls.URL + "/pkg/package.json"
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "package.json"), pkg, 0o644)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"plain http", []string{"run", plainURL},
			"ecli: fetch " + plainURL + ": refusing plain HTTP: anyone on the network path could swap the package, which runs as root; use https://, or pass --plain-http to allow it (best with --digest sha256:... to pin what runs)"},
		{"https to http", []string{"run", "--plain-http", "--ca-file", s.ca, s.tls.URL + "/to-http"},
			"ecli: fetch " + s.tls.URL + "/to-http: refusing the redirect from " + s.tls.URL + "/to-http to " + plainURL + ": it drops TLS (never followed, even with --plain-http)"},
		{"self-signed", []string{"run", tlsURL},
			"ecli: fetch " + tlsURL + ": tls: failed to verify certificate: x509: certificate signed by unknown authority\n" +
				"ecli: hint: if the server uses a private certificate authority pass --ca-file FILE (or --insecure to skip verification)"},
		{"url digest", []string{"run", "--ca-file", s.ca, "--digest", wrong, tlsURL},
			"ecli: package " + tlsURL + ": digest mismatch: --digest wants " + wrong + " but the content is " + sha256Of(pkg) + "; refusing to use it"},
		{"plain url digest", []string{"run", "--plain-http", "--digest", wrong, plainURL},
			"ecli: package " + plainURL + ": digest mismatch: --digest wants " + wrong + " but the content is " + sha256Of(pkg) + "; refusing to use it"},
		{"folder digest", []string{"run", "--digest", wrong, dir},
			"ecli: package " + filepath.Join(dir, "package.json") + ": digest mismatch: --digest wants " + wrong + " but the content is " + sha256Of(pkg) + "; refusing to use it"},
		{"bad digest", []string{"run", "--digest", "sha256:abc", dir},
			`ecli: --digest "sha256:abc": want sha256: and 64 lowercase hex digits (sha256sum prints them)`},
		{"inspect plain http", []string{"inspect", plainURL},
			"ecli: fetch " + plainURL + ": refusing plain HTTP: anyone on the network path could swap the package, which runs as root; use https://, or pass --plain-http to allow it (best with --digest sha256:... to pin what runs)"},
		{"inspect https to http", []string{"inspect", "--plain-http", "--ca-file", s.ca, s.tls.URL + "/to-http"},
			"ecli: fetch " + s.tls.URL + "/to-http: refusing the redirect from " + s.tls.URL + "/to-http to " + plainURL + ": it drops TLS (never followed, even with --plain-http)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.plainHits.Store(0)
			stdout, stderr, status := ecli(t, c.args...)
			if status != 1 {
				t.Errorf("status %d, want 1", status)
			}
			if stderr != c.want+"\n" || stdout != "" {
				t.Errorf("stderr\n got %q\nwant %q\nstdout %q", stderr, c.want+"\n", stdout)
			}
			if strings.Contains(c.name, "to http") && s.plainHits.Load() != 0 {
				t.Errorf("the plain server was contacted")
			}
		})
	}
	// What the rules let through reaches the parser and loader: the fake
	// object fails there, not in the fetch.
	for _, args := range [][]string{
		{"run", "--plain-http", plainURL},
		{"run", "--ca-file", s.ca, "--digest", sha256Of(pkg), s.tls.URL + "/hop"},
		{"run", "--insecure", tlsURL},
		{"run", "--digest", sha256Of(pkg), dir},
	} {
		_, stderr, status := ecli(t, args...)
		if status != 1 || strings.Contains(stderr, "fetch ") || strings.Contains(stderr, "digest") || strings.Contains(stderr, "goroutine ") {
			t.Errorf("%q: status %d\n%s", args, status, stderr)
		}
	}
	// inspect fetches it too, then reads the object, which is fake.
	stdout, stderr, status := ecli(t, "inspect", "--ca-file", s.ca, tlsURL)
	if status != 1 || !strings.Contains(stderr, "read BPF object") || strings.Contains(stderr, "fetch ") {
		t.Errorf("inspect over https: status %d\n%s%s", status, stdout, stderr)
	}
}

// A real package fetched over HTTPS with --ca-file and a pinned digest runs.
func TestRunURLPinned(t *testing.T) {
	testenv.Kernel(t)
	pkg, err := os.ReadFile(buildPkg(t, "execsnoop"))
	if err != nil {
		t.Fatal(err)
	}
	s := newURLServers(t, pkg)
	_, stderr, status := ecli(t, "run", "-v", "-d", "300ms", "--ca-file", s.ca, "--digest", sha256Of(pkg), s.tls.URL+"/hop")
	if status != 0 || !strings.Contains(stderr, "attached") {
		t.Fatalf("status %d\n%s", status, stderr)
	}
}
