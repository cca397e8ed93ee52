package packager

// MaxNameLength bounds a package name (NAME of NAME.bpf.o).
const MaxNameLength = 128

// ValidName reports whether name may name the files of a package (NAME.bpf.o,
// NAME.wasm) in a folder: a plain base name of 1 to MaxNameLength bytes of
// ASCII letters, digits, '_', '-', '+' and '.', starting with a letter, a
// digit or '_'. So it is never ".", "..", absolute, hidden, a path with
// separators, or holds NUL, control or non-ASCII characters.
//
// Names that come from a registry (manifest and layer titles, metadata) are
// only used when they pass; they are checked, not cleaned: "a/b" is refused,
// not turned into "b".
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLength {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case c == '-' || c == '+' || c == '.':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}
