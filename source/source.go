package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecc-bpf/ecc/internal/fetch"
	"github.com/ecc-bpf/ecc/internal/pin"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/packager/extract"
	"github.com/ecc-bpf/ecc/registry"
	"github.com/ecc-bpf/ecc/registry/sign"
	"github.com/ecc-bpf/ecc/registry/store"
)

// Source is a package and where it came from.
type Source struct {
	// Name is how the user named it (a path, URL or "-").
	Name string
	// Package is the object and its metadata (nil for a Wasm program; no
	// object for a NAME.skel.json opened with MetadataOnly).
	Package *packager.Package
	// Wasm is a Wasm user-space program (a .wasm file, or the Wasm layer of
	// an OCI artifact); when set, it is what runs, and it loads its own BPF
	// object through the wasm_bpf host ABI.
	Wasm []byte
}

// HTTPTimeout bounds fetching a package over http(s), redirects and body
// included; HTTPHeaderTimeout the wait for each response's headers.
var (
	HTTPTimeout       = fetch.DefaultTimeout
	HTTPHeaderTimeout = fetch.DefaultHeaderTimeout
)

// OpenOptions say where packages named by reference come from.
type OpenOptions struct {
	// Stdin is read for "-".
	Stdin io.Reader
	// Registry gives the options for pulling a reference; it is called
	// only when one is pulled (nil: the defaults).
	Registry func() (*registry.Options, error)
	// Pull is the policy for references: "missing" (default: use the local
	// store, pull what it lacks), "never" (the store only) or "always".
	Pull string
	// NoStore reads a reference that is pulled from its registry without
	// keeping it in the local store (inspect).
	NoStore bool
	// MetadataOnly accepts a NAME.skel.json: its Source has metadata and no
	// object, enough to show the package but not to run it (inspect).
	MetadataOnly bool
	// Platform chooses from multi-arch artifacts and build folders
	// ("linux/arm64"; "" is the host's).
	Platform string
	// Progress follows a pull's transfer (nil: nothing does).
	Progress registry.Progress

	// PlainHTTP allows http:// URLs (--plain-http). A redirect from
	// https:// to http:// is refused even then.
	PlainHTTP bool
	// CAFile and Insecure configure TLS for https:// URLs as they do for
	// registries (--ca-file, --insecure).
	CAFile   string
	Insecure bool
	// Timeout, when positive, replaces HTTPTimeout for URLs.
	Timeout time.Duration
	// Digest pins the package (--digest sha256:HEX): the bytes read (the
	// file named, a folder's package.json, a URL's body after HTTP content
	// decoding, stdin) must hash to it, else Open refuses them before
	// parsing anything. For a reference it is the manifest or index digest,
	// as in REF@sha256:HEX.
	Digest string
	// Policy, when set, decides which references may run: a reference
	// it wants verified is resolved once on its registry (or layout),
	// its signatures checked there against that digest, and exactly that
	// digest pulled; one that fails is returned as the policy's error
	// and nothing of it is loaded. Files, folders, URLs and stdin carry
	// no signatures: Open refuses them when the policy is ReferencesOnly.
	Policy *sign.Policy
}

// Pull policies.
const (
	PullMissing = "missing"
	PullNever   = "never"
	PullAlways  = "always"
)

// Open reads a package named by ref: a package.json, a build folder, a bare
// BPF object (NAME.bpf.o, its metadata derived as ecc build would, without
// doc comments), a Wasm program (NAME.wasm), an http(s) URL of any of
// these, "-" for stdin, or an OCI reference (pulled into the local store,
// verified, per o.Pull).
func Open(ctx context.Context, ref string, o *OpenOptions) (*Source, error) {
	if o == nil {
		o = &OpenOptions{}
	}
	var want digest.Digest
	if o.Digest != "" {
		d, err := pin.Parse(o.Digest)
		if err != nil {
			return nil, err
		}
		want = d
	}
	// checked decodes data once it matches the pinned digest.
	checked := func(what, name string, data []byte) (*Source, error) {
		if want != "" {
			if err := pin.Check("package "+what, want, data); err != nil {
				return nil, err
			}
		}
		return fromBytes(what, name, data)
	}
	if ref == "-" || fetch.IsURL(ref) {
		if err := unverifiable(ref, o.Policy); err != nil {
			return nil, err
		}
	}
	switch {
	case ref == "":
		return nil, errors.New("no package given; usage: ecli run PACKAGE [PROGRAM FLAGS...]")
	case ref == "-":
		if o.Stdin == nil {
			return nil, errors.New("package -: no standard input")
		}
		data, err := io.ReadAll(io.LimitReader(o.Stdin, packager.MaxPackageSize+1))
		if err != nil {
			return nil, fmt.Errorf("read package from stdin: %w", err)
		}
		if len(data) > packager.MaxPackageSize {
			return nil, fmt.Errorf("package -: larger than %d bytes", packager.MaxPackageSize)
		}
		return checked("-", "stdin", data)
	case fetch.IsURL(ref):
		timeout := HTTPTimeout
		if o.Timeout > 0 {
			timeout = o.Timeout
		}
		data, err := fetch.Get(ctx, ref, &fetch.Options{
			PlainHTTP: o.PlainHTTP, CAFile: o.CAFile, Insecure: o.Insecure,
			MaxSize: packager.MaxPackageSize, Timeout: timeout, HeaderTimeout: HTTPHeaderTimeout,
		})
		if err != nil {
			return nil, err
		}
		return checked(fetch.Redact(ref), nameFromURL(ref), data)
	}
	st, err := os.Stat(ref)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if r, perr := registry.ParseReference(ref); perr == nil {
				if want != "" {
					if r.Digest != "" && r.Digest != want.String() {
						return nil, fmt.Errorf("package %s: --digest %s contradicts the reference's own digest", ref, want)
					}
					r.Digest = want.String()
				}
				if o.Policy != nil && o.Policy.NeedsVerification(r) {
					return openVerified(ctx, r, o)
				}
				return openReference(ctx, r, o)
			}
			return nil, fmt.Errorf("package %s: no such file or folder, nor a registry reference; pass a package.json, a build folder, a .bpf.o, a URL, - or host/repo:tag", ref)
		}
		return nil, fmt.Errorf("package %s: %w", ref, err)
	}
	if err := unverifiable(ref, o.Policy); err != nil {
		return nil, err
	}
	file := ref
	if st.IsDir() {
		file = archPackage(ref, o.Platform)
		if _, err := os.Stat(file); err != nil {
			// packager.Open says what the folder lacks and how to build it.
			_, err := packager.Open(ref)
			return nil, err
		}
	}
	data, err := readCapped(file)
	if err != nil {
		return nil, err
	}
	if o.MetadataOnly && !st.IsDir() && strings.HasSuffix(ref, ".skel.json") {
		if want != "" {
			if err := pin.Check("package "+ref, want, data); err != nil {
				return nil, err
			}
		}
		m, err := packager.UnmarshalMeta(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		return &Source{Name: ref, Package: &packager.Package{Meta: *m}}, nil
	}
	if st.IsDir() {
		s, err := checked(file, "package", data)
		if s != nil {
			s.Name = ref
		}
		return s, err
	}
	return checked(ref, packager.NameOf(ref), data)
}

// archPackage is the package.json of a build folder for platform ("" is
// the host's): DIR/package.json, unless that one is for another
// architecture and the folder holds the platform's in DIR/ARCH/ (ecc build
// --arch arm64,x86_64 writes the first architecture at the top, the
// others in folders named after them).
func archPackage(dir, platform string) string {
	arch := packager.HostArch()
	if platform != "" {
		arch = packager.KernelArch(path.Base(platform))
	}
	top := filepath.Join(dir, "package.json")
	alt := filepath.Join(dir, arch, "package.json")
	if _, err := os.Stat(alt); err != nil {
		return top
	}
	data, err := readCapped(top)
	if err != nil {
		return top
	}
	var p struct {
		Meta struct {
			Arch string `json:"arch"`
		} `json:"meta"`
	}
	if json.Unmarshal(data, &p) != nil || p.Meta.Arch == "" || packager.KernelArch(p.Meta.Arch) == arch {
		return top
	}
	return alt
}

// readCapped reads a package file of at most packager.MaxPackageSize bytes.
func readCapped(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, packager.MaxPackageSize+1))
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", name, err)
	}
	if len(data) > packager.MaxPackageSize {
		return nil, fmt.Errorf("package %s: larger than %d bytes", name, packager.MaxPackageSize)
	}
	return data, nil
}

// fromBytes decodes a package.json or derives a package from a bare object.
func fromBytes(ref, name string, data []byte) (*Source, error) {
	if bytes.HasPrefix(data, []byte("\x00asm")) {
		return &Source{Name: ref, Wasm: data}, nil
	}
	if bytes.HasPrefix(data, []byte("\x7fELF")) {
		m, err := extract.Extract(&extract.Input{Object: data, Name: name})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		return &Source{Name: ref, Package: &packager.Package{Object: data, Meta: *m}}, nil
	}
	p, err := packager.Unmarshal(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	return &Source{Name: ref, Package: p}, nil
}

func nameFromURL(u string) string {
	base := filepath.Base(strings.SplitN(u, "?", 2)[0])
	if base == "package.json" || base == "." || base == "/" {
		return "package"
	}
	return packager.NameOf(base)
}

// openReference gets a package from the local store or its registry.
func openReference(ctx context.Context, ref registry.Reference, o *OpenOptions) (*Source, error) {
	store, err := store.Open(store.DefaultDir())
	if err != nil {
		return nil, err
	}
	defer store.Close()
	var pp *packager.PlatformPackage
	policy := o.Pull
	if policy == "" {
		policy = PullMissing
	}
	switch policy {
	case PullMissing, PullNever:
		pp, err = registry.Load(ctx, store, ref, o.Platform)
		if err == nil || !errors.Is(err, registry.ErrNotInStore) {
			break
		}
		if policy == PullNever {
			return nil, fmt.Errorf("%s is not in the local store and --pull=never: pull it first (ecli pull %s)", ref, ref)
		}
		fallthrough
	case PullAlways:
		var ro *registry.Options
		if o.Registry != nil {
			if ro, err = o.Registry(); err != nil {
				return nil, err
			}
		}
		var src registry.Target
		if src, err = registry.OpenTarget(ctx, ref, ro); err != nil {
			return nil, err
		}
		into := store
		if o.NoStore {
			into = nil
		}
		var p *registry.Pulled
		p, err = registry.Pull(ctx, src, ref, into, &registry.PullOptions{Platform: o.Platform, Progress: o.Progress})
		src.Close()
		if err == nil {
			pp = p.Package
		}
	default:
		return nil, fmt.Errorf("--pull=%s: use missing, never or always", policy)
	}
	if err != nil {
		return nil, err
	}
	return &Source{Name: ref.String(), Package: pp.Package, Wasm: pp.Wasm}, nil
}

// unverifiable refuses a package that is not a reference (a file, a
// folder, a URL, stdin), which carries no signatures, under a policy that
// runs references only.
func unverifiable(ref string, p *sign.Policy) error {
	if p == nil || !p.ReferencesOnly {
		return nil
	}
	return fmt.Errorf("package %s is not a registry reference, and %s runs only references whose signatures it checks: run it by reference, or pin it with --digest", ref, p.Name)
}

// openVerified resolves ref once on its registry or layout, applies the
// policy to that digest, then pulls exactly that digest: a tag pushed
// again between the check and the pull cannot swap the package. The
// local store is not trusted for signatures (it keeps none), so the
// registry is asked even with --pull=missing; blobs the store has are
// not downloaded again.
func openVerified(ctx context.Context, ref registry.Reference, o *OpenOptions) (*Source, error) {
	if o.Pull == PullNever {
		return nil, fmt.Errorf("%s: %s needs its signatures from the registry, and --pull=never forbids asking it", ref, o.Policy.Name)
	}
	var ro *registry.Options
	var err error
	if o.Registry != nil {
		if ro, err = o.Registry(); err != nil {
			return nil, err
		}
	}
	src, err := registry.OpenTarget(ctx, ref, ro)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	root, err := registry.ResolveRoot(ctx, src, ref)
	if err != nil {
		return nil, err
	}
	if _, err := o.Policy.Check(ctx, src, ref, root); err != nil {
		return nil, err
	}
	pinned := ref
	pinned.Digest = root.Digest.String()
	st, err := store.Open(store.DefaultDir())
	if err != nil {
		return nil, err
	}
	defer st.Close()
	into := st
	if o.NoStore {
		into = nil
	}
	p, err := registry.Pull(ctx, src, pinned, into, &registry.PullOptions{Platform: o.Platform, Progress: o.Progress})
	if err != nil {
		return nil, err
	}
	if p.Root.Digest != root.Digest {
		return nil, fmt.Errorf("%s: pulled %s, not the verified %s", ref, p.Root.Digest, root.Digest)
	}
	return &Source{Name: ref.String(), Package: p.Package.Package, Wasm: p.Package.Wasm}, nil
}
