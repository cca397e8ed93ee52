package attest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/opencontainers/go-digest"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// Types of what this package writes (docs/format.md, "Attestations").
const (
	// StatementType is the in-toto Statement v1 `_type`.
	StatementType = intoto.StatementTypeUri
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

func (s Subject) descriptor() (*intoto.ResourceDescriptor, error) {
	if err := s.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("subject %s: %w", s.Name, err)
	}
	rd := &intoto.ResourceDescriptor{
		Name:      s.Name,
		Digest:    map[string]string{s.Digest.Algorithm().String(): s.Digest.Encoded()},
		MediaType: s.MediaType,
	}
	if s.Platform != "" {
		ann, err := structpb.NewStruct(map[string]any{"platform": s.Platform})
		if err != nil {
			return nil, err
		}
		rd.Annotations = ann
	}
	return rd, nil
}

// ErrStatement wraps refusals to write a statement (no subject, a bad
// digest): what in-toto's own validation says.
var ErrStatement = errors.New("invalid in-toto statement")

// statement wraps a predicate (any value that marshals to a JSON object)
// in an in-toto Statement v1, checks it with in-toto's validation, and
// returns its JSON, indented, keys in a stable order.
func statement(subjects []Subject, predicateType string, predicate any) ([]byte, error) {
	pj, err := toJSON(predicate)
	if err != nil {
		return nil, err
	}
	var pm map[string]any
	if err := json.Unmarshal(pj, &pm); err != nil {
		return nil, fmt.Errorf("%w: predicate: %w", ErrStatement, err)
	}
	ps, err := structpb.NewStruct(pm)
	if err != nil {
		return nil, fmt.Errorf("%w: predicate: %w", ErrStatement, err)
	}
	st := &intoto.Statement{Type: StatementType, PredicateType: predicateType, Predicate: ps}
	for _, s := range subjects {
		rd, err := s.descriptor()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStatement, err)
		}
		st.Subject = append(st.Subject, rd)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStatement, err)
	}
	return toJSON(st)
}

// toJSON marshals protobuf messages with protojson (the field names the
// in-toto and SLSA specs use) and anything else with encoding/json, then
// re-indents: protojson's spacing is deliberately unstable, and a
// statement's bytes should depend on its content only.
func toJSON(v any) ([]byte, error) {
	var raw []byte
	var err error
	if m, ok := v.(proto.Message); ok {
		raw, err = protojson.Marshal(m)
	} else {
		raw, err = json.Marshal(v)
	}
	if err != nil {
		return nil, err
	}
	// Through a generic value so that keys come out sorted either way.
	var g any
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(g); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

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
// refusing what is not one: another `_type`, no subject or a subject
// without a digest, no predicate type, no predicate object.
func Parse(data []byte) (*Statement, error) {
	if len(data) > MaxStatementSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrStatement, len(data), MaxStatementSize)
	}
	var st intoto.Statement
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStatement, err)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStatement, err)
	}
	var s Statement
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStatement, err)
	}
	return &s, nil
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
