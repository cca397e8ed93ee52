package registry

import (
	"errors"
	"strings"
	"testing"

	"oras.land/oras-go/v2/errdef"
)

const testDigest = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

func TestParseReferenceValid(t *testing.T) {
	tests := []struct {
		in        string
		want      Reference
		canonical string
	}{
		{"localhost:5000/x", Reference{Kind: Remote, Registry: "localhost:5000", Repository: "x", Tag: "latest"}, "localhost:5000/x:latest"},
		{"127.0.0.1:5000/x", Reference{Kind: Remote, Registry: "127.0.0.1:5000", Repository: "x", Tag: "latest"}, "127.0.0.1:5000/x:latest"},
		{"[::1]:5000/x", Reference{Kind: Remote, Registry: "[::1]:5000", Repository: "x", Tag: "latest"}, "[::1]:5000/x:latest"},
		{"ghcr.io/org/probe:v1", Reference{Kind: Remote, Registry: "ghcr.io", Repository: "org/probe", Tag: "v1"}, "ghcr.io/org/probe:v1"},
		{"localhost/a/b/c:1.0-rc.1", Reference{Kind: Remote, Registry: "localhost", Repository: "a/b/c", Tag: "1.0-rc.1"}, "localhost/a/b/c:1.0-rc.1"},
		{"docker.io/library/busybox", Reference{Kind: Remote, Registry: "docker.io", Repository: "library/busybox", Tag: "latest"}, "docker.io/library/busybox:latest"},
		{"ghcr.io/org/probe@" + testDigest, Reference{Kind: Remote, Registry: "ghcr.io", Repository: "org/probe", Digest: testDigest}, "ghcr.io/org/probe@" + testDigest},
		{"ghcr.io/org/probe:v1@" + testDigest, Reference{Kind: Remote, Registry: "ghcr.io", Repository: "org/probe", Tag: "v1", Digest: testDigest}, "ghcr.io/org/probe:v1@" + testDigest},
		{"oci:out", Reference{Kind: OCILayout, Path: "out", Tag: "latest"}, "oci:out:latest"},
		{"oci:./build/layout:v2", Reference{Kind: OCILayout, Path: "./build/layout", Tag: "v2"}, "oci:./build/layout:v2"},
		{"oci:/tmp/a:b/layout:v1", Reference{Kind: OCILayout, Path: "/tmp/a:b/layout", Tag: "v1"}, "oci:/tmp/a:b/layout:v1"},
		{"oci:/tmp/a:b/layout", Reference{Kind: OCILayout, Path: "/tmp/a:b/layout", Tag: "latest"}, "oci:/tmp/a:b/layout:latest"},
		{"oci:/home/u@host/layout", Reference{Kind: OCILayout, Path: "/home/u@host/layout", Tag: "latest"}, "oci:/home/u@host/layout:latest"},
		{"oci:dir@" + testDigest, Reference{Kind: OCILayout, Path: "dir", Digest: testDigest}, "oci:dir@" + testDigest},
		{"oci:dir:v3@" + testDigest, Reference{Kind: OCILayout, Path: "dir", Tag: "v3", Digest: testDigest}, "oci:dir:v3@" + testDigest},
		{"oci-archive:probe.tar", Reference{Kind: OCIArchive, Path: "probe.tar", Tag: "latest"}, "oci-archive:probe.tar:latest"},
		{"oci-archive:/x/probe.tar:v1", Reference{Kind: OCIArchive, Path: "/x/probe.tar", Tag: "v1"}, "oci-archive:/x/probe.tar:v1"},
		{"oci-archive:probe.tar@" + testDigest, Reference{Kind: OCIArchive, Path: "probe.tar", Digest: testDigest}, "oci-archive:probe.tar@" + testDigest},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseReference(tt.in)
			if err != nil {
				t.Fatalf("ParseReference(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseReference(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if s := got.String(); s != tt.canonical {
				t.Errorf("String() = %q, want %q", s, tt.canonical)
			}
			again, err := ParseReference(got.String())
			if err != nil || again != got {
				t.Errorf("ParseReference(String()) = %+v, %v; want %+v", again, err, got)
			}
			wantTD := tt.want.Tag
			if tt.want.Digest != "" {
				wantTD = tt.want.Digest
			}
			if td := got.TagOrDigest(); td != wantTD {
				t.Errorf("TagOrDigest() = %q, want %q", td, wantTD)
			}
		})
	}
}

func TestParseReferenceInvalid(t *testing.T) {
	const use = "; use host[:port]/repo[:tag|@digest], oci:DIR[:tag] or oci-archive:FILE.tar[:tag]"
	tests := []struct{ in, want string }{
		{"x y", `invalid reference "x y": use host[:port]/repo[:tag|@digest], oci:DIR[:tag] or oci-archive:FILE.tar[:tag]`},
		{"probe", `invalid reference "probe": use host[:port]/repo[:tag|@digest], oci:DIR[:tag] or oci-archive:FILE.tar[:tag]`},
		{"", `invalid reference "": empty reference` + use},
		{"ghcr.io/org/pro be", `invalid reference "ghcr.io/org/pro be": white space in reference` + use},
		{"org/probe:v1", `invalid reference "org/probe:v1": "org" is not a registry host (write it out, e.g. docker.io/org/probe:v1 or ghcr.io/org/probe:v1)` + use},
		{"ghcr.io/Org/probe", `invalid reference "ghcr.io/Org/probe": invalid repository "Org/probe"` + use},
		{"ghcr.io/", `invalid reference "ghcr.io/": invalid repository ""` + use},
		{"ghcr.io/org/probe:", `invalid reference "ghcr.io/org/probe:": empty tag` + use},
		{"ghcr.io/org/probe:bad*tag", `invalid reference "ghcr.io/org/probe:bad*tag": invalid tag "bad*tag"` + use},
		{"ghcr.io/org/probe:bad*tag@" + testDigest, `invalid reference "ghcr.io/org/probe:bad*tag@` + testDigest + `": invalid tag "bad*tag"` + use},
		{"ghcr.io/org/probe@sha256:abc", `invalid reference "ghcr.io/org/probe@sha256:abc": invalid digest "sha256:abc": invalid checksum digest length` + use},
		{"local host:5000/x", `invalid reference "local host:5000/x": white space in reference` + use},
		{"oci:", `invalid reference "oci:": missing folder` + use},
		{"oci-archive::v1", `invalid reference "oci-archive::v1": missing file` + use},
		{"oci:dir:", `invalid reference "oci:dir:": empty tag` + use},
		{"oci:dir:bad*tag", `invalid reference "oci:dir:bad*tag": invalid tag "bad*tag"` + use},
		{"oci:dir@sha256:zz", `invalid reference "oci:dir@sha256:zz": invalid digest "sha256:zz": invalid checksum digest length` + use},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ref, err := ParseReference(tt.in)
			if err == nil {
				t.Fatalf("ParseReference(%q) = %+v, want an error", tt.in, ref)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %s\nwant %s", err, tt.want)
			}
			if !errors.Is(err, ErrInvalidReference) {
				t.Errorf("errors.Is(%v, ErrInvalidReference) = false", err)
			}
		})
	}
	// oras-go's own sentinel stays reachable where oras-go found the fault.
	if _, err := ParseReference("ghcr.io/Org/probe"); !errors.Is(err, errdef.ErrInvalidReference) {
		t.Errorf("errors.Is(%v, errdef.ErrInvalidReference) = false", err)
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "localhost:5000": true, "LOCALHOST:1": true,
		"127.0.0.1": true, "127.0.0.1:5000": true, "127.1.2.3:80": true,
		"[::1]:5000": true, "::1": true, "[::1]": true,
		"ghcr.io": false, "10.0.0.1:5000": false, "[::2]:5000": false,
		"localhost.example.com": false, "128.0.0.1": false,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestRefKindString(t *testing.T) {
	for k, want := range map[RefKind]string{Remote: "remote", OCILayout: "oci", OCIArchive: "oci-archive"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(k), got, want)
		}
	}
	if !strings.HasPrefix(RefKind(9).String(), "RefKind(") {
		t.Errorf("unknown kind: %q", RefKind(9).String())
	}
}

// Name is the folder ecc pull writes into without -o.
func TestReferenceName(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5000/probes/execsnoop:v1":  "execsnoop",
		"ghcr.io/org/opensnoop@" + testDigest: "opensnoop",
		"localhost/x":                         "x",
		"oci:/media/usb/probes:execsnoop":     "probes",
		"oci:.":                               "package",
		"oci-archive:/tmp/tools.tar:v1":       "tools",
		"oci-archive:/tmp/.tar":               "package",
	} {
		ref, err := ParseReference(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := ref.Name(); got != want {
			t.Errorf("%s: Name() = %q, want %q", in, got, want)
		}
	}
}
