package registrytest

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// FaultyProxy is a plain-HTTP reverse proxy in front of a registry that
// injects faults on demand. Each fault fires once.
type FaultyProxy struct {
	// Host is host:port of the proxy; point references at it.
	Host, URL string

	upstream  *url.URL
	transport *http.Transport
	count     atomic.Int64
	faults    atomic.Int64

	mu        sync.Mutex
	cutGet    int64 // bytes of the next blob GET body to pass, or -1
	cutUpload int64 // bytes of the next PUT/PATCH body to read, or -1
	fails     []failRule
}

type failRule struct {
	re     *regexp.Regexp
	status int
}

// NewFaultyProxy starts a proxy to upstream (a URL such as Server.URL, or
// host:port for plain HTTP). The Host header is passed through, so a token
// realm built from it points back through the proxy.
func NewFaultyProxy(t testing.TB, upstream string) *FaultyProxy {
	t.Helper()
	if !strings.Contains(upstream, "://") {
		upstream = "http://" + upstream
	}
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatalf("registrytest: upstream %q: %v", upstream, err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // the upstream is a test server
	p := &FaultyProxy{upstream: u, transport: tr, cutGet: -1, cutUpload: -1}
	srv := httptest.NewServer(p)
	t.Cleanup(func() {
		srv.Close()
		tr.CloseIdleConnections()
	})
	p.URL = srv.URL
	p.Host = strings.TrimPrefix(srv.URL, "http://")
	return p
}

// CutNextBlobGet makes the next successful blob download (GET …/blobs/<digest>)
// send only n bytes of its body and then drop the connection.
func (p *FaultyProxy) CutNextBlobGet(n int64) {
	p.mu.Lock()
	p.cutGet = n
	p.mu.Unlock()
}

// CutNextUpload makes the proxy read n bytes of the next PUT or PATCH request
// body that has one and then drop the connection without forwarding it.
func (p *FaultyProxy) CutNextUpload(n int64) {
	p.mu.Lock()
	p.cutUpload = n
	p.mu.Unlock()
}

// FailNext answers the next request whose path matches the regular
// expression pattern with 503 Service Unavailable, once.
func (p *FaultyProxy) FailNext(pattern string) {
	p.FailNextWith(pattern, http.StatusServiceUnavailable)
}

// FailNextWith is FailNext with another status code.
func (p *FaultyProxy) FailNextWith(pattern string, status int) {
	re := regexp.MustCompile(pattern)
	p.mu.Lock()
	p.fails = append(p.fails, failRule{re: re, status: status})
	p.mu.Unlock()
}

// Faults is the number of faults injected so far.
func (p *FaultyProxy) Faults() int { return int(p.faults.Load()) }

// Count is the number of requests received so far.
func (p *FaultyProxy) Count() int { return int(p.count.Load()) }

// takeFail removes and returns the status of the first rule matching path.
func (p *FaultyProxy) takeFail(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, f := range p.fails {
		if f.re.MatchString(path) {
			p.fails = append(p.fails[:i], p.fails[i+1:]...)
			return f.status
		}
	}
	return 0
}

func take(mu *sync.Mutex, v *int64) int64 {
	mu.Lock()
	defer mu.Unlock()
	n := *v
	*v = -1
	return n
}

func peek(mu *sync.Mutex, v *int64) bool {
	mu.Lock()
	defer mu.Unlock()
	return *v >= 0
}

func isBlobGet(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") &&
		!strings.Contains(r.URL.Path, "/blobs/uploads/")
}

var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func (p *FaultyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.count.Add(1)
	if status := p.takeFail(r.URL.Path); status != 0 {
		p.faults.Add(1)
		writeError(w, status, "UNAVAILABLE", "fault injected by registrytest")
		return
	}
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	if (r.Method == http.MethodPut || r.Method == http.MethodPatch) && hasBody && peek(&p.mu, &p.cutUpload) {
		n := take(&p.mu, &p.cutUpload)
		io.CopyN(io.Discard, r.Body, n)
		p.faults.Add(1)
		panic(http.ErrAbortHandler) // closes the connection mid-request
	}

	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme = p.upstream.Scheme
	out.URL.Host = p.upstream.Host
	out.Host = r.Host
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	if !hasBody {
		out.Body = nil
	}
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, h := range hopHeaders {
		w.Header().Del(h)
	}
	if loc := resp.Header.Get("Location"); strings.HasPrefix(loc, p.upstream.String()) {
		w.Header().Set("Location", p.URL+strings.TrimPrefix(loc, p.upstream.String()))
	}
	if resp.StatusCode == http.StatusOK && isBlobGet(r) && peek(&p.mu, &p.cutGet) {
		n := take(&p.mu, &p.cutGet)
		w.WriteHeader(resp.StatusCode)
		io.CopyN(w, resp.Body, n)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		p.faults.Add(1)
		panic(http.ErrAbortHandler)
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}
