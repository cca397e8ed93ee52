// Package termsafe makes text that a package controls (program, map and
// flag names, section names, doc comments, descriptions) safe to print on
// a terminal: control characters are written as escapes instead of being
// sent to the terminal, where ESC sequences could clear the screen, move
// the cursor or retitle the window, and \r or backspaces could hide what
// came before them on the line.
//
// Escapes: C0 controls and DEL as \xNN (\x1b for ESC, \x0d for \r), C1
// controls (U+0080–U+009F, some of which terminals read as CSI or OSC) and
// the Unicode bidirectional controls (which reorder how a line reads) as
// \uNNNN, and bytes that are not UTF-8 as \xNN. Backslashes are left
// alone, so ordinary text reads as it was written.
package termsafe

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Line escapes s for a one-line field (a table cell, a name, an error
// message): every control character, newlines and tabs included.
func Line(s string) string { return escape(s, false) }

// Text escapes s for a block of text that may span lines (a doc comment's
// details): newlines and tabs are kept, every other control character is
// escaped.
func Text(s string) string { return escape(s, true) }

// Lines escapes every element of ss with Line.
func Lines(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = Line(s)
	}
	return out
}

const hex = "0123456789abcdef"

// List is names escaped and joined as "a, b, c": at most max of them,
// then "and N more"; "none" when there are none.
func List(names []string, max int) string {
	if len(names) == 0 {
		return "none"
	}
	s := strings.Join(Lines(names[:min(len(names), max)]), ", ")
	if len(names) > max {
		s += fmt.Sprintf(" and %d more", len(names)-max)
	}
	return s
}

func escape(s string, keepNewlines bool) string {
	if safe(s, keepNewlines) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			writeByte(&b, s[i])
		case r < 0x20 || r == 0x7f:
			if keepNewlines && (r == '\n' || r == '\t') {
				b.WriteRune(r)
			} else {
				writeByte(&b, byte(r))
			}
		case unsafeRune(r):
			b.WriteString(`\u`)
			for shift := 12; shift >= 0; shift -= 4 {
				b.WriteByte(hex[(r>>shift)&0xf])
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func writeByte(b *strings.Builder, c byte) {
	b.WriteString(`\x`)
	b.WriteByte(hex[c>>4])
	b.WriteByte(hex[c&0xf])
}

// unsafeRune reports the non-ASCII runes a terminal must not see raw: C1
// controls and the bidirectional embedding, override and isolate controls
// (U+202A–U+202E, U+2066–U+2069) and marks (U+200E, U+200F, U+061C).
func unsafeRune(r rune) bool {
	return (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) ||
		r == 0x200e || r == 0x200f || r == 0x061c
}

// safe reports whether s needs no escape (the common case: no copy).
func safe(s string, keepNewlines bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return utf8.ValidString(s[i:]) && !strings.ContainsFunc(s[i:], unsafeRune)
		}
		if c < 0x20 || c == 0x7f {
			if !keepNewlines || (c != '\n' && c != '\t') {
				return false
			}
		}
	}
	return true
}
