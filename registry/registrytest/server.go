package registrytest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

// ServerOptions configures NewServer.
type ServerOptions struct {
	// Username and Password, when set, are the only accepted credentials.
	// Without Token the registry asks for them with a Basic challenge.
	Username, Password string
	// Token makes the registry answer 401 with a Bearer challenge whose realm
	// is <server>/token; that endpoint trades the basic credentials (or none,
	// when Username is empty) for a token the registry then accepts.
	Token bool
	// TLS serves HTTPS with httptest's self-signed certificate (valid for
	// 127.0.0.1 and example.com); see Server.CAFile.
	TLS bool
}

// Request is one request the server answered.
type Request struct {
	Method string
	Path   string
	Status int
	// Auth is the scheme of the Authorization header sent: "", "basic" or
	// "bearer".
	Auth string
}

func (r Request) String() string { return fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status) }

// Server is an in-process registry.
type Server struct {
	// Host is host:port (127.0.0.1:PORT), URL is scheme://host:port.
	Host, URL string

	srv   *httptest.Server
	opts  ServerOptions
	count atomic.Int64

	mu     sync.Mutex
	reqs   []Request
	tokens map[string]bool
	scopes []string
}

// NewServer starts a registry that is shut down when the test ends.
func NewServer(t testing.TB, opts ServerOptions) *Server {
	t.Helper()
	s := Start(opts)
	t.Cleanup(s.Close)
	return s
}

// Start starts a registry that runs until Close, for code without a
// testing.TB (an Example); tests call NewServer.
func Start(opts ServerOptions) *Server {
	s := &Server{opts: opts, tokens: map[string]bool{}}
	reg := ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)), ggcr.WithReferrersSupport(true))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.count.Add(1)
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		s.serve(rec, r, reg)
		scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		s.mu.Lock()
		s.reqs = append(s.reqs, Request{Method: r.Method, Path: r.URL.Path, Status: rec.status, Auth: strings.ToLower(scheme)})
		s.mu.Unlock()
	})
	s.srv = httptest.NewUnstartedServer(h)
	// Tests provoke TLS handshake failures on purpose; keep them quiet.
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if opts.TLS {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	s.URL = s.srv.URL
	s.Host = strings.TrimPrefix(strings.TrimPrefix(s.URL, "https://"), "http://")
	return s
}

// Close shuts the registry down.
func (s *Server) Close() { s.srv.Close() }

func (s *Server) serve(w http.ResponseWriter, r *http.Request, reg http.Handler) {
	if r.URL.Path == "/token" && s.opts.Token {
		s.serveToken(w, r)
		return
	}
	if !s.authorized(r) {
		if s.opts.Token {
			scheme := "http"
			if r.TLS != nil {
				scheme = "https"
			}
			challenge := fmt.Sprintf(`Bearer realm="%s://%s/token",service="test"`, scheme, r.Host)
			if name := repoName(r.URL.Path); name != "" {
				challenge += fmt.Sprintf(`,scope="repository:%s:pull,push"`, name)
			}
			w.Header().Set("WWW-Authenticate", challenge)
		} else {
			w.Header().Set("WWW-Authenticate", `Basic realm="registrytest"`)
		}
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return
	}
	reg.ServeHTTP(w, r)
}

func (s *Server) authorized(r *http.Request) bool {
	switch {
	case s.opts.Token:
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		s.mu.Lock()
		defer s.mu.Unlock()
		return strings.EqualFold(scheme, "bearer") && s.tokens[tok]
	case s.opts.Username != "" || s.opts.Password != "":
		return s.checkBasic(r)
	}
	return true
}

func (s *Server) checkBasic(r *http.Request) bool {
	if s.opts.Username == "" && s.opts.Password == "" {
		return true
	}
	u, p, ok := r.BasicAuth()
	return ok && u == s.opts.Username && p == s.opts.Password
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if !s.checkBasic(r) {
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "invalid username or password")
		return
	}
	b := make([]byte, 16)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = true
	s.scopes = append(s.scopes, r.URL.Query()["scope"]...)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok, "expires_in": 300})
}

// repoName extracts NAME from /v2/NAME/{manifests,blobs,tags,referrers}/….
func repoName(p string) string {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return ""
	}
	for _, sep := range []string{"/manifests/", "/blobs/", "/tags/", "/referrers/"} {
		if i := strings.LastIndex(rest, sep); i > 0 {
			return rest[:i]
		}
	}
	return ""
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, code, msg)
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Count is the number of requests answered so far (token requests included).
func (s *Server) Count() int { return int(s.count.Load()) }

// Requests returns the requests answered so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Scopes returns the scopes asked for at /token so far.
func (s *Server) Scopes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.scopes...)
}

// Reset forgets the request log and the count (tokens stay valid).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = nil
	s.scopes = nil
	s.count.Store(0)
}

// CAFile writes the certificate of a TLS server as PEM into a temporary file
// and returns its path (for Options.CAFile / --ca-file).
func (s *Server) CAFile(t testing.TB) string {
	t.Helper()
	cert := s.srv.Certificate()
	if cert == nil {
		t.Fatal("registrytest: CAFile on a server without TLS")
	}
	p := filepath.Join(t.TempDir(), "ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Client returns an HTTP client that trusts the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }
