// Package wasmgen generates what a Wasm guest of a BPF program is compiled
// with: for C, a header NAME.wasm.h; for Go, a file NAME_bpf_wasm.go. Both
// re-declare the program's exported structs (and the structs its maps use as
// keys and values) with fixed-width types, laid out to match the BPF
// object's BTF byte for byte, with compile-time checks of every size and
// member offset, and embed the BPF object. It also reads the imports and
// exports of a built Wasm module, to check the result.
package wasmgen
