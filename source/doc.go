// Package source resolves the PACKAGE argument of ecli run, ecli inspect and
// ecc inspect into a package: a package.json, a build folder, a bare
// NAME.bpf.o (its metadata derived by packager/extract, as ecc build would
// without doc comments), a NAME.wasm program, an http(s) URL of any of these
// (internal/fetch: HTTPS unless allowed otherwise, never a redirect from
// HTTPS to HTTP, size and time limits), "-" for standard input, or an OCI
// reference, read from the local store or pulled from its registry under a
// pull policy (missing, never, always). A pinned digest (--digest) is
// checked on the bytes read before anything is parsed. The inspect commands
// also accept a NAME.skel.json (OpenOptions.MetadataOnly) and read a
// reference missing from the store without storing it (NoStore).
//
//	src, err := source.Open(ctx, "ghcr.io/org/execsnoop:v1", &source.OpenOptions{Pull: source.PullMissing})
//	...
//	if src.Wasm != nil {
//		// a Wasm program: runtime/wasm runs it
//	}
//	err = runtime.Run(ctx, src.Name, src.Package, args, o)
//
// It sits between the commands and the layers below: it imports
// registry/ and packager/, never compiler/ or runtime/, and runtime/ does
// not import it, so that runtime needs no registry and ecli links no
// compiler package.
package source
