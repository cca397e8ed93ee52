package ctype

import "github.com/cilium/ebpf/btf"

// Char is which C character type a 1-byte integer is.
type Char uint8

const (
	// NotChar is anything but a 1-byte integer, a bool, or a typedef of
	// a character type: __u8 and u8 are numbers.
	NotChar Char = iota
	// PlainChar is char, or any 1-byte integer with BTF's Char encoding.
	PlainChar
	// UnsignedChar is unsigned char.
	UnsignedChar
	// SignedChar is signed char, or an integer named unsigned char that
	// BTF encodes as signed.
	SignedChar
)

// CharOf says which C character type t is, qualifiers skipped
// (btf.QualifiedType) but not typedefs. BTF names the integer as the C
// source wrote it, so a char[N] member has elements named "char" while a
// __u8[N] one has a typedef.
func CharOf(t btf.Type) Char {
	i, ok := btf.QualifiedType(t).(*btf.Int)
	if !ok || i.Size != 1 || i.Encoding&btf.Bool != 0 {
		return NotChar
	}
	switch {
	case i.Name == "char" || i.Encoding&btf.Char != 0:
		return PlainChar
	case i.Name == "unsigned char" && i.Encoding&btf.Signed == 0:
		return UnsignedChar
	case i.Name == "signed char" || i.Name == "unsigned char":
		return SignedChar
	}
	return NotChar
}
