package doccomment

import (
	"bytes"
	"strconv"
	"strings"
)

// keywords never name a declaration.
var keywords = map[string]bool{
	"auto": true, "break": true, "case": true, "char": true, "const": true,
	"continue": true, "default": true, "do": true, "double": true, "else": true,
	"enum": true, "extern": true, "float": true, "for": true, "goto": true,
	"if": true, "inline": true, "int": true, "long": true, "register": true,
	"restrict": true, "return": true, "short": true, "signed": true,
	"sizeof": true, "static": true, "struct": true, "switch": true,
	"typedef": true, "union": true, "unsigned": true, "void": true,
	"volatile": true, "while": true, "bool": true, "constexpr": true,
	"thread_local": true, "_Bool": true, "_Complex": true, "_Imaginary": true,
	"_Noreturn": true, "_Thread_local": true, "_Atomic": true,
	"__const": true, "__const__": true, "__volatile": true, "__volatile__": true,
	"__restrict": true, "__restrict__": true, "__signed": true, "__signed__": true,
	"__inline": true, "__inline__": true, "__extension__": true, "__thread": true,
	"__auto_type": true, "__int128": true,
}

// attrCalls are macro-like words whose parenthesised argument list is an
// attribute or a type, never a parameter list.
var attrCalls = map[string]bool{
	"SEC": true, "__section": true, "__attribute__": true, "__attribute": true,
	"__declspec": true, "__aligned": true, "_Alignas": true, "alignas": true,
	"asm": true, "__asm__": true, "__asm": true, "_Pragma": true, "__pragma": true,
	"typeof": true, "__typeof__": true, "__typeof": true, "typeof_unqual": true,
	"_Static_assert": true, "static_assert": true, "_Atomic": true, "_BitInt": true,
	"__contains": true, "__tag": true, "__uint": true, "__type": true,
	"__array": true, "__ulong": true,
}

// attrWords are attribute macros without arguments (from bpf_helpers.h and
// the kernel) that are never the declared name.
var attrWords = map[string]bool{
	"__ksym": true, "__kconfig": true, "__weak": true, "__hidden": true,
	"__always_inline": true, "__noinline": true, "__used": true, "__unused": true,
	"__maybe_unused": true, "__packed": true, "__percpu": true,
	"__percpu_kptr": true, "__kptr": true, "__kptr_untrusted": true,
	"__kptr_ref": true, "__rcu": true, "__user": true, "__arena": true,
	"__arg_ctx": true, "__arg_nonnull": true, "__arg_nullable": true,
	"__arg_trusted": true, "__arg_untrusted": true, "__arg_arena": true,
	"__force": true, "__iomem": true, "__must_check": true, "__noreturn": true,
	"__cold": true, "__hot": true, "__pure": true, "__naked": true,
	"__bpf_kfunc": true,
}

func (s *scanner) text(t token) string { return string(s.src[t.start:t.end]) }

// word returns the bytes of t; index maps with string(s.word(t)), which
// does not allocate.
func (s *scanner) word(t token) []byte { return s.src[t.start:t.end] }

func (s *scanner) isPunct(t token, c byte) bool {
	return t.kind == tPunct && s.src[t.start] == c
}

// groupEnd returns the index of the token closing the group opened at i,
// or last when it is not closed.
func groupEnd(toks []token, i, last int) int {
	if m := toks[i].match; m > i {
		return m
	}
	return last
}

// declInfo is what endDecl collects across the declarators of one
// declaration.
type declInfo struct {
	raw     rawDoc
	doc     *Doc
	parsed  bool
	section string
	typedef bool
}

func (s *scanner) endDecl() {
	toks := s.toks
	d := declInfo{raw: s.declDoc}
	s.inDecl = false
	s.body = false
	s.declDoc = rawDoc{}
	if len(toks) > 0 {
		s.analyze(toks, &d)
	}
	s.toks = toks[:0]
	s.parens = s.parens[:0]
}

func (s *scanner) getDoc(d *declInfo) *Doc {
	if !d.parsed {
		d.parsed = true
		if d.raw.to > 0 {
			d.doc = s.parseDoc(d.raw)
		}
	}
	return d.doc
}

func (s *scanner) emit(d *declInfo, kind Kind, name string, line int) {
	s.out = append(s.out, Decl{Kind: kind, Name: name, Section: d.section, Line: line, Doc: s.getDoc(d)})
}

func (s *scanner) analyze(toks []token, d *declInfo) {
	d.section = s.findSection(toks)
	first := true
	for a := 0; a < len(toks); {
		// The declarator ends at a ',' outside groups; its name comes before
		// any '='.
		end, eq := len(toks), -1
		for k := a; k < len(toks); k++ {
			t := toks[k]
			if t.kind != tPunct {
				continue
			}
			switch s.src[t.start] {
			case '(', '[':
				k = groupEnd(toks, k, len(toks)-1)
			case '=':
				if eq < 0 {
					eq = k
				}
			case ',':
				end = k
			}
			if end < len(toks) {
				break
			}
		}
		e := end
		if eq >= 0 {
			e = eq
		}
		if !s.declarator(toks, a, e, first, d) {
			return
		}
		first = false
		a = end + 1
	}
}

// declarator finds the name declared by toks[a:e] and records it. It
// returns false when the declaration cannot go on (a function body).
func (s *scanner) declarator(toks []token, a, e int, first bool, d *declInfo) bool {
	lastCand, goodCand := -1, -1 // last candidate, last one not starting with "__"
	specifiers := !first         // saw a type specifier: a function needs one
	aggKw, tag := "", -1         // struct/union/enum keyword and its tag
	tail := attrTail{from: 1, to: 0}
	for k := a; k < e; {
		t := toks[k]
		switch t.kind {
		case tIdent:
			name := s.word(t)
			hasGroup := k+1 < e && s.isPunct(toks[k+1], '(')
			switch {
			case hasGroup && attrCalls[string(name)]:
				specifiers = true
				k = groupEnd(toks, k+1, e-1) + 1
				continue
			case keywords[string(name)]:
				specifiers = true
				switch string(name) {
				case "typedef":
					d.typedef = true
				case "struct":
					aggKw, tag = "struct", -1
				case "union":
					aggKw, tag = "union", -1
				case "enum":
					aggKw, tag = "enum", -1
				}
			case attrWords[string(name)]:
			case aggKw != "" && tag < 0:
				tag = k
			case hasGroup:
				ge := groupEnd(toks, k+1, e-1)
				if s.onlyAttrs(toks, ge+1, e, &tail) {
					if !specifiers && lastCand < 0 {
						return false // a macro invocation such as FOO(x);
					}
					return s.function(toks, k, ge, e, d)
				}
				// a macro call among the specifiers, e.g. private(A)
				specifiers = true
				k = ge + 1
				continue
			default:
				if lastCand >= 0 {
					specifiers = true
				}
				lastCand = k
				if !bytes.HasPrefix(name, []byte("__")) {
					goodCand = k
				}
			}
			k++
		case tBrace:
			if aggKw == "" {
				return false // a body without a declarator we understand
			}
			if tag >= 0 {
				s.emit(d, Type, aggKw+" "+s.text(toks[tag]), toks[tag].line)
			}
			aggKw, tag = "", -1
			lastCand, goodCand = -1, -1
			specifiers = true
			k++
		case tPunct:
			switch s.src[t.start] {
			case '(':
				ge := groupEnd(toks, k, e-1)
				if k+1 < ge && (s.isPunct(toks[k+1], '*') || s.isPunct(toks[k+1], '^')) {
					// (*name)(...) or (*name)[...]: pointer to function/array
					return s.pointerDeclarator(toks, k+1, ge, specifiers || lastCand >= 0, d)
				}
				k = ge + 1
				continue
			case '[':
				k = groupEnd(toks, k, e-1) + 1
				continue
			}
			k++
		default:
			k++
		}
	}
	if aggKw != "" && tag >= 0 && lastCand < 0 {
		return true // struct foo; or struct foo __attribute__((...));
	}
	c := goodCand
	if c < 0 {
		c = lastCand
	}
	if c < 0 || !specifiers {
		// nothing, or a lone identifier (a macro use): not a declaration
		return true
	}
	s.variable(toks[c], d)
	return true
}

// pointerDeclarator handles a parenthesised declarator such as `(*name)`
// in toks[k:ge]: the name is its first identifier that is not a keyword.
func (s *scanner) pointerDeclarator(toks []token, k, ge int, specifiers bool, d *declInfo) bool {
	for i := k; i < ge; i++ {
		if t := toks[i]; t.kind == tIdent && specifiers {
			if name := s.word(t); !keywords[string(name)] && !attrWords[string(name)] {
				s.variable(t, d)
				break
			}
		}
	}
	return true
}

// attrTail memoises onlyAttrs over one declarator: the items from any
// item boundary in [from, to] lead to the same answer, ok.
type attrTail struct {
	from, to int
	ok       bool
}

// onlyAttrs reports whether toks[i:e] holds nothing but attributes and
// possibly a function body.
func (s *scanner) onlyAttrs(toks []token, i, e int, m *attrTail) bool {
	if m.from <= i && i <= m.to {
		return m.ok
	}
	m.from = i
	for i < e {
		t := toks[i]
		switch t.kind {
		case tIdent:
			name := s.word(t)
			if !attrCalls[string(name)] && !attrWords[string(name)] && !bytes.HasPrefix(name, []byte("__")) &&
				string(name) != "const" && string(name) != "volatile" {
				m.to, m.ok = i, false
				return false
			}
			if i+1 < e && s.isPunct(toks[i+1], '(') {
				i = groupEnd(toks, i+1, e-1)
			}
		case tBrace:
			m.to, m.ok = i, true
			return true
		default:
			m.to, m.ok = i, false
			return false
		}
		i++
	}
	m.to, m.ok = e, true
	return true
}

// function records the function whose name is toks[k] and parameter list
// ends at toks[ge].
func (s *scanner) function(toks []token, k, ge, e int, d *declInfo) bool {
	nameTok := toks[k]
	name := s.text(nameTok)
	// int BPF_PROG(name, ...), BPF_KPROBE, BPF_USDT, ...: the program is
	// named by the first argument.
	if isBPFWrapper(name) && k+3 <= ge && toks[k+2].kind == tIdent &&
		!keywords[string(s.word(toks[k+2]))] &&
		(s.isPunct(toks[k+3], ',') || s.isPunct(toks[k+3], ')')) {
		nameTok = toks[k+2]
		name = s.text(nameTok)
	}
	kind := Func
	if d.section != "" {
		kind = Prog
	}
	if d.typedef {
		kind = Type
	}
	s.out = append(s.out, Decl{Kind: kind, Name: name, Section: d.section, Line: nameTok.line, Doc: s.getDoc(d)})
	// A definition ends the declaration; a prototype may be followed by
	// more declarators.
	for i := ge + 1; i < e; i++ {
		if toks[i].kind == tBrace {
			return false
		}
	}
	return true
}

func isBPFWrapper(name string) bool {
	if len(name) <= 4 || !strings.HasPrefix(name, "BPF_") {
		return false
	}
	for i := 4; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func (s *scanner) variable(t token, d *declInfo) {
	name := s.text(t)
	kind := Var
	switch {
	case d.typedef:
		kind = Type
	case d.section == ".maps" || d.section == "maps" || strings.HasPrefix(d.section, "maps/"):
		kind = Map
	case d.section == "license" || name == "LICENSE":
		kind = License
	}
	s.emit(d, kind, name, t.line)
}

// findSection returns the section given by SEC("..."), __section("...") or
// __attribute__((section("..."))) at file scope of the declaration.
func (s *scanner) findSection(toks []token) string {
	for k := 0; k+1 < len(toks); k++ {
		t := toks[k]
		if t.kind != tIdent || !s.isPunct(toks[k+1], '(') {
			continue
		}
		ge := groupEnd(toks, k+1, len(toks)-1)
		switch string(s.word(t)) {
		case "SEC", "__section":
			if sec, ok := s.joinStrings(toks, k+2, ge); ok {
				return sec
			}
		case "__attribute__", "__attribute":
			for i := k + 2; i+1 < ge; i++ {
				if toks[i].kind != tIdent || !s.isPunct(toks[i+1], '(') {
					continue
				}
				if n := s.word(toks[i]); string(n) == "section" || string(n) == "__section__" {
					if sec, ok := s.joinStrings(toks, i+2, groupEnd(toks, i+1, ge)); ok {
						return sec
					}
				}
			}
		}
		k = ge
	}
	return ""
}

// joinStrings joins the string literals in toks[i:e].
func (s *scanner) joinStrings(toks []token, i, e int) (string, bool) {
	var b strings.Builder
	ok := false
	for ; i < e && i < len(toks); i++ {
		if toks[i].kind != tString {
			continue
		}
		ok = true
		lit := s.text(toks[i])
		if u, err := strconv.Unquote(lit); err == nil {
			b.WriteString(u)
		} else {
			lit = strings.TrimPrefix(lit, `"`)
			b.WriteString(strings.TrimSuffix(lit, `"`))
		}
	}
	return b.String(), ok
}
