package attest

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// Types of what this package writes (docs/format.md, "Attestations").
const (
	// StatementType is the in-toto Statement v1 `_type`.
	StatementType = "https://in-toto.io/Statement/v1"
	// MediaType is an in-toto statement in JSON, unsigned: the type of the
	// layer and the artifactType of the referrer manifest that holds one
	// (as `oras attach` and BuildKit store attestations).
	MediaType = "application/vnd.in-toto+json"
	// AnnotationPredicateType names the predicate type on the layer and on
	// the referrer manifest (BuildKit's key), so that listing referrers
	// says what each is without fetching it.
	AnnotationPredicateType = "in-toto.io/predicate-type"
)

// Subject is an artifact a statement speaks of: the package's index, a
// platform's manifest or a BPF object, named and with its digest.
type Subject struct {
	Name      string
	Digest    digest.Digest
	MediaType string
	// Platform is "linux/amd64" for a manifest or an object of one.
	Platform string
}

// ErrStatement wraps refusals to read or write a statement (no subject, a
// bad digest): what in-toto's validation says.
var ErrStatement = errors.New("invalid in-toto statement")

// Statement is what Parse reads of a statement: enough to list and check
// it, the predicate left raw.
type Statement struct {
	Type          string             `json:"_type"`
	PredicateType string             `json:"predicateType"`
	Subject       []StatementSubject `json:"subject"`
	Predicate     json.RawMessage    `json:"predicate"`
}

// StatementSubject is a subject as read back.
type StatementSubject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// MaxStatementSize bounds a statement read from a registry.
const MaxStatementSize = 16 << 20

// Parse reads an in-toto statement (v1, or v0.1 as older tools write),
// refusing what is not one: another `_type`, no subject, a subject
// without a digest or with a malformed one, no predicate type, no
// predicate object. These are in-toto's own rules (its Go Statement
// Validate), checked here with encoding/json so that ecli, which lists
// attestations, links no protobuf code.
func Parse(data []byte) (*Statement, error) {
	if len(data) > MaxStatementSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrStatement, len(data), MaxStatementSize)
	}
	var s Statement
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStatement, err)
	}
	switch {
	case s.Type != StatementType && s.Type != "https://in-toto.io/Statement/v0.1":
		return nil, fmt.Errorf("%w: _type %q", ErrStatement, s.Type)
	case len(s.Subject) == 0:
		return nil, fmt.Errorf("%w: no subject", ErrStatement)
	case s.PredicateType == "":
		return nil, fmt.Errorf("%w: no predicateType", ErrStatement)
	case len(s.Predicate) == 0 || s.Predicate[0] != '{':
		return nil, fmt.Errorf("%w: the predicate is not an object", ErrStatement)
	}
	for i, sub := range s.Subject {
		if len(sub.Digest) == 0 {
			return nil, fmt.Errorf("%w: subject %d has no digest", ErrStatement, i)
		}
		for alg, hexd := range sub.Digest {
			if n, known := digestHexLen[alg]; known && (len(hexd) != n || !isHex(hexd)) {
				return nil, fmt.Errorf("%w: subject %d: %s digest %q is not %d hex digits", ErrStatement, i, alg, hexd, n)
			}
		}
	}
	return &s, nil
}

// digestHexLen is the hex length of in-toto's fixed-size digest
// algorithms; others are allowed unchecked, as in-toto allows them.
var digestHexLen = map[string]int{
	"md5": 32, "sha1": 40, "gitBlob": 40, "gitCommit": 40, "gitTag": 40, "gitTree": 40,
	"sha224": 56, "sha512_224": 56, "sha3_224": 56,
	"sha256": 64, "sha512_256": 64, "sha3_256": 64, "dirHash": 64,
	"sha384": 96, "sha3_384": 96, "sha512": 128, "sha3_512": 128,
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// HasSubject reports whether the statement names d among its subjects.
func (s *Statement) HasSubject(d digest.Digest) bool {
	for _, sub := range s.Subject {
		if sub.Digest[d.Algorithm().String()] == d.Encoded() {
			return true
		}
	}
	return false
}
