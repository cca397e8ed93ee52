// Package pin checks content against a digest the user pinned
// (--digest sha256:HEX): the bytes ecli is about to parse and load must
// hash to it, or nothing of them is used.
package pin

import (
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// ErrMismatch is matched (errors.Is) by Check's refusal.
var ErrMismatch = errors.New("digest mismatch")

// Parse validates a pinned digest: ALGORITHM:HEX with sha256 (or sha384,
// sha512) and the right number of lowercase hex digits.
func Parse(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", fmt.Errorf("--digest %q: want sha256: and 64 lowercase hex digits (sha256sum prints them)", s)
	}
	return d, nil
}

// Check refuses data unless it hashes to want (with want's algorithm);
// the message names what was checked and both digests.
func Check(what string, want digest.Digest, data []byte) error {
	got := want.Algorithm().FromBytes(data)
	if got != want {
		return &mismatch{what: what, want: want, got: got}
	}
	return nil
}

type mismatch struct {
	what      string
	want, got digest.Digest
}

func (e *mismatch) Error() string {
	return fmt.Sprintf("%s: digest mismatch: --digest wants %s but the content is %s; refusing to use it", e.what, e.want, e.got)
}

func (e *mismatch) Is(target error) bool { return target == ErrMismatch }
