// Package statement writes in-toto statements about a package, with
// in-toto's Go types (protobuf) and spdx/tools-golang: SLSA provenance v1
// and an SPDX 2.3 SBOM. It is ecc's alone: ecli, which only lists and
// reads statements (package attest), links none of it.
package statement

import (
	"bytes"
	"encoding/json"
	"fmt"

	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/ecc-bpf/ecc/packager/attest"
)

func descriptor(s attest.Subject) (*intoto.ResourceDescriptor, error) {
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

// statement wraps a predicate (any value that marshals to a JSON object)
// in an in-toto Statement v1, checks it with in-toto's validation, and
// returns its JSON, indented, keys in a stable order.
func statement(subjects []attest.Subject, predicateType string, predicate any) ([]byte, error) {
	pj, err := toJSON(predicate)
	if err != nil {
		return nil, err
	}
	var pm map[string]any
	if err := json.Unmarshal(pj, &pm); err != nil {
		return nil, fmt.Errorf("%w: predicate: %w", attest.ErrStatement, err)
	}
	ps, err := structpb.NewStruct(pm)
	if err != nil {
		return nil, fmt.Errorf("%w: predicate: %w", attest.ErrStatement, err)
	}
	st := &intoto.Statement{Type: attest.StatementType, PredicateType: predicateType, Predicate: ps}
	for _, s := range subjects {
		rd, err := descriptor(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", attest.ErrStatement, err)
		}
		st.Subject = append(st.Subject, rd)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", attest.ErrStatement, err)
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
