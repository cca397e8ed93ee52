package doccomment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// objectTags must hold a JSON object.
var objectTags = map[string]bool{"cmdarg": true, "sample": true}

// textTags are clang block commands: eunomia-bpf stores their text as a
// string, never as JSON.
var textTags = map[string]bool{
	"brief": true, "short": true, "details": true, "version": true,
	"since": true, "author": true, "authors": true, "date": true,
	"copyright": true, "deprecated": true, "note": true, "warning": true,
	"attention": true, "remark": true, "remarks": true, "see": true, "sa": true,
	"todo": true, "bug": true, "pre": true, "post": true, "invariant": true,
	"return": true, "returns": true, "result": true, "par": true,
}

// docLine is one line of comment text, markers stripped and trimmed. text
// points into the source.
type docLine struct {
	text []byte
	line int
}

// lines appends the text lines of a doc comment group to out.
func (s *scanner) lines(r rawDoc, out []docLine) []docLine {
	for _, p := range s.spans[r.from:r.to] {
		body := s.src[p.start+3 : p.end] // after "///", "//!", "/**" or "/*!"
		if p.block && bytes.HasSuffix(body, []byte("*/")) {
			body = body[:len(body)-2]
		}
		for i := 0; ; i++ {
			l, rest, more := bytes.Cut(body, []byte{'\n'})
			body = rest
			l = bytes.TrimRight(l, " \t\r\f\v")
			if !p.block {
				l = bytes.TrimSuffix(l, []byte{'\\'}) // continued // comment
			} else {
				if i > 0 {
					l = bytes.TrimLeft(l, " \t\f\v")
					l = bytes.TrimPrefix(l, []byte{'*'})
				}
				if !more {
					l = bytes.TrimRight(l, "*")
				}
			}
			out = append(out, docLine{text: bytes.TrimSpace(l), line: p.line + i})
			if !more {
				break
			}
		}
	}
	return out
}

func isTagChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= '0' && c <= '9'
}

// cutTag splits "@name rest" into name and rest.
func cutTag(t []byte) (name, rest []byte, ok bool) {
	if len(t) < 2 || t[0] != '@' || !isTagChar(t[1]) || isDigit(t[1]) {
		return nil, nil, false
	}
	i := 2
	for i < len(t) && isTagChar(t[i]) {
		i++
	}
	return t[1:i], bytes.TrimSpace(t[i:]), true
}

// writeText writes the lines joined by sep.
func writeText(b *bytes.Buffer, lines []docLine, sep byte) {
	for i, l := range lines {
		if i > 0 {
			b.WriteByte(sep)
		}
		b.Write(l.text)
	}
}

func (s *scanner) parseDoc(r rawDoc) *Doc {
	doc := &Doc{Line: s.spans[r.from].line}
	s.dl = s.lines(r, s.dl[:0])
	lines := s.dl
	var desc strings.Builder
	addDesc := func(ls []docLine) {
		if len(ls) == 0 {
			return
		}
		if desc.Len() > 0 {
			desc.WriteByte('\n')
		}
		for i, l := range ls {
			if i > 0 {
				desc.WriteByte(' ')
			}
			desc.Write(l.text)
		}
	}
	// Paragraphs and tag values are runs of lines: lines[start:i].
	start, tag, tagLine := 0, []byte(nil), 0
	flush := func(i int) {
		ls := lines[start:i]
		if len(ls) > 0 && len(ls[0].text) == 0 {
			ls = ls[1:] // a tag with nothing on its line
		}
		switch {
		case tag == nil:
			addDesc(ls)
		case string(tag) == "description":
			addDesc(ls)
		default:
			name := string(tag)
			if v, err := s.tagValue(name, tagLine, ls); err != nil {
				s.errs = append(s.errs, err)
			} else {
				if doc.Tags == nil {
					doc.Tags = make(map[string]json.RawMessage)
				}
				doc.Tags[name] = v
			}
		}
		tag = nil
		start = i
	}
	for i := range lines {
		t := lines[i].text
		if len(t) == 0 {
			flush(i)
			start = i + 1
			continue
		}
		if name, rest, ok := cutTag(t); ok {
			flush(i)
			tag, tagLine = name, lines[i].line
			lines[i].text = rest
		}
	}
	flush(len(lines))
	doc.Description = desc.String()
	return doc
}

// jsonString returns s as a JSON string; invalid UTF-8 becomes U+FFFD,
// as with encoding/json.
func jsonString(s []byte) json.RawMessage {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, len(s)+8)
	b = append(b, '"')
	run := 0 // s[run:i] needs no escaping
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' && c != 0x7f {
			i++
			continue
		}
		b = append(b, s[run:i]...)
		size := 1
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c < utf8.RuneSelf:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			var r rune
			r, size = utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
		}
		i += size
		run = i
	}
	b = append(b, s[run:]...)
	return append(b, '"')
}

func (s *scanner) tagValue(name string, line int, lines []docLine) (json.RawMessage, error) {
	s.buf.Reset()
	if textTags[name] {
		writeText(&s.buf, lines, ' ')
		return jsonString(s.buf.Bytes()), nil
	}
	if len(lines) == 0 {
		if objectTags[name] {
			return nil, &Error{File: s.file, Line: line, Tag: name, Err: errors.New("missing JSON object")}
		}
		return json.RawMessage("true"), nil
	}
	writeText(&s.buf, lines, '\n')
	raw := s.buf.Bytes()
	s.cbuf.Reset()
	err := json.Compact(&s.cbuf, raw)
	if err == nil {
		v := s.cbuf.Bytes()
		if objectTags[name] && v[0] != '{' {
			return nil, &Error{File: s.file, Line: line, Tag: name, Err: fmt.Errorf("want a JSON object, got %s", jsonKind(v[0]))}
		}
		return bytes.Clone(v), nil
	}
	if !objectTags[name] {
		s.buf.Reset()
		writeText(&s.buf, lines, ' ')
		return jsonString(s.buf.Bytes()), nil
	}
	// Compact does not say where the error is; Unmarshal does.
	var rm json.RawMessage
	if uerr := json.Unmarshal(raw, &rm); uerr != nil {
		err = uerr
	}
	at := lines[len(lines)-1].line
	var se *json.SyntaxError
	if errors.As(err, &se) && se.Offset > 0 {
		at = lineAt(lines, int(se.Offset)-1)
	}
	return nil, &Error{File: s.file, Line: at, Tag: name, Err: fmt.Errorf("invalid JSON: %w", err)}
}

// lineAt maps a byte offset in the "\n"-joined lines to a source line.
func lineAt(lines []docLine, off int) int {
	for _, l := range lines {
		off -= len(l.text) + 1
		if off < 0 {
			return l.line
		}
	}
	return lines[len(lines)-1].line
}

func jsonKind(c byte) string {
	switch c {
	case '"':
		return "a string"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
