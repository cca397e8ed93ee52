package registrytest

import (
	"net/http"
	"sync"
)

// Counter counts the HTTP requests that go through the round trippers it
// wraps; pass Counter.Wrap as registry.Options.WrapTransport.
type Counter struct {
	mu   sync.Mutex
	reqs []string
}

// Wrap returns rt counting every request.
func (c *Counter) Wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		c.mu.Lock()
		c.reqs = append(c.reqs, r.Method+" "+r.URL.Path)
		c.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

// Count is the number of requests sent so far.
func (c *Counter) Count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.reqs)
}

// Requests lists the requests sent so far as "METHOD /path".
func (c *Counter) Requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.reqs...)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
