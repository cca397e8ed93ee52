package registry

// Copying a package between targets (registries, oci:DIR, oci-archive:FILE)
// with what refers to it: signatures and attestations travel with it, so a
// copy carried into an air-gapped network verifies there as it did at the
// source.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"

	"github.com/ecc-bpf/ecc/packager"
)

// referrerDepth is how far up Copy follows referrers: the package's
// referrers (signatures, attestations) and theirs (signatures of an
// attestation).
const referrerDepth = 2

// Copied is what Copy did.
type Copied struct {
	Source string `json:"source"`
	Target string `json:"target"`
	// Digest is the package's (its index or manifest).
	Digest string `json:"digest"`
	// Referrers are the digests of the manifests copied with it that refer
	// to it or to one of them; CosignTags the cosign tags copied
	// (sha256-HEX.sig, .att), which cosign finds signatures by.
	Referrers  []string `json:"referrers"`
	CosignTags []string `json:"cosign_tags"`
	// Bytes is how much was copied (blobs the target had are not counted).
	Bytes int64 `json:"bytes"`
}

// Copy copies the package srcRef names, every platform, to dstRef's tag, with the artifacts that refer to it: through the OCI
// referrers API or the referrers tag where the source keeps them, and
// cosign's sha256-HEX.sig and .att tags. The source is hostile: manifests
// are capped at packager.MaxManifestSize, referrers at MaxReferrers a
// subject, the whole copy at the limits' MaxBytes, and every blob is
// verified against its digest on the way.
func Copy(ctx context.Context, srcRef, dstRef Reference, o *Options) (*Copied, error) {
	o = o.orDefault()
	if dstRef.Tag == "" || dstRef.Digest != "" {
		return nil, fmt.Errorf("copy %s to %s: the target takes a tag, not a digest", srcRef, dstRef)
	}
	src, err := OpenTarget(ctx, srcRef, o)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	dst, err := OpenTarget(ctx, dstRef, o)
	if err != nil {
		return nil, err
	}
	res, err := copyRefs(ctx, src, srcRef, dst, dstRef, o.Limits.orDefault())
	if cerr := dst.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("copy %s to %s: %w", srcRef, dstRef, cerr)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

func copyRefs(ctx context.Context, src oras.ReadOnlyGraphTarget, srcRef Reference, dst oras.Target, dstRef Reference, lim Limits) (*Copied, error) {
	fail := func(err error) error {
		if errors.Is(err, ErrLimit) {
			return fmt.Errorf("copy %s: %w", srcRef, err)
		}
		return fmt.Errorf("copy %s to %s: %w", srcRef, dstRef, MapError(err, srcRef))
	}
	root, err := ResolveRoot(ctx, src, srcRef)
	if err != nil {
		return nil, fail(err)
	}
	if err := packager.CheckManifestType(root, true); err != nil {
		return nil, fail(err)
	}
	res := &Copied{Source: srcRef.String(), Target: dstRef.String(), Digest: root.Digest.String(), Referrers: []string{}, CosignTags: []string{}}
	var mu sync.Mutex
	referrers := map[string]bool{}
	graph := oras.CopyGraphOptions{
		MaxMetadataBytes: packager.MaxManifestSize,
		PreCopy: func(ctx context.Context, d ocispec.Descriptor) error {
			mu.Lock()
			defer mu.Unlock()
			if d.Size < 0 || res.Bytes+d.Size > lim.MaxBytes {
				return &LimitError{Limit: "MaxBytes", What: fmt.Sprintf("the package and its referrers come to %s or more", HumanSize(res.Bytes+d.Size)), Max: HumanSize(lim.MaxBytes)}
			}
			res.Bytes += d.Size
			return nil
		},
	}
	opts := oras.ExtendedCopyOptions{ExtendedCopyGraphOptions: oras.ExtendedCopyGraphOptions{
		CopyGraphOptions: graph,
		Depth:            referrerDepth,
		FindPredecessors: func(ctx context.Context, _ content.ReadOnlyGraphStorage, d ocispec.Descriptor) ([]ocispec.Descriptor, error) {
			refs, err := Referrers(ctx, src, d, "")
			if errors.Is(err, errdef.ErrNotFound) || errors.Is(err, errdef.ErrUnsupported) {
				return nil, nil
			}
			mu.Lock()
			for _, r := range refs {
				referrers[r.Digest.String()] = true
			}
			mu.Unlock()
			return refs, err
		},
	}}
	if _, err := oras.ExtendedCopy(ctx, src, root.Digest.String(), dst, dstRef.Tag, opts); err != nil {
		return nil, fail(err)
	}
	// cosign's tags: its own signatures and attestations have no subject,
	// so only the tag finds them.
	for _, c := range cosignTags(root.Digest) {
		if _, err := src.Resolve(ctx, c.tag); err != nil {
			continue // no such tag: the usual case
		}
		d, err := oras.Copy(ctx, src, c.tag, dst, c.tag, oras.CopyOptions{CopyGraphOptions: graph})
		if err != nil {
			return nil, fail(err)
		}
		referrers[d.Digest.String()] = true
		res.CosignTags = append(res.CosignTags, c.tag)
	}
	for d := range referrers {
		res.Referrers = append(res.Referrers, d)
	}
	slices.Sort(res.Referrers)
	return res, nil
}
