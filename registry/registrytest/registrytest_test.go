package registrytest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// upload stores a blob with a monolithic POST+PUT upload and returns the
// blob path.
func upload(t *testing.T, base string, client *http.Client, header http.Header, data []byte) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/v2/repo/blobs/uploads/", nil)
	req.Header = header.Clone()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST upload: %s", resp.Status)
	}
	loc := resp.Header.Get("Location")
	d := digestOf(data)
	req, _ = http.NewRequest(http.MethodPut, base+loc+"?digest="+d, bytes.NewReader(data))
	req.Header = header.Clone()
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT upload: %s", resp.Status)
	}
	return "/v2/repo/blobs/" + d
}

func digestOf(data []byte) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256(data))
}

func get(t *testing.T, client *http.Client, url string, header http.Header) (*http.Response, []byte, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if header != nil {
		req.Header = header.Clone()
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func TestServerBasicAuth(t *testing.T) {
	s := NewServer(t, ServerOptions{Username: "u", Password: "p"})
	resp, _, err := get(t, http.DefaultClient, s.URL+"/v2/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Fatalf("anonymous /v2/: %s %q", resp.Status, resp.Header.Get("WWW-Authenticate"))
	}
	h := http.Header{}
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth("u", "p")
	h.Set("Authorization", req.Header.Get("Authorization"))
	path := upload(t, s.URL, http.DefaultClient, h, []byte("blob"))
	resp, body, err := get(t, http.DefaultClient, s.URL+path, h)
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != "blob" {
		t.Fatalf("GET blob: %v %v %q", err, resp, body)
	}
	reqs := s.Requests()
	if len(reqs) != 4 || s.Count() != 4 || reqs[0].Status != 401 || reqs[0].Auth != "" || reqs[3].Auth != "basic" || reqs[3].Path != path {
		t.Errorf("requests = %v (count %d)", reqs, s.Count())
	}
	s.Reset()
	if s.Count() != 0 || len(s.Requests()) != 0 {
		t.Error("Reset kept requests")
	}
}

func TestServerTokenAuth(t *testing.T) {
	s := NewServer(t, ServerOptions{Username: "u", Password: "p", Token: true})
	resp, _, _ := get(t, http.DefaultClient, s.URL+"/v2/repo/manifests/latest", nil)
	want := `Bearer realm="` + s.URL + `/token",service="test",scope="repository:repo:pull,push"`
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != want {
		t.Fatalf("challenge: %s %q, want %q", resp.Status, resp.Header.Get("WWW-Authenticate"), want)
	}
	resp, _, _ = get(t, http.DefaultClient, s.URL+"/token?service=test", nil)
	if resp.StatusCode != 401 {
		t.Fatalf("anonymous token: %s", resp.Status)
	}
	req, _ := http.NewRequest("GET", s.URL+"/token?service=test&scope=repository:repo:pull", nil)
	req.SetBasicAuth("u", "p")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.Token == "" {
		t.Fatal("no token")
	}
	h := http.Header{"Authorization": {"Bearer " + tok.Token}}
	path := upload(t, s.URL, http.DefaultClient, h, []byte("tokblob"))
	if resp, body, _ := get(t, http.DefaultClient, s.URL+path, h); resp.StatusCode != 200 || string(body) != "tokblob" {
		t.Fatalf("GET with token: %s %q", resp.Status, body)
	}
	if resp, _, _ := get(t, http.DefaultClient, s.URL+path, http.Header{"Authorization": {"Bearer forged"}}); resp.StatusCode != 401 {
		t.Fatalf("forged token: %s", resp.Status)
	}
	if got := s.Scopes(); len(got) != 1 || got[0] != "repository:repo:pull" {
		t.Errorf("scopes = %v", got)
	}
}

func TestFaultyProxy(t *testing.T) {
	s := NewServer(t, ServerOptions{})
	p := NewFaultyProxy(t, s.URL)
	data := bytes.Repeat([]byte("0123456789"), 1000)
	path := upload(t, p.URL, http.DefaultClient, http.Header{}, data)

	// 503 once for a matching path, then normal service.
	p.FailNext(`/blobs/`)
	resp, _, err := get(t, http.DefaultClient, p.URL+path, nil)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("injected 503: %v %v", err, resp)
	}
	resp, body, err := get(t, http.DefaultClient, p.URL+path, nil)
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("after the fault: %v %v", err, resp)
	}

	// A blob download cut after 100 bytes.
	p.CutNextBlobGet(100)
	_, body, err = get(t, http.DefaultClient, p.URL+path, nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(body) != 100 {
		t.Fatalf("cut download: %d bytes, %v; want 100 bytes and unexpected EOF", len(body), err)
	}
	if _, body, err = get(t, http.DefaultClient, p.URL+path, nil); err != nil || !bytes.Equal(body, data) {
		t.Fatalf("download after the cut: %v", err)
	}

	// An upload cut after 10 bytes never reaches the registry.
	before := s.Count()
	p.CutNextUpload(10)
	req, _ := http.NewRequest(http.MethodPut, p.URL+"/v2/repo/blobs/uploads/x?digest="+digestOf(data), bytes.NewReader(data))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("cut upload answered %s", resp.Status)
	}
	if s.Count() != before {
		t.Error("the cut upload reached the registry")
	}
	if p.Faults() != 3 {
		t.Errorf("faults = %d, want 3", p.Faults())
	}
}

func TestCounter(t *testing.T) {
	s := NewServer(t, ServerOptions{})
	var c Counter
	client := &http.Client{Transport: c.Wrap(http.DefaultTransport)}
	get(t, client, s.URL+"/v2/", nil)
	get(t, client, s.URL+"/v2/x/tags/list", nil)
	if c.Count() != 2 || strings.Join(c.Requests(), ",") != "GET /v2/,GET /v2/x/tags/list" {
		t.Errorf("counter: %d %v", c.Count(), c.Requests())
	}
}

func TestCredentialHelperScript(t *testing.T) {
	h := NewCredentialHelper(t, "", map[string]Auth{"a.example": {Username: "u", Password: "p w"}})
	run := func(action, input string) (string, error) {
		cmd := exec.Command("docker-credential-ecctest", action)
		cmd.Stdin = strings.NewReader(input)
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := run("get", "a.example"); err != nil || out != `{"Secret":"p w","ServerURL":"a.example","Username":"u"}` {
		t.Errorf("get: %q %v", out, err)
	}
	if out, err := run("get", "b.example"); err == nil || out != "credentials not found in native keychain" {
		t.Errorf("get unknown: %q %v", out, err)
	}
	if _, err := run("store", `{"ServerURL":"b.example","Username":"<token>","Secret":"tok"}`); err != nil {
		t.Fatal(err)
	}
	if a, ok := h.Stored("b.example"); !ok || a.IdentityToken != "tok" {
		t.Errorf("stored: %+v %v", a, ok)
	}
	if _, err := run("erase", "b.example"); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.Stored("b.example"); ok {
		t.Error("erase kept the entry")
	}
	if got := strings.Join(h.Calls(), ","); got != "get a.example,get b.example,store b.example,erase b.example" {
		t.Errorf("calls = %q", got)
	}
}
