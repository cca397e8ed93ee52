package registry

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/ecc-bpf/ecc/registry/registrytest"
)

// A fault on a manifest in a push, and on a manifest and a blob in a pull:
// both get through, WrapTransport sees every attempt, the retried ones
// included (the counter sees what the proxy sees), and every request
// carries the User-Agent. (The faults hit requests that are alone in flight:
// a failure cancels the concurrent ones, which the counter may see and the
// proxy not.)
func TestRetryAndRequestCounting(t *testing.T) {
	isolate(t)
	ctx := context.Background()
	srv := registrytest.NewServer(t, registrytest.ServerOptions{})
	proxy := registrytest.NewFaultyProxy(t, srv.URL)
	ref := mustParse(t, proxy.Host+"/probe:v1")
	counter := &registrytest.Counter{}
	var mu sync.Mutex
	agents := map[string]bool{}
	wrap := func(rt http.RoundTripper) http.RoundTripper {
		return counter.Wrap(roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			agents[r.Header.Get("User-Agent")] = true
			mu.Unlock()
			return rt.RoundTrip(r)
		}))
	}
	target, err := OpenTarget(ctx, ref, &Options{WrapTransport: wrap, UserAgent: "ecc/test-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	proxy.FailNext(`/manifests/`)
	if _, err := Push(ctx, testPackages(t, 7), target, ref, nil); err != nil {
		t.Fatal(err)
	}
	proxy.FailNext(`/manifests/`)
	proxy.FailNext(`/blobs/sha256:`)
	p, err := Pull(ctx, target, ref, openStore(t), &PullOptions{Platform: "linux/arm64"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Package.Package.Meta.Arch != "arm64" {
		t.Errorf("pulled %s", p.Package.Package.Meta.Arch)
	}
	if proxy.Faults() != 3 {
		t.Errorf("faults injected = %d, want 3", proxy.Faults())
	}
	if counter.Count() != proxy.Count() || srv.Count() != proxy.Count()-3 {
		t.Errorf("counter %d, proxy %d, server %d: want counter == proxy == server+3",
			counter.Count(), proxy.Count(), srv.Count())
	}
	if len(agents) != 1 || !agents["ecc/test-1"] {
		t.Errorf("User-Agent headers = %v", agents)
	}
	if ua := userAgent(&Options{}); !strings.HasPrefix(ua, "ecc/") {
		t.Errorf("default User-Agent = %q", ua)
	}
}

// One retry loop, counted: a request that keeps failing is sent 1+Retries
// times (with oras-go's retrying transport below the loop, as before, it
// was sent up to six times per attempt); a retried push uploads nothing
// again; a blob cut off midway is fetched twice, and nothing else again;
// errors that are final are not retried.
func TestRetryAttempts(t *testing.T) {
	isolate(t)
	ctx := context.Background()
	srv := registrytest.NewServer(t, registrytest.ServerOptions{})
	proxy := registrytest.NewFaultyProxy(t, srv.Host)
	ref := mustRef(t, proxy.Host+"/probes/retry:v1")
	var c registrytest.Counter
	target, err := OpenTarget(ctx, ref, &Options{WrapTransport: c.Wrap})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	from := 0
	mark := func() { from = c.Count() }
	count := func(method, part string) int {
		n := 0
		for _, r := range c.Requests()[from:] {
			if strings.HasPrefix(r, method+" ") && strings.Contains(r, part) {
				n++
			}
		}
		return n
	}
	faults := func(pattern string, status, n int) {
		for range n {
			proxy.FailNextWith(pattern, status)
		}
	}

	// A push whose first manifest PUT keeps failing: three attempts with
	// Retries 2; the blobs are uploaded by the first only.
	faults(`/manifests/`, http.StatusServiceUnavailable, 3)
	mark()
	if _, err := Push(ctx, testPackages(t, 8), target, ref, &PushOptions{Retries: 2}); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("push against a failing registry: %v", err)
	}
	if got := count("PUT", "/manifests/"); got != 3 {
		t.Errorf("manifest PUTs = %d, want 3 (1 + 2 retries)", got)
	}
	if got := count("POST", "/blobs/uploads/"); got != 4 {
		t.Errorf("blob uploads = %d, want 4 (each blob once)", got)
	}
	// Two failures, three attempts (the default): the third gets through
	// and uploads nothing again.
	faults(`/manifests/`, http.StatusServiceUnavailable, 2)
	mark()
	if _, err := Push(ctx, testPackages(t, 8), target, ref, nil); err != nil {
		t.Fatal(err)
	}
	if got, up := count("PUT", "/manifests/"), count("POST", "/blobs/uploads/"); got != 2+3 || up != 0 {
		t.Errorf("manifest PUTs = %d, want 5 (2 failed, 2 manifests and the index); uploads = %d, want 0", got, up)
	}

	// A pull whose index keeps failing: 1 + Retries GETs.
	faults(`/manifests/v1$`, http.StatusServiceUnavailable, 3)
	mark()
	if _, err := Pull(ctx, target, ref, openStore(t), &PullOptions{Retries: 2}); err == nil {
		t.Fatal("pull against a failing registry succeeded")
	}
	if got := count("GET", "/manifests/v1"); got != 3 {
		t.Errorf("index GETs = %d, want 3 (1 + 2 retries)", got)
	}
	// 429 (too many requests) is retried too.
	faults(`/manifests/v1$`, http.StatusTooManyRequests, 1)
	mark()
	if _, err := Pull(ctx, target, ref, openStore(t), nil); err != nil {
		t.Fatal(err)
	}
	if got := count("GET", "/manifests/v1"); got != 2 {
		t.Errorf("index GETs after a 429 = %d, want 2", got)
	}
	// A blob cut off midway: that blob is fetched again, nothing else.
	proxy.CutNextBlobGet(100)
	mark()
	p, err := Pull(ctx, target, ref, openStore(t), &PullOptions{Platform: "linux/amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if got, man := count("GET", "/blobs/"+p.Manifest.Object.Digest.String()), count("GET", "/manifests/"); got != 2 || man != 2 {
		t.Errorf("object GETs = %d, want 2 (cut, then whole); manifest GETs = %d, want 2 (index, manifest)", got, man)
	}
	// Final errors are tried once: an unknown tag.
	mark()
	if _, err := Pull(ctx, target, mustRef(t, proxy.Host+"/probes/retry:nope"), openStore(t), nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pull of an unknown tag: %v", err)
	}
	if got := count("GET", "/manifests/nope"); got != 1 {
		t.Errorf("GETs of an unknown tag = %d, want 1", got)
	}
	// And a certificate the client does not trust, by a pull and a login.
	tlsSrv := registrytest.NewServer(t, registrytest.ServerOptions{TLS: true})
	var tc registrytest.Counter
	tref := mustRef(t, tlsSrv.Host+"/probes/retry:v1")
	tsrc, err := OpenTarget(ctx, tref, &Options{RequireTLS: true, WrapTransport: tc.Wrap})
	if err != nil {
		t.Fatal(err)
	}
	defer tsrc.Close()
	if _, err := Pull(ctx, tsrc, tref, openStore(t), nil); !errors.Is(err, ErrCertificate) {
		t.Fatalf("pull from an untrusted registry: %v", err)
	}
	if err := Login(ctx, tlsSrv.Host, "u", "p", &Options{RequireTLS: true, WrapTransport: tc.Wrap}); err == nil {
		t.Fatal("login to an untrusted registry succeeded")
	}
	if got := tc.Count(); got != 2 {
		t.Errorf("requests to an untrusted registry = %d (%v), want 2 (one each)", got, tc.Requests())
	}
}
