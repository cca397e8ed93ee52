package registry

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// An upload to a server that stops reading the request body stalls once the
// socket buffers are full; the error says so.
func TestTimeoutTransportUploadStall(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a timeout")
	}
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // never read the body
		case <-r.Context().Done():
		case <-done:
		}
	}))
	defer srv.Close()
	defer close(done)
	host := strings.TrimPrefix(srv.URL, "http://")
	client := &http.Client{Transport: newTimeoutTransport(http.DefaultTransport.(*http.Transport).Clone(), 400*time.Millisecond, host)}
	body := bytes.Repeat([]byte("x"), 64<<20)
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/v2/x/blobs/uploads/u1?digest=sha256:00", bytes.NewReader(body))
	start := time.Now()
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	want := "registry " + host + " stalled receiving an upload: less than 1 KiB was taken within 400ms"
	if !errors.Is(err, ErrTimeout) || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("got %v, want …%s", err, want)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s", d)
	}
}

// A TLS handshake that never completes counts as not accepting the
// connection (a host that drops packets cannot be made portably).
func TestTimeoutTransportConnect(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a timeout")
	}
	l := newSilentListener(t)
	host := l.Addr().String()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	client := &http.Client{Transport: newTimeoutTransport(tr, 400*time.Millisecond, host)}
	start := time.Now()
	_, err := client.Get("https://" + host + "/v2/")
	want := "registry " + host + " did not accept a connection within 400ms"
	if !errors.Is(err, ErrTimeout) || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("got %v, want …%s", err, want)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "512MiB": 512 << 20, "1GiB": 1 << 30, "64k": 64 << 10, "2 GB": 2 << 30, "300M": 300 << 20} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "1.5GiB", "10 parsecs", "99999999999TiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

// newSilentListener accepts connections and never writes to them.
func newSilentListener(t *testing.T) net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l
}
