// Package compiler is ecc build: it finds the newest clang ([FindClang]),
// generates vmlinux.h from the kernel's or a given BTF (compiler/vmlinux,
// cached), compiles NAME.bpf.c into a CO-RE object for each target
// architecture ([Build]), strips DWARF in-process (compiler/elfstrip),
// derives the metadata (packager/extract, with the source's doc comments
// and the export header) and writes NAME.bpf.o, NAME.skel.json and
// package.json, reusing earlier outputs from a content-addressed cache
// (compiler/buildcache). [BuildWasm] builds a Wasm user-space program (C
// with wasi-libc, or Go with GOOS=wasip1) against the bindings
// compiler/wasmgen generates.
//
// It is the top of the build side: it never imports runtime/ (see
// layers_test.go), and ecli links none of it.
package compiler
