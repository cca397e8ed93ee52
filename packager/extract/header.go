package extract

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/ecc-bpf/ecc/packager/doccomment"
)

var (
	commentRE   = regexp.MustCompile(`(?s)//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"`)
	structDefRE = regexp.MustCompile(`\bstruct\s+([A-Za-z_]\w*)\s*(?:__attribute__\s*\(\([^)]*\)\)\s*)?\{`)
	// anonRE is the head of an anonymous struct or union: `union {`.
	anonRE = regexp.MustCompile(`\b(?:struct|union)\s*(?:__attribute__\s*\(\([^)]*\)\)\s*)?\{`)
	// anonTailRE follows the `}` of an anonymous member: `} ;`.
	anonTailRE = regexp.MustCompile(`^\s*(?:__attribute__\s*\(\([^)]*\)\)\s*)?;`)
)

// HeaderStructs lists the structs an export header defines, in order
// (eunomia's rule: every `struct NAME {` outside comments and strings).
func HeaderStructs(src []byte) []string {
	clean := commentRE.ReplaceAll(src, []byte(" "))
	var out []string
	seen := map[string]bool{}
	for _, m := range structDefRE.FindAllSubmatch(clean, -1) {
		name := string(m[1])
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}

// MemberFormat is an `@format` doc comment above a member of a struct of
// an export header.
type MemberFormat struct {
	Struct, Member, Format string
	Line                   int // 1-based line of the comment in the header
}

// HeaderFormats reads the `@format` doc comments above the members of
// the structs an export header defines:
//
//	struct event {
//		/// @format ipv4
//		__u32 src;
//		union {
//			/// @format ipv6
//			__u8 a6[16];
//			__u32 a4;
//		};
//	};
//
// Members of anonymous structs and unions count as members of the struct
// that holds them. Doc comments follow the rules of package doccomment
// (a blank line detaches them). file names the header in errors.
func HeaderFormats(file string, src []byte) ([]MemberFormat, error) {
	clean := blank(src)
	var out []MemberFormat
	for _, m := range structDefRE.FindAllSubmatchIndex(clean, -1) {
		name := string(clean[m[2]:m[3]])
		open := m[1] - 1
		end := matchBrace(clean, open)
		if end < 0 {
			continue
		}
		// The body, with the heads and tails of anonymous members blanked
		// out so that their members read as members of the struct.
		body := append([]byte(nil), src[open+1:end]...)
		cbody := clean[open+1 : end]
		for _, a := range anonRE.FindAllIndex(cbody, -1) {
			close := matchBrace(cbody, a[1]-1)
			if close < 0 {
				continue
			}
			tail := anonTailRE.FindIndex(cbody[close+1:])
			if tail == nil {
				continue // a named member of an anonymous type
			}
			blankRange(body, a[0], a[1])
			blankRange(body, close, close+1+tail[1])
		}
		// Outside any struct, each member reads as a variable.
		decls, err := doccomment.Scan(file, body)
		if err != nil {
			return nil, err
		}
		line := 1 + countLines(src[:open+1])
		for _, d := range decls {
			if d.Kind != doccomment.Var || d.Doc == nil {
				continue
			}
			raw, ok := d.Doc.Tags["format"]
			if !ok {
				continue
			}
			var f string
			if err := json.Unmarshal(raw, &f); err != nil {
				return nil, fmt.Errorf("%s:%d: @format of %s.%s: want a name such as ipv4, not %s", file, line+d.Doc.Line-1, name, d.Name, raw)
			}
			out = append(out, MemberFormat{Struct: name, Member: d.Name, Format: f, Line: line + d.Doc.Line - 1})
		}
	}
	return out, nil
}

// blank returns src with comments and string literals replaced by spaces,
// newlines kept, so that offsets and lines stay those of src.
func blank(src []byte) []byte {
	out := append([]byte(nil), src...)
	for _, r := range commentRE.FindAllIndex(src, -1) {
		blankRange(out, r[0], r[1])
	}
	return out
}

func blankRange(b []byte, from, to int) {
	for i := from; i < to && i < len(b); i++ {
		if b[i] != '\n' {
			b[i] = ' '
		}
	}
}

// matchBrace returns the index of the '}' closing the '{' at b[open], or -1.
func matchBrace(b []byte, open int) int {
	depth := 0
	for i := open; i < len(b); i++ {
		switch b[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

func countLines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}
