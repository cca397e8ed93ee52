package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"time"
)

// stallBytes is the progress a transfer must make in each Options.Timeout.
const stallBytes = 1 << 10

// TimeoutError says which host did not answer, or stalled, and in what.
type TimeoutError struct {
	// Host is the host:port that timed out; Registry the registry whose
	// request it was (they differ when the registry redirected to another
	// host, e.g. blob storage).
	Host, Registry string
	// What happened, e.g. "sent no response headers".
	What  string
	After time.Duration
}

func (e *TimeoutError) Error() string {
	who := "registry " + e.Host
	if e.Registry != "" && e.Registry != e.Host {
		who = e.Host + " (where registry " + e.Registry + " redirected)"
	}
	return fmt.Sprintf("%s %s within %s", who, e.What, e.After)
}

func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// timeoutTransport fails requests whose server does not accept the
// connection, send response headers, or move data for a while:
//
//   - until the response headers arrive (connecting and sending the request
//     included), the clock runs and is reset whenever another 1 KiB of the
//     request body has been taken;
//   - while reading the response body, the clock runs only inside Read (a
//     slow consumer is not the server's fault), and the budget is renewed
//     each time 1 KiB has arrived. So a server that sends nothing and one
//     that dribbles a byte a second both fail after the timeout.
//
// The request is then cancelled and the error is a *TimeoutError, which is
// not retried (waiting again for a stuck server would multiply the wait).
type timeoutTransport struct {
	next     http.RoundTripper
	timeout  time.Duration
	registry string
}

func newTimeoutTransport(next http.RoundTripper, timeout time.Duration, registry string) http.RoundTripper {
	if timeout <= 0 {
		return next
	}
	return &timeoutTransport{next: next, timeout: timeout, registry: registry}
}

// watch is the clock of one request.
type watch struct {
	limit time.Duration
	host  string
	reg   string
	what  string // the object of the request: "blob sha256:…", "manifest v1"
	abort context.CancelCauseFunc

	mu        sync.Mutex
	phase     int // phaseConnect … phaseBody
	timer     *time.Timer
	left      time.Duration // budget left in the body phase
	got       int64         // bytes since the budget was last renewed
	fired     *TimeoutError
	bodyStart time.Time // when the current body Read began
}

const (
	phaseConnect = iota // no connection yet
	phaseUpload         // connected, sending the request body
	phaseHeaders        // request sent, waiting for headers
	phaseBody           // reading the response body
)

func (t *timeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	w := &watch{limit: t.timeout, host: req.URL.Host, reg: t.registry, what: describeRequest(req), abort: cancel}
	hasBody := req.Body != nil && req.Body != http.NoBody
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) {
			if hasBody {
				w.enter(phaseUpload)
			} else {
				w.enter(phaseHeaders)
			}
		},
		WroteRequest: func(httptrace.WroteRequestInfo) { w.enter(phaseHeaders) },
	})
	out := req.WithContext(ctx)
	if hasBody {
		out.Body = &watchedUpload{ReadCloser: req.Body, w: w}
	}
	w.mu.Lock()
	w.timer = time.AfterFunc(t.timeout, w.expire)
	w.mu.Unlock()
	resp, err := t.next.RoundTrip(out)
	w.mu.Lock()
	w.timer.Stop()
	fired := w.fired
	w.phase, w.left, w.got = phaseBody, t.timeout, 0
	w.mu.Unlock()
	if fired != nil {
		if err == nil {
			resp.Body.Close()
		}
		cancel(fired)
		return nil, fired
	}
	if err != nil {
		cancel(nil)
		return nil, err
	}
	resp.Body = &watchedBody{ReadCloser: resp.Body, w: w}
	return resp, nil
}

// enter moves to a later phase before the body and restarts the clock.
func (w *watch) enter(phase int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.phase < phase && w.fired == nil && w.timer != nil {
		w.phase = phase
		w.timer.Reset(w.limit)
	}
}

// expire fires when the clock runs out.
func (w *watch) expire() {
	w.mu.Lock()
	if w.fired != nil {
		w.mu.Unlock()
		return
	}
	var what string
	switch w.phase {
	case phaseConnect:
		what = "did not accept a connection"
	case phaseUpload:
		what = fmt.Sprintf("stalled receiving %s: less than 1 KiB was taken", w.what)
	case phaseHeaders:
		what = "sent no response headers"
		if w.what != "" {
			what = "sent no response headers for " + w.what
		}
	default:
		what = fmt.Sprintf("stalled sending %s: less than 1 KiB arrived", w.what)
	}
	w.fired = &TimeoutError{Host: w.host, Registry: w.reg, What: what, After: w.limit}
	err := w.fired
	w.mu.Unlock()
	w.abort(err)
}

// uploaded counts request body bytes taken by the transport.
func (w *watch) uploaded(n int, eof bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fired != nil || w.phase > phaseUpload {
		return
	}
	w.got += int64(n)
	if w.got >= stallBytes {
		w.got = 0
		w.timer.Reset(w.limit)
	}
	if eof {
		w.phase = phaseHeaders
		w.timer.Reset(w.limit)
	}
}

// readStart starts the body clock with what is left of the budget.
func (w *watch) readStart() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fired != nil {
		return w.fired
	}
	w.bodyStart = time.Now()
	w.timer.Reset(w.left)
	return nil
}

// readDone stops the body clock, counts n bytes and says whether the
// transfer has stalled.
func (w *watch) readDone(n int) error {
	w.mu.Lock()
	w.timer.Stop()
	if w.fired != nil {
		w.mu.Unlock()
		return w.fired
	}
	w.left -= time.Since(w.bodyStart)
	w.got += int64(n)
	if w.got >= stallBytes {
		w.got, w.left = 0, w.limit
	}
	if w.left > 0 {
		w.mu.Unlock()
		return nil
	}
	w.fired = &TimeoutError{Host: w.host, Registry: w.reg, After: w.limit,
		What: fmt.Sprintf("stalled sending %s: less than 1 KiB arrived", w.what)}
	err := w.fired
	w.mu.Unlock()
	w.abort(err)
	return err
}

func (w *watch) stop() {
	w.mu.Lock()
	w.timer.Stop()
	w.mu.Unlock()
	w.abort(nil)
}

type watchedUpload struct {
	io.ReadCloser
	w *watch
}

func (u *watchedUpload) Read(p []byte) (int, error) {
	n, err := u.ReadCloser.Read(p)
	u.w.uploaded(n, err == io.EOF)
	return n, err
}

type watchedBody struct {
	io.ReadCloser
	w *watch
}

func (b *watchedBody) Read(p []byte) (int, error) {
	if err := b.w.readStart(); err != nil {
		return 0, err
	}
	n, err := b.ReadCloser.Read(p)
	if werr := b.w.readDone(n); werr != nil && err != io.EOF {
		return n, werr
	}
	return n, err
}

func (b *watchedBody) Close() error {
	err := b.ReadCloser.Close()
	b.w.stop()
	return err
}

// describeRequest names what a registry request is about for errors:
// "blob sha256:…", "manifest v1", "the token", "an upload".
func describeRequest(req *http.Request) string {
	p := req.URL.Path
	switch {
	case strings.Contains(p, "/blobs/uploads/"):
		return "an upload"
	case strings.Contains(p, "/blobs/"):
		return "blob " + shortRef(p[strings.LastIndex(p, "/blobs/")+len("/blobs/"):])
	case strings.Contains(p, "/manifests/"):
		return "manifest " + shortRef(p[strings.LastIndex(p, "/manifests/")+len("/manifests/"):])
	case strings.Contains(p, "/referrers/"):
		return "the referrers list"
	case strings.Contains(p, "/tags/list"):
		return "the tag list"
	case p == "/v2/" || p == "/v2":
		return ""
	}
	if req.URL.Query().Get("service") != "" || strings.Contains(p, "token") {
		return "a token"
	}
	return p
}

// shortRef abbreviates a digest to sha256: and 12 hex digits.
func shortRef(s string) string {
	if alg, hex, ok := strings.Cut(s, ":"); ok && len(hex) > 12 {
		return alg + ":" + hex[:12] + "…"
	}
	return s
}
