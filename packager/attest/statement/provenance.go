package statement

import (
	"fmt"
	"strings"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ecc-bpf/ecc/packager/attest"
)

const (
	// ProvenancePredicateType is SLSA provenance v1's predicate type.
	ProvenancePredicateType = "https://slsa.dev/provenance/v1"
	// BuildType says how to read the provenance's buildDefinition: an
	// `ecc build` of a BPF source (docs/format.md, "Build type").
	BuildType = "https://github.com/ecc-bpf/ecc/blob/main/docs/format.md#build-type-ecc-build-v1"
	// BuilderID is the builder's id without its version.
	BuilderID = "https://github.com/ecc-bpf/ecc/cmd/ecc"
)

// Provenance returns an in-toto statement of SLSA provenance v1 for p:
// what ecc build was asked (externalParameters: source, export header,
// architectures, flags, BTF), what it resolved (resolvedDependencies: the
// source and every header with their SHA-256, the BTF, clang), and who and
// when (runDetails: ecc and its version, the build's id and times).
func Provenance(p *attest.Package) ([]byte, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	first := p.Platforms[0].Materials
	ext := map[string]any{
		"source": first.Source().Path,
		"cflags": stringsAny(first.CFlags),
	}
	var arches []any
	btf := map[string]any{}
	var deps []*intoto.ResourceDescriptor
	seen := map[string]bool{}
	add := func(rd *intoto.ResourceDescriptor) {
		k := rd.GetName() + "\x00" + rd.GetUri() + "\x00" + fmt.Sprint(rd.GetDigest())
		if !seen[k] {
			seen[k] = true
			deps = append(deps, rd)
		}
	}
	started, finished := first.StartedOn, first.FinishedOn
	var ids []string
	builderVersion := map[string]string{"ecc": first.Builder.Version}
	if first.Builder.Commit != "" {
		builderVersion["commit"] = first.Builder.Commit
	}
	for _, pl := range p.Platforms {
		m := pl.Materials
		arches = append(arches, m.Arch)
		btf[m.Arch] = m.BTF.Path
		for _, f := range m.Files {
			if f.Kind == attest.KindExportHeader {
				ext["exportHeader"] = f.Path
			}
			ann, err := structpb.NewStruct(map[string]any{"kind": f.Kind})
			if err != nil {
				return nil, err
			}
			add(&intoto.ResourceDescriptor{Name: f.Path, Digest: map[string]string{"sha256": f.SHA256}, Annotations: ann})
		}
		ann, err := structpb.NewStruct(map[string]any{"kind": "btf", "arch": m.Arch})
		if err != nil {
			return nil, err
		}
		add(&intoto.ResourceDescriptor{Name: m.BTF.Path, Digest: map[string]string{"sha256": m.BTF.SHA256}, Annotations: ann})
		for _, k := range m.KernelBTF {
			ann, err := structpb.NewStruct(map[string]any{"kind": "kernel-btf", "arch": m.Arch, "release": k.Release})
			if err != nil {
				return nil, err
			}
			add(&intoto.ResourceDescriptor{Name: "btf/" + k.Release, Digest: map[string]string{"sha256": k.SHA256}, Annotations: ann})
		}
		ann, err = structpb.NewStruct(map[string]any{"kind": "compiler", "version": m.Clang.Version})
		if err != nil {
			return nil, err
		}
		add(&intoto.ResourceDescriptor{Name: "clang", Uri: "file://" + m.Clang.Path, Annotations: ann})
		builderVersion["clang"] = m.Clang.Version
		if m.StartedOn.Before(started) {
			started = m.StartedOn
		}
		if m.FinishedOn.After(finished) {
			finished = m.FinishedOn
		}
		ids = append(ids, m.InvocationID)
	}
	ext["arches"] = arches
	ext["btf"] = btf
	extS, err := structpb.NewStruct(ext)
	if err != nil {
		return nil, err
	}
	pred := &slsa.Provenance{
		BuildDefinition: &slsa.BuildDefinition{
			BuildType:            BuildType,
			ExternalParameters:   extS,
			ResolvedDependencies: deps,
		},
		RunDetails: &slsa.RunDetails{
			Builder: &slsa.Builder{Id: BuilderID + "@" + first.Builder.Version, Version: builderVersion},
			Metadata: &slsa.BuildMetadata{
				InvocationId: strings.Join(ids, ","),
				StartedOn:    timestamp(started),
				FinishedOn:   timestamp(finished),
			},
		},
	}
	if err := pred.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", attest.ErrStatement, err)
	}
	return statement(p.Subjects(), ProvenancePredicateType, pred)
}

func stringsAny(ss []string) []any {
	out := make([]any, 0, len(ss))
	for _, s := range ss {
		out = append(out, s)
	}
	return out
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
