package fetch

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecc-bpf/ecc/internal/tlsconf"
)

var ctx = context.Background()

// caFile writes the test server's self-signed certificate as a PEM CA file.
func caFile(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	if err.Error() != want {
		t.Errorf("error\n got %q\nwant %q", err.Error(), want)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
}

func TestPlainHTTP(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("payload"))
	}))
	defer srv.Close()
	u := srv.URL + "/p/package.json"
	_, err := Get(ctx, u, nil)
	wantErr(t, err, "fetch "+u+": refusing plain HTTP: anyone on the network path could swap the package, which runs as root; use https://, or pass --plain-http to allow it (best with --digest sha256:... to pin what runs)")
	if !errors.Is(err, ErrPlainHTTP) {
		t.Errorf("not ErrPlainHTTP: %v", err)
	}
	if hits.Load() != 0 {
		t.Errorf("the server was contacted %d times before the refusal", hits.Load())
	}
	// The scheme is checked case-insensitively: HTTP:// is plain HTTP too.
	up := "HTTP://" + strings.TrimPrefix(u, "http://")
	if !IsURL(up) {
		t.Errorf("IsURL(%q) = false", up)
	}
	if _, err := Get(ctx, up, nil); !errors.Is(err, ErrPlainHTTP) {
		t.Errorf("%s: %v", up, err)
	}
	data, err := Get(ctx, u, &Options{PlainHTTP: true})
	if err != nil || string(data) != "payload" {
		t.Fatalf("with PlainHTTP: %q, %v", data, err)
	}
	for _, bad := range []string{"ftp://x/p.json", "https://", "http:///p.json"} {
		if _, err := Get(ctx, bad, &Options{PlainHTTP: true}); err == nil || !strings.Contains(err.Error(), "not an http:// or https:// URL") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// servers: an HTTPS server whose /hop/N redirects N more times before
// serving, /to-http redirects to the plain server, and a plain server whose
// /to-https redirects back to TLS.
type servers struct {
	tls, plain *httptest.Server
	plainHits  atomic.Int32
	ca         string
}

func newServers(t *testing.T) *servers {
	s := &servers{}
	s.plain = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.plainHits.Add(1)
		switch {
		case r.URL.Path == "/to-https":
			http.Redirect(w, r, s.tls.URL+"/hop/0", http.StatusFound)
		case r.URL.Path == "/to-https-to-http":
			http.Redirect(w, r, s.tls.URL+"/to-http", http.StatusFound)
		case r.URL.Path == "/to-plain":
			http.Redirect(w, r, "/served", http.StatusMovedPermanently)
		default:
			w.Write([]byte("plain " + r.URL.Path))
		}
	}))
	s.tls = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n, ok := strings.CutPrefix(r.URL.Path, "/hop/"); ok {
			i, _ := strconv.Atoi(n)
			if i == 0 {
				w.Write([]byte("tls payload"))
				return
			}
			http.Redirect(w, r, fmt.Sprintf("/hop/%d", i-1), http.StatusTemporaryRedirect)
			return
		}
		if r.URL.Path == "/to-http" {
			http.Redirect(w, r, s.plain.URL+"/evil.json", http.StatusFound)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(s.plain.Close)
	t.Cleanup(s.tls.Close)
	s.ca = caFile(t, s.tls)
	return s
}

func TestRedirects(t *testing.T) {
	s := newServers(t)
	o := &Options{CAFile: s.ca}
	t.Run("https-to-https", func(t *testing.T) {
		data, err := Get(ctx, s.tls.URL+"/hop/5", o)
		if err != nil || string(data) != "tls payload" {
			t.Fatalf("5 redirects: %q, %v", data, err)
		}
		u := s.tls.URL + "/hop/6"
		_, err = Get(ctx, u, o)
		wantErr(t, err, "fetch "+u+": more than 5 redirects (the last to "+s.tls.URL+"/hop/0)")
	})
	t.Run("https-to-http", func(t *testing.T) {
		u := s.tls.URL + "/to-http"
		for _, plain := range []bool{false, true} {
			_, err := Get(ctx, u, &Options{CAFile: s.ca, PlainHTTP: plain})
			wantErr(t, err, "fetch "+u+": refusing the redirect from "+u+" to "+s.plain.URL+"/evil.json: it drops TLS (never followed, even with --plain-http)")
			if !errors.Is(err, ErrInsecureRedirect) {
				t.Errorf("not ErrInsecureRedirect: %v", err)
			}
		}
		if n := s.plainHits.Load(); n != 0 {
			t.Errorf("the plain server was contacted %d times", n)
		}
	})
	t.Run("http-to-https-to-http", func(t *testing.T) {
		// Once a hop was HTTPS, no later hop may be HTTP.
		u := s.plain.URL + "/to-https-to-http"
		_, err := Get(ctx, u, &Options{CAFile: s.ca, PlainHTTP: true})
		if !errors.Is(err, ErrInsecureRedirect) {
			t.Fatalf("got %v", err)
		}
		if n := s.plainHits.Load(); n != 1 {
			t.Errorf("the plain server was contacted %d times, want once (the first request)", n)
		}
	})
	t.Run("plain-allowed", func(t *testing.T) {
		data, err := Get(ctx, s.plain.URL+"/to-https", &Options{CAFile: s.ca, PlainHTTP: true})
		if err != nil || string(data) != "tls payload" {
			t.Errorf("http → https: %q, %v", data, err)
		}
		data, err = Get(ctx, s.plain.URL+"/to-plain", &Options{PlainHTTP: true})
		if err != nil || string(data) != "plain /served" {
			t.Errorf("http → http with PlainHTTP: %q, %v", data, err)
		}
	})
}

func TestTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("over TLS"))
	}))
	defer srv.Close()
	u := srv.URL + "/package.json"
	_, err := Get(ctx, u, nil)
	wantErr(t, err, "fetch "+u+": tls: failed to verify certificate: x509: certificate signed by unknown authority")
	if !tlsconf.IsCertError(err) {
		t.Errorf("%v: the certificate error is not in the chain", err)
	}
	for name, o := range map[string]*Options{
		"ca-file":  {CAFile: caFile(t, srv)},
		"insecure": {Insecure: true},
	} {
		data, err := Get(ctx, u, o)
		if err != nil || string(data) != "over TLS" {
			t.Errorf("%s: %q, %v", name, data, err)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o644)
	_, err = Get(ctx, u, &Options{CAFile: bad})
	wantErr(t, err, "--ca-file "+bad+" holds no PEM certificate")
}

func TestStatus(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/gone", http.StatusFound)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	o := &Options{CAFile: caFile(t, srv)}
	_, err := Get(ctx, srv.URL+"/x.json", o)
	wantErr(t, err, "fetch "+srv.URL+"/x.json: 404 Not Found")
	_, err = Get(ctx, srv.URL+"/moved", o)
	wantErr(t, err, "fetch "+srv.URL+"/moved: 404 Not Found (redirected to "+srv.URL+"/gone)")
}

// hijack answers with raw bytes, so the test controls Content-Length and
// when the connection ends.
func hijack(w http.ResponseWriter, raw string, hold <-chan struct{}) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	buf.WriteString(raw)
	buf.Flush()
	if hold != nil {
		<-hold
	}
}

func TestSizeAndContentLength(t *testing.T) {
	release := make(chan struct{})
	var endless atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/announces-huge":
			// Announces more than the cap, sends a little, then stalls:
			// the announcement alone refuses it.
			hijack(w, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n{", release)
		case "/endless":
			// No Content-Length: streams until the client stops reading.
			chunk := []byte(strings.Repeat("x", 4096))
			for {
				if _, err := w.Write(chunk); err != nil {
					return
				}
				endless.Add(int64(len(chunk)))
			}
		case "/short":
			// Announces 100 bytes, sends 5 and hangs up.
			hijack(w, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", nil)
		case "/long":
			// Announces 5 bytes, sends more: only 5 are taken.
			hijack(w, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst and then some more", nil)
		case "/exact":
			w.Write([]byte(strings.Repeat("y", 1000)))
		}
	}))
	defer srv.Close()
	defer close(release)
	o := &Options{PlainHTTP: true, MaxSize: 1000}

	start := time.Now()
	_, err := Get(ctx, srv.URL+"/announces-huge", o)
	wantErr(t, err, "fetch "+srv.URL+"/announces-huge: the server announces 1000000 bytes, more than the 1000 a package may have")
	if !errors.Is(err, ErrTooLarge) || time.Since(start) > 5*time.Second {
		t.Errorf("%v after %v", err, time.Since(start))
	}
	_, err = Get(ctx, srv.URL+"/endless", o)
	wantErr(t, err, "fetch "+srv.URL+"/endless: larger than the 1000 bytes a package may have")
	_, err = Get(ctx, srv.URL+"/short", o)
	wantErr(t, err, "fetch "+srv.URL+"/short: the body ended after 5 of the 100 bytes its Content-Length announced")
	data, err := Get(ctx, srv.URL+"/long", o)
	if err != nil || string(data) != "first" {
		t.Errorf("longer than announced: %q, %v", data, err)
	}
	if data, err := Get(ctx, srv.URL+"/exact", o); err != nil || len(data) != 1000 {
		t.Errorf("exactly the cap: %d bytes, %v", len(data), err)
	}
}

func TestTimeouts(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/silent":
			// Never answers.
			select {
			case <-r.Context().Done():
			case <-release:
			}
		case "/dribble":
			// Headers at once, then a byte every 50ms, forever.
			w.Header().Set("Content-Length", "1000000")
			w.WriteHeader(http.StatusOK)
			for {
				if _, err := w.Write([]byte("x")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-release:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}
	}))
	defer srv.Close()
	defer close(release)

	start := time.Now()
	_, err := Get(ctx, srv.URL+"/silent", &Options{PlainHTTP: true, HeaderTimeout: 200 * time.Millisecond})
	wantErr(t, err, "fetch "+srv.URL+"/silent: no response headers within 200ms")
	if !errors.Is(err, ErrTimeout) || time.Since(start) > 5*time.Second {
		t.Errorf("%v after %v", err, time.Since(start))
	}
	// The total timeout also bounds a server that never sends headers.
	_, err = Get(ctx, srv.URL+"/silent", &Options{PlainHTTP: true, Timeout: 300 * time.Millisecond})
	wantErr(t, err, "fetch "+srv.URL+"/silent: no answer within 300ms")

	start = time.Now()
	_, err = Get(ctx, srv.URL+"/dribble", &Options{PlainHTTP: true, Timeout: 500 * time.Millisecond})
	if err == nil || !regexp.MustCompile(`^fetch `+regexp.QuoteMeta(srv.URL)+`/dribble: not complete within 500ms \(\d+ bytes received\)$`).MatchString(err.Error()) {
		t.Errorf("dribble: %v", err)
	}
	if !errors.Is(err, ErrTimeout) || time.Since(start) > 5*time.Second {
		t.Errorf("%v after %v", err, time.Since(start))
	}
	// A caller's cancellation is not reported as a timeout.
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = Get(cctx, srv.URL+"/silent", &Options{PlainHTTP: true})
	if err == nil || errors.Is(err, ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// A password in the URL never shows in messages, and is not sent to
// another host a redirect leads to (a relative redirect keeps it, as
// browsers do).
func TestCredentials(t *testing.T) {
	var auths []string
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auths = append(auths, "other"+r.URL.Path+" "+r.Header.Get("Authorization"))
		http.NotFound(w, r)
	}))
	defer other.Close()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auths = append(auths, r.URL.Path+" "+r.Header.Get("Authorization"))
		switch r.URL.Path {
		case "/start":
			http.Redirect(w, r, "/next", http.StatusFound)
		case "/next":
			http.Redirect(w, r, other.URL+"/away", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	u := strings.Replace(srv.URL, "https://", "https://user:hunter2@", 1)
	_, err := Get(ctx, u+"/start", &Options{CAFile: caFile(t, srv)})
	red := strings.Replace(srv.URL, "https://", "https://user:xxxxx@", 1)
	wantErr(t, err, "fetch "+red+"/start: 404 Not Found (redirected to "+other.URL+"/away)")
	basic := "Basic dXNlcjpodW50ZXIy"
	if want := []string{"/start " + basic, "/next " + basic, "other/away "}; strings.Join(auths, "|") != strings.Join(want, "|") {
		t.Errorf("requests %q, want %q", auths, want)
	}
}
