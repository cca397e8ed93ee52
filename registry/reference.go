package registry

import (
	"fmt"
	"net"
	"net/netip"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/errdef"
	orasregistry "oras.land/oras-go/v2/registry"

	"github.com/ecc-bpf/ecc/packager"
)

// RefKind says where a reference points.
type RefKind int

const (
	// Remote is a repository on a registry: host[:port]/repo[:tag|@digest].
	Remote RefKind = iota
	// OCILayout is an OCI image layout folder: oci:DIR[:tag|@digest].
	OCILayout
	// OCIArchive is an OCI image layout in a tar file: oci-archive:FILE[:tag|@digest].
	OCIArchive
)

// String returns "remote", "oci" or "oci-archive".
func (k RefKind) String() string {
	switch k {
	case Remote:
		return "remote"
	case OCILayout:
		return "oci"
	case OCIArchive:
		return "oci-archive"
	}
	return fmt.Sprintf("RefKind(%d)", int(k))
}

// DefaultTag is the tag a reference gets when it names neither a tag nor a
// digest.
const DefaultTag = "latest"

const (
	layoutPrefix  = "oci:"
	archivePrefix = "oci-archive:"
	acceptedForms = "host[:port]/repo[:tag|@digest], oci:DIR[:tag] or oci-archive:FILE.tar[:tag]"
)

// Reference is a parsed package reference.
type Reference struct {
	Kind RefKind
	// Registry is host[:port] (Remote only), e.g. "ghcr.io", "[::1]:5000".
	Registry string
	// Repository is the repository path on the registry (Remote only).
	Repository string
	// Tag is the tag; DefaultTag when the input named neither tag nor digest.
	// It may be set together with Digest (host/repo:v1@sha256:…).
	Tag string
	// Digest is the manifest digest ("sha256:…") or empty.
	Digest string
	// Path is the layout folder (OCILayout) or the tar file (OCIArchive).
	Path string
}

// String returns the canonical form of the reference: the tag is always
// written out (":latest" included) and a digest follows it after '@'.
func (r Reference) String() string {
	var b strings.Builder
	switch r.Kind {
	case OCILayout:
		b.WriteString(layoutPrefix + r.Path)
	case OCIArchive:
		b.WriteString(archivePrefix + r.Path)
	default:
		b.WriteString(r.Registry + "/" + r.Repository)
	}
	if r.Tag != "" {
		b.WriteString(":" + r.Tag)
	}
	if r.Digest != "" {
		b.WriteString("@" + r.Digest)
	}
	return b.String()
}

// TagOrDigest returns what to resolve on the target: the digest when there is
// one (it pins the content; a tag beside it is informational), else the tag.
func (r Reference) TagOrDigest() string {
	if r.Digest != "" {
		return r.Digest
	}
	return r.Tag
}

// Name is the package's short name, for a folder to pull it into: the last
// component of the repository (ghcr.io/org/probes/execsnoop:v1 →
// "execsnoop"), of a layout's folder, or of an archive's file without its
// extension (oci-archive:/tmp/probes.tar → "probes"); "package" when that
// is not a plain file name.
func (r Reference) Name() string {
	name := path.Base(r.Repository)
	switch r.Kind {
	case OCILayout:
		name = filepath.Base(r.Path)
	case OCIArchive:
		name = filepath.Base(r.Path)
		name = strings.TrimSuffix(name, filepath.Ext(name))
	}
	if !packager.ValidName(name) {
		return "package"
	}
	return name
}

// refError is a reference ParseReference rejects. It wraps
// ErrInvalidReference and, when oras-go found the fault, oras-go's error.
type refError struct {
	input  string
	reason string
	err    error
}

func (e *refError) Error() string {
	if e.reason == "" {
		return fmt.Sprintf("invalid reference %q: use %s", e.input, acceptedForms)
	}
	return fmt.Sprintf("invalid reference %q: %s; use %s", e.input, e.reason, acceptedForms)
}

func (e *refError) Unwrap() []error {
	if e.err == nil {
		return []error{ErrInvalidReference}
	}
	return []error{ErrInvalidReference, e.err}
}

var tagRegexp = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)

// ParseReference parses host[:port]/repo[:tag|@digest], oci:DIR[:tag|@digest]
// or oci-archive:FILE[:tag|@digest]. Errors wrap ErrInvalidReference, name
// the input and list the accepted forms.
func ParseReference(s string) (Reference, error) {
	switch {
	case s == "":
		return Reference{}, &refError{input: s, reason: "empty reference"}
	case strings.HasPrefix(s, archivePrefix):
		return parseLayoutRef(s, OCIArchive, strings.TrimPrefix(s, archivePrefix))
	case strings.HasPrefix(s, layoutPrefix):
		return parseLayoutRef(s, OCILayout, strings.TrimPrefix(s, layoutPrefix))
	}
	return parseRemoteRef(s)
}

func parseRemoteRef(s string) (Reference, error) {
	host, path, ok := strings.Cut(s, "/")
	if !ok {
		return Reference{}, &refError{input: s}
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return Reference{}, &refError{input: s, reason: "white space in reference"}
	}
	if !looksLikeHost(host) {
		return Reference{}, &refError{input: s,
			reason: fmt.Sprintf("%q is not a registry host (write it out, e.g. docker.io/%s or ghcr.io/%s)", host, s, s)}
	}
	oref, err := orasregistry.ParseReference(s)
	if err != nil {
		return Reference{}, &refError{input: s, reason: invalidPart(host, path), err: err}
	}
	ref := Reference{Kind: Remote, Registry: oref.Registry, Repository: oref.Repository}
	if at := strings.IndexByte(path, '@'); at >= 0 {
		ref.Digest = oref.Reference
		// oras-go drops a tag written before the digest; keep it (validated).
		if _, tag, ok := strings.Cut(path[:at], ":"); ok {
			if !tagRegexp.MatchString(tag) {
				return Reference{}, &refError{input: s, reason: fmt.Sprintf("invalid tag %q", tag)}
			}
			ref.Tag = tag
		}
	} else {
		ref.Tag = oref.Reference
		if ref.Tag == "" && strings.HasSuffix(path, ":") {
			return Reference{}, &refError{input: s, reason: "empty tag"}
		}
	}
	if ref.Tag == "" && ref.Digest == "" {
		ref.Tag = DefaultTag
	}
	return ref, nil
}

// invalidPart says which part of host/path oras-go refused, found with
// the validations ParseReference runs (its errors say it only in their
// text).
func invalidPart(host, path string) string {
	repo, dgst, hasDigest := strings.Cut(path, "@")
	repo, tag, hasTag := strings.Cut(repo, ":")
	r := orasregistry.Reference{Registry: host, Repository: repo, Reference: tag}
	switch {
	case r.ValidateRegistry() != nil:
		return fmt.Sprintf("invalid registry %q", host)
	case r.ValidateRepository() != nil:
		return fmt.Sprintf("invalid repository %q", repo)
	case hasTag && r.ValidateReferenceAsTag() != nil:
		return fmt.Sprintf("invalid tag %q", tag)
	case hasDigest:
		if _, err := digest.Parse(dgst); err != nil {
			return fmt.Sprintf("invalid digest %q: %v", dgst, err)
		}
	}
	return ""
}

// looksLikeHost reports whether the first component of a reference names a
// registry host rather than a Docker Hub namespace: it has a dot or a port,
// is an IPv6 literal, or is "localhost".
func looksLikeHost(host string) bool {
	return strings.ContainsAny(host, ".:[") || strings.EqualFold(host, "localhost")
}

func parseLayoutRef(s string, kind RefKind, rest string) (Reference, error) {
	what := "folder"
	if kind == OCIArchive {
		what = "file"
	}
	ref := Reference{Kind: kind}
	// A digest follows the last '@' unless that '@' belongs to the path.
	if at := strings.LastIndexByte(rest, '@'); at >= 0 && !strings.Contains(rest[at+1:], "/") {
		d, err := digest.Parse(rest[at+1:])
		if err != nil {
			return Reference{}, &refError{input: s,
				reason: fmt.Sprintf("invalid digest %q: %v", rest[at+1:], err), err: errdef.ErrInvalidDigest}
		}
		ref.Digest = d.String()
		rest = rest[:at]
	}
	// A tag follows the last ':' unless that ':' belongs to the path.
	if colon := strings.LastIndexByte(rest, ':'); colon >= 0 && !strings.Contains(rest[colon+1:], "/") {
		tag := rest[colon+1:]
		if tag == "" {
			return Reference{}, &refError{input: s, reason: "empty tag"}
		}
		if !tagRegexp.MatchString(tag) {
			return Reference{}, &refError{input: s, reason: fmt.Sprintf("invalid tag %q", tag)}
		}
		ref.Tag = tag
		rest = rest[:colon]
	}
	if rest == "" {
		return Reference{}, &refError{input: s, reason: "missing " + what}
	}
	ref.Path = rest
	if ref.Tag == "" && ref.Digest == "" {
		ref.Tag = DefaultTag
	}
	return ref, nil
}

// isLoopback reports whether host ("host[:port]") is localhost, in
// 127.0.0.0/8 or ::1.
func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// validHost checks a registry host[:port] given on its own (ecc login HOST).
func validHost(host string) error {
	if host == "" || strings.ContainsAny(host, "/@ \t") ||
		(orasregistry.Reference{Registry: host}).ValidateRegistry() != nil {
		return fmt.Errorf("invalid registry host %q: use host[:port], e.g. ghcr.io or localhost:5000", host)
	}
	return nil
}
