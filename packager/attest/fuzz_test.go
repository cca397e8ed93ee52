package attest

import (
	"testing"

	"github.com/opencontainers/go-digest"
)

// Statements come from registries: Parse never panics, and what it
// accepts answers HasSubject.
func FuzzParse(f *testing.F) {
	sub := digest.FromString("package")
	f.Add([]byte(`{"_type": "https://in-toto.io/Statement/v1", "predicateType": "https://slsa.dev/provenance/v1", "predicate": {}, "subject": [{"name": "p", "digest": {"sha256": "` + sub.Encoded() + `"}}]}`))
	f.Add([]byte(`{"_type": "https://in-toto.io/Statement/v0.1", "predicateType": "x", "predicate": {"a": [1, 2]}, "subject": [{"digest": {"sha512": "00"}}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := Parse(data)
		if err != nil {
			return
		}
		st.HasSubject(sub)
	})
}
