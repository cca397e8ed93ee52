// Package packager owns the package model: the metadata schema, the
// eunomia-compatible package.json (base64 of a zlib-compressed BPF ELF object
// plus "meta") and NAME.skel.json, their encoding, decoding and validation.
//
// Decoding is defensive: truncated base64, a zlib stream that inflates past
// bpf_object_size or past MaxObjectSize, missing or null fields all give an
// error wrapping ErrInvalid that names the field at fault.
package packager
