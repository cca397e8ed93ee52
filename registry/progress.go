package registry

import (
	"context"
	"io"
	"net/http"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecc-bpf/ecc/packager"
)

// Progress follows a push or a pull as its bytes move; the command line
// draws it (this package prints nothing). Push and Pull call it from
// several goroutines at once, so its methods must be safe for that.
type Progress interface {
	// Start opens the transfer: op is "push" or "pull", ref the reference,
	// total the bytes of the blobs (layers and config; the manifests are
	// small and not counted) that will be sent, fetched, or found already
	// there.
	Start(op, ref string, total int64)
	// Add reports n more bytes accounted for: moved, or a blob found
	// already there (its whole size). It is negative when a blob cut off
	// midway starts over.
	Add(n int64)
	// Blob reports a blob done: verb is "pushed", "exists", "pulled" or
	// "local"; name is its title, "metadata", or its media type.
	Blob(verb, name string, size int64)
	// End closes the transfer, err nil when it succeeded. Start and End
	// come in pairs; nothing is called after End.
	End(err error)
}

// tracker is a Progress that may be absent (nil): the copy engine calls
// it unconditionally.
type tracker struct{ p Progress }

func (t tracker) start(op, ref string, blobs []ocispec.Descriptor) {
	if t.p == nil {
		return
	}
	var total int64
	for _, d := range blobs {
		total += d.Size
	}
	t.p.Start(op, ref, total)
}

func (t tracker) add(n int64) {
	if t.p != nil && n != 0 {
		t.p.Add(n)
	}
}

func (t tracker) blob(verb string, d ocispec.Descriptor) {
	if t.p != nil {
		t.p.Blob(verb, describe(d), d.Size)
	}
}

func (t tracker) end(err error) {
	if t.p != nil {
		t.p.End(err)
	}
}

// blobCounter reports one blob's bytes to a tracker, each byte once
// however often the blob is sent or fetched: what a new attempt (a retry,
// or a request sent again for authentication) moves counts only beyond
// what an earlier one reached.
type blobCounter struct {
	t        tracker
	mu       sync.Mutex
	high     int64
	sent     bool // an attempt of this operation uploaded bytes of it
	reported bool // its Blob line is out
}

// mark records that an attempt starts uploading the blob.
func (c *blobCounter) mark() {
	c.mu.Lock()
	c.sent = true
	c.mu.Unlock()
}

// done reports the blob once per operation: "pushed" when an attempt of
// this operation uploaded it, even if a later attempt finds the target has
// it (the attempt that sent it was cut before it heard back), else
// "exists".
func (c *blobCounter) done(desc ocispec.Descriptor) {
	c.mu.Lock()
	verb := "exists"
	if c.sent {
		verb = "pushed"
	}
	first := !c.reported
	c.reported = true
	c.mu.Unlock()
	if first {
		c.t.blob(verb, desc)
	}
}

func (c *blobCounter) observe(n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n > c.high {
		c.t.add(n - c.high)
		c.high = n
	}
}

// body counts the bytes read through rc, one attempt's.
func (c *blobCounter) body(rc io.ReadCloser) io.ReadCloser {
	if c.t.p == nil {
		return rc
	}
	return &countingBody{ReadCloser: rc, c: c}
}

type countingBody struct {
	io.ReadCloser
	c *blobCounter
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.n += int64(n)
		b.c.observe(b.n)
	}
	return n, err
}

// An upload's bytes are counted below the auth layer, as the HTTP client
// takes them: the body a blob push hands oras-go must stay a
// *bytes.Reader, which the client can rewind to send again.
type counterKey struct{}

func withCounter(ctx context.Context, c *blobCounter) context.Context {
	if c.t.p == nil {
		return ctx
	}
	return context.WithValue(ctx, counterKey{}, c)
}

// progressTransport counts the bytes of uploads whose context carries a
// blobCounter.
type progressTransport struct{ next http.RoundTripper }

func (t progressTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c, _ := req.Context().Value(counterKey{}).(*blobCounter)
	if c == nil || req.Body == nil || req.Body == http.NoBody || (req.Method != http.MethodPut && req.Method != http.MethodPatch) {
		return t.next.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.Body = c.body(req.Body)
	return t.next.RoundTrip(r)
}

// describe names a blob for progress.
func describe(d ocispec.Descriptor) string {
	if t := d.Annotations[ocispec.AnnotationTitle]; t != "" {
		return t
	}
	switch d.MediaType {
	case ocispec.MediaTypeImageIndex:
		return "index"
	case ocispec.MediaTypeImageManifest:
		return "manifest"
	case packager.MediaTypeConfig:
		return "metadata"
	}
	return d.MediaType
}
