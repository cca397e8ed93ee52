package attest

import (
	"errors"
	"testing"

	"github.com/opencontainers/go-digest"
)

// Parse applies in-toto's rules to a statement read back.
func TestParse(t *testing.T) {
	sub := digest.FromString("a").Encoded()
	good := `{"_type": "https://in-toto.io/Statement/v1", "predicateType": "x", "predicate": {}, "subject": [{"name": "n", "digest": {"sha256": "` + sub + `"}}]}`
	st, err := Parse([]byte(good))
	if err != nil || st.PredicateType != "x" || !st.HasSubject(digest.FromString("a")) || st.HasSubject(digest.FromString("b")) {
		t.Fatalf("%v %+v", err, st)
	}
	for _, bad := range []string{
		`{"_type": "https://in-toto.io/Statement/v1", "predicateType": "x", "predicate": {}, "subject": []}`,
		`{"_type": "https://example/other", "predicateType": "x", "predicate": {}, "subject": [{"digest": {"sha256": "` + sub + `"}}]}`,
		`{"_type": "https://in-toto.io/Statement/v1", "predicateType": "x", "predicate": {}, "subject": [{"name": "no digest"}]}`,
		`{"_type": "https://in-toto.io/Statement/v1", "predicate": {}, "subject": [{"digest": {"sha256": "` + sub + `"}}]}`,
		`{"_type": "https://in-toto.io/Statement/v1", "predicateType": "x", "subject": [{"digest": {"sha256": "` + sub + `"}}]}`,
		`{"_type": "https://in-toto.io/Statement/v1", "predicateType": "x", "predicate": [1], "subject": [{"digest": {"sha256": "` + sub + `"}}]}`,
		`{"_type": "https://in-toto.io/Statement/v1", "predicateType": "x", "predicate": {}, "subject": [{"digest": {"sha256": "abc"}}]}`,
		`{"_type": "https://in-toto.io/Statement/v1", "predicateType": "x", "predicate": {}, "subject": [{"digest": {"sha256": "` + sub[:62] + `zz"}}]}`,
		`[1, 2]`,
	} {
		if _, err := Parse([]byte(bad)); !errors.Is(err, ErrStatement) {
			t.Errorf("Parse(%s): %v", bad, err)
		}
	}
}
