package doccomment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Kind classifies a file-scope declaration.
type Kind int

const (
	Var     Kind = iota + 1 // global variable
	Map                     // map: a variable in section ".maps" (or legacy "maps")
	Prog                    // function with a SEC("...")
	License                 // the variable in section "license"
	Type                    // struct/union/enum definition or typedef
	Func                    // function without a section: helper, prototype, kfunc
)

var kindNames = [...]string{Var: "var", Map: "map", Prog: "prog", License: "license", Type: "type", Func: "func"}

func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Decl is a file-scope declaration.
type Decl struct {
	Kind Kind
	// Name is the declared identifier: variable, map or function name, the
	// first argument of a BPF_*( wrapper macro, "struct tag" / "union tag" /
	// "enum tag" for tagged types, the new name for a typedef.
	Name    string
	Section string // SEC("...") of the declaration, "" if none
	Line    int    // 1-based line of Name
	Doc     *Doc   // nil when there is no doc comment
}

// Doc is a parsed doc comment.
type Doc struct {
	// Description is the text not under a tag: the lines of a paragraph
	// joined by a space, paragraphs joined by "\n".
	Description string
	// Tags maps a tag name (without '@') to its value. Text values are
	// JSON strings. Nil when the comment has no tags.
	Tags map[string]json.RawMessage
	Line int // 1-based line where the comment starts
}

// Tag unmarshals the value of tag name into v. It reports whether the tag
// is present; d may be nil. A nil v only tests for presence.
func (d *Doc) Tag(name string, v any) (bool, error) {
	if d == nil {
		return false, nil
	}
	raw, ok := d.Tags[name]
	if !ok {
		return false, nil
	}
	if v == nil {
		return true, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("@%s: %w", name, err)
	}
	return true, nil
}

// Error is a malformed tag value.
type Error struct {
	File string
	Line int    // 1-based line of the offending text
	Tag  string // tag name without '@'
	Err  error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d: @%s: %v", e.File, e.Line, e.Tag, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Scan returns the file-scope declarations of the C source src in source
// order, with their doc comments. filename is only used in error messages.
//
// Scan is best effort on source that is not valid C and never fails on it;
// the error, a join of *Error values, reports malformed tag values. The
// declarations are returned even then, without the offending tags.
func Scan(filename string, src []byte) ([]Decl, error) {
	s := scanner{file: filename, src: src, line: 1, atLineStart: true}
	s.run()
	return s.out, errors.Join(s.errs...)
}

type tokKind uint8

const (
	tIdent tokKind = iota + 1
	tString
	tChar
	tNumber
	tPunct // one byte, src[start]
	tBrace // a whole {...} group
)

type token struct {
	kind       tokKind
	start, end int // byte offsets in src
	line       int
	match      int // '(' '[' ')' ']': index of the matching token, -1 if none
}

// span is one comment of a doc comment group.
type span struct {
	start, end int // the whole comment, markers included
	line       int // line of start
	block      bool
}

// rawDoc is a doc comment group: scanner.spans[from:to]; to == 0 when
// there is none.
type rawDoc struct {
	from, to int
}

type condFrame struct {
	depth int // brace depth at #if
	first int // brace depth at the end of the first branch, -1 before #else
}

type scanner struct {
	file string
	src  []byte
	i    int
	line int

	lineHasContent bool // something other than whitespace on the current line
	atLineStart    bool // only whitespace (and comments) so far on this line
	depth          int  // brace depth
	conds          []condFrame

	// current declaration
	inDecl    bool
	body      bool // its function body is open
	sawAssign bool // '=' at paren depth 0
	toks      []token
	parens    []int // open '(' '[' tokens
	declDoc   rawDoc

	spans              []span // all doc comments, grouped by rawDoc
	pending            rawDoc // doc comment waiting for a declaration
	pendingInterrupted bool   // an ordinary comment followed it

	dl   []docLine    // parseDoc scratch
	buf  bytes.Buffer // parseDoc scratch
	cbuf bytes.Buffer // parseDoc scratch

	out  []Decl
	errs []error
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '$' || c >= 0x80
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// splice returns the length of a backslash-newline at i (2 or 3 with
// CRLF), or 0.
func (s *scanner) splice(i int) int {
	src := s.src
	if i+1 < len(src) && src[i] == '\\' {
		if src[i+1] == '\n' {
			return 2
		}
		if src[i+1] == '\r' && i+2 < len(src) && src[i+2] == '\n' {
			return 3
		}
	}
	return 0
}

func (s *scanner) run() {
	src := s.src
	if bytes.HasPrefix(src, []byte("\xEF\xBB\xBF")) {
		s.i = 3
	}
	for s.i < len(src) {
		c := src[s.i]
		switch {
		case c == '\n':
			s.newline()
			s.i++
		case isSpace(c):
			s.i++
		case c == '\\' && s.splice(s.i) > 0:
			s.i += s.splice(s.i)
			s.line++
		case c == '/' && s.i+1 < len(src) && src[s.i+1] == '/':
			s.lineComment()
		case c == '/' && s.i+1 < len(src) && src[s.i+1] == '*':
			s.blockComment()
		case c == '#' && s.atLineStart:
			s.directive()
		default:
			s.lineHasContent = true
			s.atLineStart = false
			switch {
			case c == '"' || c == '\'':
				s.literal(c)
			case isIdentStart(c):
				start := s.i
				s.i++
				for s.i < len(src) && isIdentChar(src[s.i]) {
					s.i++
				}
				s.add(tIdent, start)
			case isDigit(c) || c == '.' && s.i+1 < len(src) && isDigit(src[s.i+1]):
				s.number()
			case c == '{':
				s.openBrace()
			case c == '}':
				s.closeBrace()
			default:
				s.punct(c)
			}
		}
	}
	if s.inDecl {
		s.endDecl()
	}
}

func (s *scanner) newline() {
	if !s.lineHasContent && !s.inDecl && s.depth == 0 {
		s.pending = rawDoc{} // a blank line detaches the doc comment
	}
	s.line++
	s.lineHasContent = false
	s.atLineStart = true
}

// add records the token src[start:s.i] when at file scope.
func (s *scanner) add(kind tokKind, start int) {
	if s.depth > 0 {
		return
	}
	if !s.inDecl {
		s.startDecl()
	}
	s.toks = append(s.toks, token{kind: kind, start: start, end: s.i, line: s.line, match: -1})
}

func (s *scanner) startDecl() {
	s.inDecl = true
	s.body = false
	s.sawAssign = false
	s.toks = s.toks[:0]
	s.parens = s.parens[:0]
	s.declDoc = s.pending
	s.pending = rawDoc{}
}

func (s *scanner) number() {
	src := s.src
	start := s.i
	s.i++
	for s.i < len(src) {
		c := src[s.i]
		if isIdentChar(c) || c == '.' ||
			(c == '+' || c == '-') && (src[s.i-1]|0x20 == 'e' || src[s.i-1]|0x20 == 'p') ||
			c == '\'' && s.i+1 < len(src) && isIdentChar(src[s.i+1]) { // C23 digit separator
			s.i++
			continue
		}
		break
	}
	s.add(tNumber, start)
}

// literal skips a string or character literal; an unterminated one ends at
// the end of the line.
func (s *scanner) literal(q byte) {
	src := s.src
	start := s.i
	line := s.line
	j := s.i + 1
	for j < len(src) {
		c := src[j]
		if c == '\\' {
			if n := s.splice(j); n > 0 {
				j += n
				s.line++
				continue
			}
			j += 2
			continue
		}
		if c == q {
			j++
			break
		}
		if c == '\n' {
			break
		}
		j++
	}
	if j > len(src) {
		j = len(src)
	}
	s.i = j
	if j > start+1 && src[j-1] == '\r' && (j == len(src) || src[j] == '\n') {
		j-- // unterminated at a CRLF: leave the CR out
	}
	kind := tString
	if q == '\'' {
		kind = tChar
	}
	if s.depth > 0 {
		return
	}
	if !s.inDecl {
		s.startDecl()
	}
	s.toks = append(s.toks, token{kind: kind, start: start, end: j, line: line, match: -1})
}

func (s *scanner) punct(c byte) {
	start := s.i
	s.i++
	if s.depth > 0 {
		return
	}
	if c == ';' {
		if !s.inDecl {
			s.startDecl() // a stray ';' still consumes a pending doc comment
		}
		s.endDecl()
		return
	}
	s.add(tPunct, start)
	n := len(s.toks) - 1
	switch c {
	case '(', '[':
		s.parens = append(s.parens, n)
	case ')', ']':
		open := byte('(')
		if c == ']' {
			open = '['
		}
		if k := len(s.parens); k > 0 && s.src[s.toks[s.parens[k-1]].start] == open {
			o := s.parens[k-1]
			s.parens = s.parens[:k-1]
			s.toks[o].match = n
			s.toks[n].match = o
		}
	case '=':
		if len(s.parens) == 0 {
			s.sawAssign = true
		}
	}
}

func (s *scanner) openBrace() {
	start := s.i
	s.i++
	if s.depth > 0 {
		s.depth++
		return
	}
	if !s.inDecl {
		s.startDecl()
	}
	if s.isFuncBody() {
		s.body = true
	}
	s.toks = append(s.toks, token{kind: tBrace, start: start, end: start + 1, line: s.line, match: -1})
	s.depth = 1
}

func (s *scanner) closeBrace() {
	s.i++
	if s.depth == 0 {
		return // unbalanced
	}
	s.setDepth(s.depth - 1)
}

func (s *scanner) setDepth(d int) {
	old := s.depth
	s.depth = d
	if old > 0 && d == 0 && s.inDecl && s.body {
		s.endDecl()
	}
}

// isFuncBody reports whether a '{' at file scope opens a function body: it
// follows a parameter list, possibly followed by attributes.
func (s *scanner) isFuncBody() bool {
	if s.sawAssign || len(s.parens) > 0 {
		return false
	}
	toks := s.toks
	k := len(toks) - 1
	for k >= 0 && toks[k].kind == tPunct && s.src[toks[k].start] == ')' {
		j := toks[k].match
		if j <= 0 {
			return false
		}
		p := toks[j-1]
		if p.kind == tPunct && s.src[p.start] == ')' {
			return true // int (*f(void))(int) {
		}
		if p.kind != tIdent {
			return false
		}
		if !attrCalls[string(s.src[p.start:p.end])] {
			return true
		}
		k = j - 2
	}
	return false
}

func (s *scanner) lineComment() {
	src := s.src
	start := s.i
	line := s.line
	j := s.i + 2
	for j < len(src) {
		if src[j] == '\n' {
			if j > 0 && src[j-1] == '\\' || j > 1 && src[j-1] == '\r' && src[j-2] == '\\' {
				s.line++ // continued comment
				j++
				continue
			}
			break
		}
		j++
	}
	s.i = j
	c := src[start+2:]
	doc := len(c) > 0 && (c[0] == '/' || c[0] == '!') &&
		!(len(c) > 1 && (c[1] == '<' || c[0] == '/' && c[1] == '/'))
	s.comment(doc, span{start: start, end: j, line: line})
}

func (s *scanner) blockComment() {
	src := s.src
	start := s.i
	line := s.line
	end := len(src)
	if k := bytes.Index(src[start+2:], []byte("*/")); k >= 0 {
		end = start + 2 + k + 2
	}
	s.line += bytes.Count(src[start:end], []byte{'\n'})
	s.i = end
	c := src[start+2 : end]
	// "/**" or "/*!" but not "/**/", "/***", "/**<", "/*!<"
	doc := len(c) > 1 && (c[0] == '*' || c[0] == '!') &&
		c[1] != '<' && !(c[0] == '*' && (c[1] == '*' || c[1] == '/'))
	s.comment(doc, span{start: start, end: end, line: line, block: true})
}

func (s *scanner) comment(doc bool, sp span) {
	s.lineHasContent = true
	if s.depth > 0 || s.inDecl {
		return
	}
	if !doc {
		s.pendingInterrupted = true
		return
	}
	if s.pending.to == 0 || s.pendingInterrupted {
		s.pending = rawDoc{from: len(s.spans)}
		s.pendingInterrupted = false
	}
	s.spans = append(s.spans, sp)
	s.pending.to = len(s.spans)
}

// directive skips a preprocessor line and tracks #if/#else/#endif.
func (s *scanner) directive() {
	src := s.src
	s.lineHasContent = true
	j := s.i + 1
	for j < len(src) {
		if isSpace(src[j]) {
			j++
		} else if n := s.splice(j); n > 0 {
			j += n
			s.line++
		} else {
			break
		}
	}
	ns := j
	for j < len(src) && isIdentChar(src[j]) {
		j++
	}
	name := string(src[ns:j])
	for j < len(src) && src[j] != '\n' {
		c := src[j]
		switch {
		case c == '\\':
			if n := s.splice(j); n > 0 {
				j += n
				s.line++
			} else {
				j++
			}
		case c == '/' && j+1 < len(src) && src[j+1] == '*':
			end := len(src)
			if k := bytes.Index(src[j+2:], []byte("*/")); k >= 0 {
				end = j + 2 + k + 2
			}
			s.line += bytes.Count(src[j:end], []byte{'\n'})
			j = end
		case c == '/' && j+1 < len(src) && src[j+1] == '/':
			for j < len(src) && src[j] != '\n' {
				if n := s.splice(j); n > 0 {
					j += n
					s.line++
				} else {
					j++
				}
			}
		case c == '"' || c == '\'':
			// literal would record a token; skip it by hand
			q := c
			j++
			for j < len(src) && src[j] != q && src[j] != '\n' {
				if src[j] == '\\' {
					if n := s.splice(j); n > 0 {
						j += n
						s.line++
						continue
					}
					j++
				}
				j++
			}
			if j < len(src) && src[j] == q {
				j++
			}
		default:
			j++
		}
	}
	if j > len(src) {
		j = len(src)
	}
	s.i = j

	switch name {
	case "if", "ifdef", "ifndef":
		s.conds = append(s.conds, condFrame{depth: s.depth, first: -1})
	case "elif", "else", "elifdef", "elifndef":
		if k := len(s.conds); k > 0 {
			f := &s.conds[k-1]
			if f.first < 0 {
				f.first = s.depth
			}
			s.setDepth(f.depth)
		}
	case "endif":
		if k := len(s.conds); k > 0 {
			f := s.conds[k-1]
			s.conds = s.conds[:k-1]
			if f.first >= 0 {
				s.setDepth(f.first)
			}
		}
	}
	if !s.inDecl && s.depth == 0 {
		s.pending = rawDoc{}
	}
}
