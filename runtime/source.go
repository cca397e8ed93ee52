package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ecc-bpf/ecc/compiler/meta"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry"
)

// Source is a package and where it came from.
type Source struct {
	// Name is how the user named it (a path, URL or "-").
	Name    string
	Package *packager.Package
	// Wasm is a Wasm user-space program (a .wasm file, or the Wasm layer of
	// an OCI artifact); when set, it is what runs, and it loads its own BPF
	// object through the wasm_bpf host ABI.
	Wasm []byte
}

// HTTPTimeout bounds fetching a package over http(s).
var HTTPTimeout = 30 * time.Second

// OpenOptions say where packages named by reference come from.
type OpenOptions struct {
	// Stdin is read for "-".
	Stdin io.Reader
	// Registry configures pulls of references.
	Registry *registry.Options
	// Pull is the policy for references: "missing" (default: use the local
	// store, pull what it lacks), "never" (the store only) or "always".
	Pull string
	// Platform chooses from multi-arch artifacts ("" is the host's).
	Platform string
	// Progress receives transfer progress (nil: none).
	Progress io.Writer
}

// Pull policies.
const (
	PullMissing = "missing"
	PullNever   = "never"
	PullAlways  = "always"
)

// Open reads a package named by ref: a package.json, a build folder, a bare
// BPF object (NAME.bpf.o, its metadata derived as ecc build would, without
// doc comments), an http(s) URL of a package.json, "-" for stdin, or an OCI
// reference (pulled into the local store, verified, per o.Pull).
func Open(ctx context.Context, ref string, o *OpenOptions) (*Source, error) {
	if o == nil {
		o = &OpenOptions{}
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
		return fromBytes("-", "stdin", data)
	case strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://"):
		data, err := fetch(ctx, ref)
		if err != nil {
			return nil, err
		}
		return fromBytes(ref, nameFromURL(ref), data)
	}
	st, err := os.Stat(ref)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if r, perr := registry.ParseReference(ref); perr == nil {
				return openReference(ctx, r, o)
			}
			return nil, fmt.Errorf("package %s: no such file or folder, nor a registry reference; pass a package.json, a build folder, a .bpf.o, a URL, - or host/repo:tag", ref)
		}
		return nil, fmt.Errorf("package %s: %w", ref, err)
	}
	if st.IsDir() {
		p, err := packager.Open(ref)
		if err != nil {
			return nil, err
		}
		return &Source{Name: ref, Package: p}, nil
	}
	data, err := os.ReadFile(ref)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", ref, err)
	}
	if len(data) > packager.MaxPackageSize {
		return nil, fmt.Errorf("package %s: larger than %d bytes", ref, packager.MaxPackageSize)
	}
	return fromBytes(ref, packager.NameOf(ref), data)
}

// fromBytes decodes a package.json or derives a package from a bare object.
func fromBytes(ref, name string, data []byte) (*Source, error) {
	if bytes.HasPrefix(data, []byte("\x00asm")) {
		return &Source{Name: ref, Wasm: data}, nil
	}
	if bytes.HasPrefix(data, []byte("\x7fELF")) {
		m, err := meta.Extract(&meta.Input{Object: data, Name: name})
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

func fetch(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, HTTPTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch package %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch package %s: %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, packager.MaxPackageSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch package %s: %w", url, err)
	}
	if len(data) > packager.MaxPackageSize {
		return nil, fmt.Errorf("fetch package %s: larger than %d bytes", url, packager.MaxPackageSize)
	}
	return data, nil
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
	store, err := registry.OpenStore(registry.DefaultStoreDir())
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
		var src registry.Target
		if src, err = registry.OpenTarget(ctx, ref, o.Registry); err != nil {
			return nil, err
		}
		var p *registry.Pulled
		p, err = registry.Pull(ctx, src, ref, store, &registry.PullOptions{Platform: o.Platform, Progress: o.Progress})
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
