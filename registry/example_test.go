package registry_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry"
	"github.com/ecc-bpf/ecc/registry/registrytest"
	"github.com/ecc-bpf/ecc/registry/store"
)

// probe is a package for arch; its object is a stand-in (only its ELF
// magic is checked on the way).
func probe(arch string) packager.PlatformPackage {
	m := packager.Meta{Arch: arch}
	m.BpfSkel.ObjName = "hello_bpf"
	m.BpfSkel.Doc = &packager.Doc{Version: "0.1.0", Brief: "says hello"}
	m.BpfSkel.Progs = []packager.Prog{{Name: "handle_exec", Attach: "tp/sched/sched_process_exec", Link: true}}
	obj := append([]byte("\x7fELF"), arch...)
	return packager.PlatformPackage{Package: &packager.Package{Object: obj, Meta: m}, Name: "hello"}
}

// openRepo parses a reference and opens it for pushes and pulls (on a
// loopback registry, over plain HTTP).
func openRepo(ctx context.Context, s string) (registry.Reference, registry.Target) {
	ref, err := registry.ParseReference(s)
	if err != nil {
		log.Fatal(err)
	}
	t, err := registry.OpenTarget(ctx, ref, nil)
	if err != nil {
		log.Fatal(err)
	}
	return ref, t
}

// Push a package built for two architectures to a registry (here one in
// the process, on a random port) as one artifact: an index with a
// manifest per architecture. A second push sends nothing again.
func ExamplePush() {
	reg := registrytest.Start(registrytest.ServerOptions{})
	defer reg.Close()
	ctx := context.Background()

	ref, dst := openRepo(ctx, reg.Host+"/probes/hello:v1")
	defer dst.Close()
	pkgs := []packager.PlatformPackage{probe("x86_64"), probe("arm64")}
	res, err := registry.Push(ctx, pkgs, dst, ref, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Reference == ref.String(), res.MediaType)
	fmt.Println("uploaded", res.Uploaded, "blobs (two objects, two configs)")
	res, err = registry.Push(ctx, pkgs, dst, ref, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("again: uploaded", res.Uploaded, "skipped", res.Skipped)
	// Output:
	// true application/vnd.oci.image.index.v1+json
	// uploaded 4 blobs (two objects, two configs)
	// again: uploaded 0 skipped 4
}

// Pull one platform's package from a registry into the local store, then
// read it from the store alone (what ecli run REF does offline).
func ExamplePull() {
	reg := registrytest.Start(registrytest.ServerOptions{})
	defer reg.Close()
	ctx := context.Background()
	ref, src := openRepo(ctx, reg.Host+"/probes/hello:v1")
	defer src.Close()
	if _, err := registry.Push(ctx, []packager.PlatformPackage{probe("x86_64"), probe("arm64")}, src, ref, nil); err != nil {
		log.Fatal(err)
	}

	dir, err := os.MkdirTemp("", "store-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	pulled, err := registry.Pull(ctx, src, ref, st, &registry.PullOptions{Platform: "linux/arm64"})
	if err != nil {
		log.Fatal(err)
	}
	p := pulled.Package
	fmt.Println(p.Name, p.Platform, p.Package.Meta.BpfSkel.ObjName, p.Package.Meta.Arch)
	fmt.Println("fetched", pulled.Fetched, "blobs")

	loaded, err := registry.Load(ctx, st, ref, "linux/arm64")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("from the store: %s %s, object %q\n", loaded.Package.Meta.BpfSkel.Doc.Brief, loaded.Package.Meta.BpfSkel.Doc.Version, loaded.Package.Object)
	// Output:
	// hello linux/arm64 hello_bpf arm64
	// fetched 2 blobs
	// from the store: says hello 0.1.0, object "\x7fELFarm64"
}

// The forms of a reference: a repository on a registry, an OCI layout
// folder, a layout in a tar file. A reference without tag or digest means
// :latest; there is no implicit registry.
func ExampleParseReference() {
	for _, s := range []string{"ghcr.io/org/probe:v1", "localhost:5000/probe", "oci:build/layout:v2", "oci-archive:probe.tar", "probe:v1"} {
		ref, err := registry.ParseReference(s)
		if err != nil {
			fmt.Printf("%s: refused (no registry host)\n", s)
			continue
		}
		switch ref.Kind {
		case registry.Remote:
			fmt.Printf("%s: registry %s, repository %s, tag %s\n", ref, ref.Registry, ref.Repository, ref.Tag)
		default:
			fmt.Printf("%s: %s %s, tag %s\n", ref, ref.Kind, ref.Path, ref.Tag)
		}
	}
	// Output:
	// ghcr.io/org/probe:v1: registry ghcr.io, repository org/probe, tag v1
	// localhost:5000/probe:latest: registry localhost:5000, repository probe, tag latest
	// oci:build/layout:v2: oci build/layout, tag v2
	// oci-archive:probe.tar:latest: oci-archive probe.tar, tag latest
	// probe:v1: refused (no registry host)
}
