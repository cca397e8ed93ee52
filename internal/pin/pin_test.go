package pin

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestPin(t *testing.T) {
	data := []byte(`{"bpf_object": ""}`)
	sum := sha256.Sum256(data)
	good := "sha256:" + hex.EncodeToString(sum[:])
	d, err := Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := Check("package x", d, data); err != nil {
		t.Errorf("matching content: %v", err)
	}
	other := "sha256:" + hex.EncodeToString(make([]byte, 32))
	err = Check("package x", mustParse(t, other), data)
	want := "package x: digest mismatch: --digest wants " + other + " but the content is " + good + "; refusing to use it"
	if err == nil || err.Error() != want || !errors.Is(err, ErrMismatch) {
		t.Errorf("mismatch:\n got %v\nwant %s", err, want)
	}
	// sha512 pins work too.
	s512 := sha512.Sum512(data)
	if err := Check("package x", mustParse(t, "sha512:"+hex.EncodeToString(s512[:])), data); err != nil {
		t.Errorf("sha512: %v", err)
	}
	for _, bad := range []string{"", "sha256", hex.EncodeToString(sum[:]), "sha256:abc", "md5:" + hex.EncodeToString(sum[:16]), "SHA256:" + hex.EncodeToString(sum[:]), good[:len(good)-1] + "G"} {
		if _, err := Parse(bad); err == nil || err.Error() != `--digest "`+bad+`": want sha256: and 64 lowercase hex digits (sha256sum prints them)` {
			t.Errorf("Parse(%q) = %v", bad, err)
		}
	}
}

func mustParse(t *testing.T, s string) digest.Digest {
	t.Helper()
	d, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
