package registry

import (
	"context"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	orasregistry "oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
)

// Target is where packages are pushed to or pulled from: a registry
// repository, an OCI layout folder or an OCI layout archive. Close it when
// done: for oci-archive targets Close writes the archive.
type Target interface {
	oras.GraphTarget
	io.Closer
}

// OpenTarget opens the target of ref for reading and writing; see the
// package documentation for the semantics of each kind. Errors of the
// target's methods are classified as MapError does.
func OpenTarget(ctx context.Context, ref Reference, opts *Options) (Target, error) {
	opts = opts.orDefault()
	switch ref.Kind {
	case Remote:
		repo, c, err := newRepository(ref, opts)
		if err != nil {
			return nil, err
		}
		return &remoteTarget{Repository: repo, ref: ref, client: c, lim: opts.Limits}, nil
	case OCILayout:
		t, err := openLayout(ctx, ref)
		if err != nil {
			return nil, err
		}
		t.lim = opts.Limits
		return t, nil
	case OCIArchive:
		return openArchive(ctx, ref, opts.Limits.orDefault())
	}
	return nil, fmt.Errorf("%s: unknown reference kind %v", ref, ref.Kind)
}

var (
	_ Target                        = (*remoteTarget)(nil)
	_ orasregistry.ReferencePusher  = (*remoteTarget)(nil)
	_ orasregistry.ReferenceFetcher = (*remoteTarget)(nil)
	_ orasregistry.Mounter          = (*remoteTarget)(nil)
	_ orasregistry.TagLister        = (*remoteTarget)(nil)
	_ orasregistry.ReferrerLister   = (*remoteTarget)(nil)
	_ Target                        = (*layoutTarget)(nil)
	_ orasregistry.TagLister        = (*layoutTarget)(nil)
)

// remoteTarget is a remote.Repository whose errors are classified. The
// embedded repository keeps its optional interfaces (ReferencePusher,
// ReferenceFetcher, Mounter, TagLister, ReferrerLister) for oras.Copy.
type remoteTarget struct {
	*remote.Repository
	ref    Reference
	client *registryClient
	lim    Limits
}

func (t *remoteTarget) limits() Limits { return t.lim }

func (t *remoteTarget) mapErr(err error) error { return MapError(err, t.ref) }

// mapRefErr classifies an error of an operation on reference (a tag or
// digest of the target's repository), naming that reference in the hint.
func (t *remoteTarget) mapRefErr(err error, reference string) error {
	return MapError(err, withReference(t.ref, reference))
}

// withReference returns ref naming reference (a tag or a digest) instead.
func withReference(ref Reference, reference string) Reference {
	if reference == "" {
		return ref
	}
	ref.Tag, ref.Digest = reference, ""
	if d, err := digest.Parse(reference); err == nil {
		ref.Tag, ref.Digest = "", d.String()
	}
	return ref
}

func (t *remoteTarget) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	rc, err := t.Repository.Fetch(ctx, desc)
	return rc, t.mapErr(err)
}

func (t *remoteTarget) Push(ctx context.Context, desc ocispec.Descriptor, r io.Reader) error {
	return t.mapErr(t.Repository.Push(ctx, desc, r))
}

func (t *remoteTarget) Exists(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	ok, err := t.Repository.Exists(ctx, desc)
	return ok, t.mapErr(err)
}

func (t *remoteTarget) Resolve(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	desc, err := t.Repository.Resolve(ctx, reference)
	return desc, t.mapRefErr(err, reference)
}

func (t *remoteTarget) Tag(ctx context.Context, desc ocispec.Descriptor, reference string) error {
	return t.mapRefErr(t.Repository.Tag(ctx, desc, reference), reference)
}

func (t *remoteTarget) Predecessors(ctx context.Context, node ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	descs, err := t.Repository.Predecessors(ctx, node)
	return descs, t.mapErr(err)
}

func (t *remoteTarget) FetchReference(ctx context.Context, reference string) (ocispec.Descriptor, io.ReadCloser, error) {
	desc, rc, err := t.Repository.FetchReference(ctx, reference)
	return desc, rc, t.mapRefErr(err, reference)
}

func (t *remoteTarget) PushReference(ctx context.Context, desc ocispec.Descriptor, r io.Reader, reference string) error {
	return t.mapRefErr(t.Repository.PushReference(ctx, desc, r, reference), reference)
}

// Close drops idle connections.
func (t *remoteTarget) Close() error {
	t.client.close()
	return nil
}
