// Package extract derives a package's metadata (packager.Meta, the "meta"
// of package.json) from a BPF ELF object, its BTF, and optionally the C
// source's doc comments and the export header, as eunomia-bpf's ecc does:
// programs and their sections, maps with @sample, the globals of every data
// section with their types, defaults, descriptions and @cmdarg, the export
// types that ring buffers and perf event arrays carry (from the export
// header, ECC_EXPORT bindings, or the size a program submits), and the
// @brief/@details/@version above LICENSE.
//
//	m, err := extract.Extract(&extract.Input{Object: obj, Name: "execsnoop", Source: path, SourceText: src})
//
// ecc build calls it after compiling; ecli calls it for a bare NAME.bpf.o
// (without doc comments), so it imports nothing of compiler/ or runtime/.
// Defaults are decoded with package decode, types spelled with
// internal/ctype, doc comments read by package doccomment.
package extract
