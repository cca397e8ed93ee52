package registrytest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecc-bpf/ecc/packager"
)

// Hostile is an in-process, read-only registry (plain HTTP) that serves
// whatever a test puts in it, however malformed: traversal titles, two
// object layers, huge or generated layers, indexes of many manifests,
// manifests over any cap. It also misbehaves on request: it can never
// answer, send headers and no body, or dribble a body a byte at a time.
// Nothing it serves is checked; that is the point.
type Hostile struct {
	// Host is 127.0.0.1:PORT, URL http://Host.
	Host, URL string

	done chan struct{}

	mu        sync.Mutex
	blobs     map[digest.Digest]hostileBlob
	manifests map[string]hostileManifest // "repo@digest" and "repo:tag"
	rules     []hostileRule
	reqs      []string
	sent      int64
}

type hostileBlob struct {
	data   []byte
	size   int64
	prefix []byte // generated blobs: prefix, then a repeating pattern
}

type hostileManifest struct {
	mediaType string
	data      []byte
}

type hostileRule struct {
	re    *regexp.Regexp
	kind  string // "hang", "hang-body", "dribble"
	every time.Duration
	n     int
}

// NewHostile starts a hostile registry that stops when the test ends.
func NewHostile(t testing.TB) *Hostile {
	t.Helper()
	h := &Hostile{done: make(chan struct{}), blobs: map[digest.Digest]hostileBlob{}, manifests: map[string]hostileManifest{}}
	srv := httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(func() {
		close(h.done)
		srv.CloseClientConnections()
		srv.Close()
	})
	h.URL = srv.URL
	h.Host = strings.TrimPrefix(srv.URL, "http://")
	return h
}

// Blob serves data and returns its descriptor.
func (h *Hostile) Blob(mediaType string, data []byte) ocispec.Descriptor {
	d := digest.FromBytes(data)
	h.mu.Lock()
	h.blobs[d] = hostileBlob{data: data, size: int64(len(data))}
	h.mu.Unlock()
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

// LargeBlob serves size bytes generated on the fly (prefix, then a
// repeating pattern), never held in memory; computing its digest reads it
// once.
func (h *Hostile) LargeBlob(mediaType string, size int64, prefix []byte) ocispec.Descriptor {
	b := hostileBlob{size: size, prefix: prefix}
	sum := sha256.New()
	b.writeTo(sum)
	d := digest.NewDigest(digest.SHA256, sum)
	h.mu.Lock()
	h.blobs[d] = b
	h.mu.Unlock()
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: size}
}

// writeTo writes the blob's content.
func (b hostileBlob) writeTo(w io.Writer) error {
	if b.data != nil || b.size == 0 {
		_, err := w.Write(b.data)
		return err
	}
	var chunk [64 << 10]byte
	for i := range chunk {
		chunk[i] = byte(i*7 + i/251)
	}
	left := b.size
	p := b.prefix[:min(int64(len(b.prefix)), left)]
	if _, err := w.Write(p); err != nil {
		return err
	}
	left -= int64(len(p))
	for left > 0 {
		n := min(left, int64(len(chunk)))
		if _, err := w.Write(chunk[:n]); err != nil {
			return err
		}
		left -= n
	}
	return nil
}

// Manifest serves data as a manifest or index of repo, by digest and, when
// tag is not empty, by tag, and returns its descriptor.
func (h *Hostile) Manifest(repo, tag, mediaType string, data []byte) ocispec.Descriptor {
	d := digest.FromBytes(data)
	m := hostileManifest{mediaType: mediaType, data: data}
	h.mu.Lock()
	h.manifests[repo+"@"+d.String()] = m
	if tag != "" {
		h.manifests[repo+":"+tag] = m
	}
	h.mu.Unlock()
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

// ManifestJSON serves v, marshalled, as Manifest does.
func (h *Hostile) ManifestJSON(repo, tag, mediaType string, v any) ocispec.Descriptor {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return h.Manifest(repo, tag, mediaType, data)
}

// Layer is a layer of an Artifact.
type Layer struct {
	// MediaType defaults to the BPF object type.
	MediaType string
	// Data is the content; when nil, Size bytes are generated (starting
	// with the ELF or Wasm magic, as the media type wants).
	Data []byte
	Size int64
	// Title is the org.opencontainers.image.title annotation, if any.
	Title string
	// Declared lists the layer with Size and a made-up digest but does not
	// serve it (for limits that must refuse before fetching).
	Declared bool
}

// Artifact is an ecc package as a registry would serve it, with the parts
// a test wants wrong.
type Artifact struct {
	// Title is the manifest's title annotation (the package name).
	Title string
	// Config is the metadata JSON; nil means a valid one (obj_name
	// "probe_bpf"). ConfigType defaults to ecc's config media type.
	Config     []byte
	ConfigType string
	// Layers default to one small BPF object titled TITLE.bpf.o.
	Layers []Layer
	// Manifests > 0 serves an index of that many entries: the first for
	// linux/amd64, the others for made-up architectures, all pointing at
	// the one manifest. 0 serves an index of one linux/amd64 entry; -1 the
	// manifest alone.
	Manifests int
}

// Object is a small fake BPF object (ELF magic, then filler).
func Object(seed byte) []byte {
	obj := append([]byte("\x7fELF"), make([]byte, 4096)...)
	for i := 4; i < len(obj); i++ {
		obj[i] = seed + byte(i)
	}
	return obj
}

// Config is valid package metadata JSON for obj_name.
func Config(objName string) []byte {
	m := packager.Meta{Arch: "x86_64"}
	m.BpfSkel.ObjName = objName
	m.BpfSkel.Progs = []packager.Prog{{Name: "handle", Attach: "tp/sched/sched_process_exec", Link: true}}
	m.FillDefaults()
	data, err := json.Marshal(&m)
	if err != nil {
		panic(err)
	}
	return data
}

// Artifact serves a under repo:tag and returns the root's descriptor.
func (h *Hostile) Artifact(repo, tag string, a Artifact) ocispec.Descriptor {
	cfgData := a.Config
	if cfgData == nil {
		cfgData = Config("probe_bpf")
	}
	cfgType := a.ConfigType
	if cfgType == "" {
		cfgType = packager.MediaTypeConfig
	}
	cfg := h.Blob(cfgType, cfgData)
	layers := a.Layers
	if layers == nil {
		layers = []Layer{{Data: Object(1), Title: a.Title + ".bpf.o"}}
	}
	man := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: packager.ArtifactType,
		Config:       cfg,
	}
	if a.Title != "" {
		man.Annotations = map[string]string{ocispec.AnnotationTitle: a.Title}
	}
	for _, l := range layers {
		mt := l.MediaType
		if mt == "" {
			mt = packager.MediaTypeObject
		}
		var d ocispec.Descriptor
		if l.Declared {
			d = ocispec.Descriptor{MediaType: mt, Digest: digest.FromString(fmt.Sprintf("declared %d %s", l.Size, l.Title)), Size: l.Size}
		} else if l.Data != nil {
			d = h.Blob(mt, l.Data)
		} else {
			magic := []byte("\x7fELF")
			if mt == packager.MediaTypeWasm {
				magic = []byte("\x00asm\x01\x00\x00\x00")
			}
			d = h.LargeBlob(mt, l.Size, magic)
		}
		if l.Title != "" {
			d.Annotations = map[string]string{ocispec.AnnotationTitle: l.Title}
		}
		man.Layers = append(man.Layers, d)
	}
	if a.Manifests < 0 {
		return h.ManifestJSON(repo, tag, ocispec.MediaTypeImageManifest, &man)
	}
	md := h.ManifestJSON(repo, "", ocispec.MediaTypeImageManifest, &man)
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, ArtifactType: packager.ArtifactType}
	for i := range max(a.Manifests, 1) {
		e := md
		e.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
		if i > 0 {
			e.Platform.Architecture = "fake" + strconv.Itoa(i)
		}
		idx.Manifests = append(idx.Manifests, e)
	}
	return h.ManifestJSON(repo, tag, ocispec.MediaTypeImageIndex, &idx)
}

// Hang makes requests whose path matches pattern get no answer at all
// until the client gives up.
func (h *Hostile) Hang(pattern string) {
	h.rule(hostileRule{re: regexp.MustCompile(pattern), kind: "hang"})
}

// HangBody makes requests whose path matches pattern get their response
// headers, and then not a byte of the body.
func (h *Hostile) HangBody(pattern string) {
	h.rule(hostileRule{re: regexp.MustCompile(pattern), kind: "hang-body"})
}

// Dribble makes requests whose path matches pattern get their headers and
// then n bytes of the body every interval.
func (h *Hostile) Dribble(pattern string, n int, every time.Duration) {
	h.rule(hostileRule{re: regexp.MustCompile(pattern), kind: "dribble", every: every, n: max(n, 1)})
}

func (h *Hostile) rule(r hostileRule) {
	h.mu.Lock()
	h.rules = append(h.rules, r)
	h.mu.Unlock()
}

// Requests lists the requests received, "METHOD /path".
func (h *Hostile) Requests() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.reqs...)
}

// BytesSent is the number of body bytes served so far.
func (h *Hostile) BytesSent() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sent
}

var hostilePath = regexp.MustCompile(`^/v2/(.+)/(manifests|blobs)/([^/]+)$`)

func (h *Hostile) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.reqs = append(h.reqs, r.Method+" "+r.URL.Path)
	var rule *hostileRule
	for i := range h.rules {
		if h.rules[i].re.MatchString(r.URL.Path) {
			rule = &h.rules[i]
			break
		}
	}
	h.mu.Unlock()
	if rule != nil && rule.kind == "hang" {
		h.wait(r, 0)
		return
	}
	if r.URL.Path == "/v2/" || r.URL.Path == "/v2" {
		w.WriteHeader(http.StatusOK)
		return
	}
	m := hostilePath.FindStringSubmatch(r.URL.Path)
	if m == nil || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		writeError(w, http.StatusNotFound, "NAME_UNKNOWN", "not here")
		return
	}
	var body hostileBlob
	var mediaType string
	var dgst digest.Digest
	h.mu.Lock()
	if m[2] == "manifests" {
		key := m[1] + ":" + m[3]
		if strings.Contains(m[3], ":") {
			key = m[1] + "@" + m[3]
		}
		man, ok := h.manifests[key]
		if ok {
			body, mediaType, dgst = hostileBlob{data: man.data, size: int64(len(man.data))}, man.mediaType, digest.FromBytes(man.data)
		}
		h.mu.Unlock()
		if !ok {
			writeError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "no such manifest")
			return
		}
	} else {
		b, ok := h.blobs[digest.Digest(m[3])]
		h.mu.Unlock()
		if !ok {
			writeError(w, http.StatusNotFound, "BLOB_UNKNOWN", "no such blob")
			return
		}
		body, mediaType, dgst = b, "application/octet-stream", digest.Digest(m[3])
	}
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Docker-Content-Digest", dgst.String())
	w.Header().Set("Content-Length", strconv.FormatInt(body.size, 10))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if rule != nil {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		switch rule.kind {
		case "hang-body":
			h.wait(r, 0)
			return
		case "dribble":
			pr, pw := io.Pipe()
			go func() { pw.CloseWithError(body.writeTo(pw)) }()
			defer pr.Close()
			buf := make([]byte, rule.n)
			for {
				n, err := io.ReadFull(pr, buf)
				if n == 0 || (err != nil && err != io.ErrUnexpectedEOF) {
					return
				}
				if _, err := w.Write(buf[:n]); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				h.count(n)
				if !h.wait(r, rule.every) {
					return
				}
			}
		}
	}
	body.writeTo(&countingWriter{w: w, h: h})
}

// wait blocks for d (0: until the client or the test goes away) and says
// whether the request is still on.
func (h *Hostile) wait(r *http.Request, d time.Duration) bool {
	var tick <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		tick = t.C
	}
	select {
	case <-tick:
		return true
	case <-r.Context().Done():
	case <-h.done:
	}
	return false
}

func (h *Hostile) count(n int) {
	h.mu.Lock()
	h.sent += int64(n)
	h.mu.Unlock()
}

type countingWriter struct {
	w io.Writer
	h *Hostile
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.count(n)
	return n, err
}

// String describes the server for test logs.
func (h *Hostile) String() string { return fmt.Sprintf("hostile registry %s", h.Host) }
