package sign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry"
	"github.com/ecc-bpf/ecc/registry/registrytest"
)

// opensslKey makes a private key with openssl genpkey (args select the
// algorithm) and its public key, and returns the two file names.
func opensslKey(t *testing.T, name string, args ...string) (priv, pub string) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	dir := t.TempDir()
	priv, pub = filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
	for _, cmd := range [][]string{
		append(append([]string{"genpkey"}, args...), "-out", priv),
		{"pkey", "-in", priv, "-pubout", "-out", pub},
	} {
		if out, err := exec.Command("openssl", cmd...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(cmd, " "), err, out)
		}
	}
	return priv, pub
}

func ecKey(t *testing.T, name string) (*Signer, *Key) {
	t.Helper()
	priv, pub := opensslKey(t, name, "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
	return loadPair(t, priv, pub)
}

func edKey(t *testing.T, name string) (*Signer, *Key) {
	t.Helper()
	priv, pub := opensslKey(t, name, "-algorithm", "ed25519")
	return loadPair(t, priv, pub)
}

func loadPair(t *testing.T, priv, pub string) (*Signer, *Key) {
	t.Helper()
	s, err := LoadPrivateKey(priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyID != k.ID {
		t.Fatalf("key IDs differ: %s and %s", s.KeyID, k.ID)
	}
	return s, k
}

// pushPackage pushes a small two-architecture package to ref and returns
// the target and the index's descriptor.
func pushPackage(t *testing.T, ref registry.Reference, seed byte) (registry.Target, ocispec.Descriptor) {
	t.Helper()
	ctx := context.Background()
	var pkgs []packager.PlatformPackage
	for _, arch := range []string{"x86_64", "arm64"} {
		m := packager.Meta{Arch: arch}
		m.BpfSkel.ObjName = "probe_bpf"
		m.BpfSkel.Progs = []packager.Prog{{Name: "handle", Attach: "tp/sched/sched_process_exec", Link: true}}
		obj := append([]byte("\x7fELF"), bytes.Repeat([]byte{seed}, 512)...)
		pkgs = append(pkgs, packager.PlatformPackage{Package: &packager.Package{Object: obj, Meta: m}})
	}
	dst, err := registry.OpenTarget(ctx, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Close() })
	if _, err := registry.Push(ctx, pkgs, dst, ref, nil); err != nil {
		t.Fatal(err)
	}
	root, err := registry.ResolveRoot(ctx, dst, ref)
	if err != nil {
		t.Fatal(err)
	}
	return dst, root
}

func mustRef(t *testing.T, s string) registry.Reference {
	t.Helper()
	r, err := registry.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// targets are where signatures are tested: the in-process registry (with
// the referrers API) and an OCI layout (referrers by predecessors).
func targets(t *testing.T) map[string]string {
	srv := registrytest.NewServer(t, registrytest.ServerOptions{})
	return map[string]string{
		"registry": srv.Host + "/probes/sig:v1",
		"layout":   "oci:" + t.TempDir() + ":v1",
	}
}

func TestSignVerify(t *testing.T) {
	ctx := context.Background()
	ecS, ecK := ecKey(t, "ec")
	edS, edK := edKey(t, "ed")
	_, otherK := ecKey(t, "other")
	for name, r := range targets(t) {
		t.Run(name, func(t *testing.T) {
			ref := mustRef(t, r)
			dst, root := pushPackage(t, ref, 1)

			_, err := Verify(ctx, dst, ref, root, []*Key{ecK})
			var ve *VerifyError
			if !errors.Is(err, ErrUnsigned) || !errors.As(err, &ve) || ve.Digest != root.Digest.String() {
				t.Fatalf("verify of an unsigned package: %v", err)
			}
			if !strings.Contains(err.Error(), ref.String()) || !strings.Contains(err.Error(), root.Digest.String()) {
				t.Errorf("error does not name the reference and digest: %v", err)
			}

			signed, err := Sign(ctx, dst, ref, ecS)
			if err != nil {
				t.Fatal(err)
			}
			if signed.Digest != root.Digest.String() || signed.Tag != SigTag(root.Digest) {
				t.Errorf("signed %+v, want digest %s", signed, root.Digest)
			}
			v, err := Verify(ctx, dst, ref, root, []*Key{ecK})
			if err != nil {
				t.Fatal(err)
			}
			if len(v.Signatures) != 1 || v.Signatures[0].KeyID != ecK.ID || v.Signatures[0].Manifest != signed.Signature {
				t.Errorf("verified %+v", v)
			}
			if _, err := Verify(ctx, dst, ref, root, []*Key{otherK}); !errors.Is(err, ErrNotVerified) {
				t.Errorf("verify with another key: %v", err)
			}
			if _, err := Verify(ctx, dst, ref, root, []*Key{ecK, edK}); !errors.Is(err, ErrNotVerified) || !strings.Contains(err.Error(), edK.Name) {
				t.Errorf("verify needing a key that has not signed: %v", err)
			}

			// Signing again with the same key keeps the signature.
			again, err := Sign(ctx, dst, ref, ecS)
			if err != nil {
				t.Fatal(err)
			}
			if again.Signature != signed.Signature {
				t.Errorf("signing again with the same key made %s, want %s kept", again.Signature, signed.Signature)
			}

			// A second signature joins the first.
			if _, err := Sign(ctx, dst, ref, edS); err != nil {
				t.Fatal(err)
			}
			v, err = Verify(ctx, dst, ref, root, []*Key{ecK, edK})
			if err != nil {
				t.Fatal(err)
			}
			if len(v.Signatures) != 2 {
				t.Errorf("verified %+v, want two signatures", v)
			}

			// The signature is a referrer of the digest too.
			// (All referrers: the in-process registry reports a
			// referrer's config media type as its artifactType.)
			refs, err := registry.Referrers(ctx, dst, root, "")
			found := false
			for _, d := range refs {
				found = found || d.Digest == mustResolve(t, dst, SigTag(root.Digest)).Digest
			}
			if err != nil || !found {
				t.Errorf("referrers of the signed digest: %v %v", refs, err)
			}

			// A package pushed over the tag is another digest: unsigned.
			_, root2 := pushPackage(t, ref, 2)
			if root2.Digest == root.Digest {
				t.Fatal("the second package has the first's digest")
			}
			if _, err := Verify(ctx, dst, ref, root2, []*Key{ecK}); !errors.Is(err, ErrUnsigned) {
				t.Errorf("verify of a package re-pushed over the tag: %v", err)
			}
		})
	}
}

// rewriteSig replaces the .sig manifest of root in dst (a registry) with
// one whose layers edit returns, deleting the original.
func rewriteSig(t *testing.T, dst registry.Target, root ocispec.Descriptor, edit func(ocispec.Descriptor, []byte) (ocispec.Descriptor, []byte)) {
	t.Helper()
	ctx := context.Background()
	d, err := dst.Resolve(ctx, SigTag(root.Digest))
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := registry.FetchManifest(ctx, dst, d)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range m.Layers {
		data, err := content.FetchAll(ctx, dst, l)
		if err != nil {
			t.Fatal(err)
		}
		nl, nd := edit(l, data)
		if nl.Digest != l.Digest {
			if err := dst.Push(ctx, nl, bytes.NewReader(nd)); err != nil {
				t.Fatal(err)
			}
		}
		m.Layers[i] = nl
	}
	data, _ := json.Marshal(m)
	nd := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, data)
	if err := dst.Push(ctx, nd, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := dst.Tag(ctx, nd, SigTag(root.Digest)); err != nil {
		t.Fatal(err)
	}
	// Drop the original, which is still a referrer of root.
	if err := dst.(content.Deleter).Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
}

func TestTampered(t *testing.T) {
	ctx := context.Background()
	s, k := ecKey(t, "ec")
	srv := registrytest.NewServer(t, registrytest.ServerOptions{})
	cases := map[string]func(ocispec.Descriptor, []byte) (ocispec.Descriptor, []byte){
		// A payload changed after signing (its digest updated).
		"changed payload": func(l ocispec.Descriptor, data []byte) (ocispec.Descriptor, []byte) {
			data = bytes.Replace(data, []byte(`"optional":null`), []byte(`"optional":{"x":1}`), 1)
			l.Digest, l.Size = digest.FromBytes(data), int64(len(data))
			return l, data
		},
		"malformed signature": func(l ocispec.Descriptor, data []byte) (ocispec.Descriptor, []byte) {
			l.Annotations = map[string]string{SignatureAnnotation: base64.StdEncoding.EncodeToString([]byte("not a signature"))}
			return l, data
		},
		// A payload declared huge is not fetched.
		"huge payload": func(l ocispec.Descriptor, data []byte) (ocispec.Descriptor, []byte) {
			l.Size = 1 << 40
			return l, data
		},
		"signature not base64": func(l ocispec.Descriptor, data []byte) (ocispec.Descriptor, []byte) {
			l.Annotations = map[string]string{SignatureAnnotation: "%%%"}
			return l, data
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			ref := mustRef(t, srv.Host+"/probes/"+strings.ReplaceAll(name, " ", "-")+":v1")
			dst, root := pushPackage(t, ref, 1)
			if _, err := Sign(ctx, dst, ref, s); err != nil {
				t.Fatal(err)
			}
			rewriteSig(t, dst, root, edit)
			if _, err := Verify(ctx, dst, ref, root, []*Key{k}); !errors.Is(err, ErrNotVerified) {
				t.Fatalf("verify of a tampered signature: %v", err)
			}
			// Signing again over the broken signature works.
			if _, err := Sign(ctx, dst, ref, s); err != nil {
				t.Fatal(err)
			}
			if _, err := Verify(ctx, dst, ref, root, []*Key{k}); err != nil {
				t.Fatalf("verify after signing again: %v", err)
			}
		})
	}

	// A payload whose blob no longer matches its digest is refused.
	t.Run("changed blob", func(t *testing.T) {
		dir := t.TempDir()
		ref := mustRef(t, "oci:"+dir+":v1")
		dst, root := pushPackage(t, ref, 1)
		if _, err := Sign(ctx, dst, ref, s); err != nil {
			t.Fatal(err)
		}
		m, _, err := registry.FetchManifest(ctx, dst, mustResolve(t, dst, SigTag(root.Digest)))
		if err != nil {
			t.Fatal(err)
		}
		blob := filepath.Join(dir, "blobs", "sha256", m.Layers[0].Digest.Encoded())
		data, err := os.ReadFile(blob)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)-2] ^= 1
		os.Chmod(blob, 0o644)
		if err := os.WriteFile(blob, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = Verify(ctx, dst, ref, root, []*Key{k})
		if !errors.Is(err, ErrNotVerified) || !strings.Contains(fmt.Sprint(err), "payload "+m.Layers[0].Digest.String()) {
			t.Fatalf("verify of a changed payload blob: %v", err)
		}
	})

	// A signature of one digest copied to another is a replay.
	t.Run("replayed", func(t *testing.T) {
		ref := mustRef(t, "oci:"+t.TempDir()+":v1")
		dst, root := pushPackage(t, ref, 1)
		if _, err := Sign(ctx, dst, ref, s); err != nil {
			t.Fatal(err)
		}
		ref2 := mustRef(t, ref.String()[:len(ref.String())-len(":v1")]+":v2")
		_, root2 := pushPackage(t, ref2, 2)
		if err := dst.Tag(ctx, mustResolve(t, dst, SigTag(root.Digest)), SigTag(root2.Digest)); err != nil {
			t.Fatal(err)
		}
		_, err := Verify(ctx, dst, ref2, root2, []*Key{k})
		if !errors.Is(err, ErrNotVerified) || !strings.Contains(err.Error(), "another digest") {
			t.Fatalf("verify of a replayed signature: %v", err)
		}
	})
}

func mustResolve(t *testing.T, dst registry.Target, tag string) ocispec.Descriptor {
	t.Helper()
	d, err := dst.Resolve(context.Background(), tag)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Signatures written into an oci-archive: tar survive Close and verify
// when the archive is opened again (air-gapped use).
func TestArchiveKeepsSignatures(t *testing.T) {
	ctx := context.Background()
	s, k := edKey(t, "ed")
	ref := mustRef(t, "oci-archive:"+filepath.Join(t.TempDir(), "probes.tar")+":v1")
	dst, root := pushPackage(t, ref, 1)
	if _, err := Sign(ctx, dst, ref, s); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	src, err := registry.OpenTarget(ctx, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	again, err := registry.ResolveRoot(ctx, src, ref)
	if err != nil || again.Digest != root.Digest {
		t.Fatalf("resolve in the reopened archive: %v %v", again.Digest, err)
	}
	if _, err := Verify(ctx, src, ref, again, []*Key{k}); err != nil {
		t.Fatal(err)
	}
}

// Many signers leave many replaced .sig manifests behind as referrers;
// past the bound they are not read, and the current .sig manifest, read
// first, still holds every signature.
func TestManySigners(t *testing.T) {
	ctx := context.Background()
	ref := mustRef(t, "oci:"+t.TempDir()+":v1")
	dst, root := pushPackage(t, ref, 1)
	var keys []*Key
	for i := 0; i < MaxSignatureManifests+3; i++ {
		privPEM, pubPEM, err := GenerateKey(Ed25519)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParsePrivateKey(privPEM, nil)
		if err != nil {
			t.Fatal(err)
		}
		k, err := ParsePublicKey(pubPEM, fmt.Sprint("key", i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Sign(ctx, dst, ref, s); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if refs, err := registry.Referrers(ctx, dst, root, ""); err != nil || len(refs) <= MaxSignatureManifests {
		t.Fatalf("%d referrers (%v), want more than %d", len(refs), err, MaxSignatureManifests)
	}
	v, err := Verify(ctx, dst, ref, root, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Signatures) != len(keys) {
		t.Errorf("%d signatures verified, want %d", len(v.Signatures), len(keys))
	}
}
