package vmlinux

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// compileC checks that src compiles for the BPF target, with extra clang
// flags.
func compileC(t testing.TB, clang, src string, extra ...string) {
	t.Helper()
	if err := tryCompileC(clang, src, extra...); err != nil {
		f, ferr := os.CreateTemp("", "vmlinux-test-*.h")
		where := ""
		if ferr == nil {
			f.WriteString(src)
			f.Close()
			where = " (source kept in " + f.Name() + ")"
		}
		t.Fatalf("%v%s", err, where)
	}
}

// tryCompileC compiles src for the BPF target, syntax only.
func tryCompileC(clang, src string, extra ...string) error {
	args := append([]string{"-target", "bpf", "-D__TARGET_ARCH_x86",
		"-fsyntax-only", "-Werror=implicit-function-declaration", "-ferror-limit=50"}, extra...)
	cmd := exec.Command(clang, append(args, "-x", "c", "-")...)
	cmd.Stdin = strings.NewReader(src)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s failed: %v\n%s", clang, err, truncate(out.String(), 8000))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "\n... (truncated)"
}

// topLevelNames extracts the named types a generated header declares:
// "struct x", "union x", "enum x" (definitions and forward declarations)
// and "typedef x". It relies on the layout Write and bpftool share: each
// top-level declaration starts in column 0 and they are separated by blank
// lines.
func topLevelNames(src string) map[string]bool {
	names := make(map[string]bool)
	for _, chunk := range strings.Split(src, "\n\n") {
		chunk = strings.TrimSpace(chunk)
		if chunk == "" || chunk[0] == '#' {
			continue
		}
		for _, tag := range []string{"struct ", "union ", "enum "} {
			if strings.HasPrefix(chunk, tag) {
				rest := chunk[len(tag):]
				if id := leadingIdent(rest); id != "" {
					names[tag+id] = true
				}
			}
		}
		if strings.HasPrefix(chunk, "typedef ") {
			if id := typedefName(chunk); id != "" {
				names["typedef "+id] = true
			}
		}
	}
	return names
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func leadingIdent(s string) string {
	i := 0
	for i < len(s) && isIdentByte(s[i]) {
		i++
	}
	return s[:i]
}

func trailingIdent(s string) string {
	s = strings.TrimRight(s, " \t*")
	i := len(s)
	for i > 0 && isIdentByte(s[i-1]) {
		i--
	}
	return s[i:]
}

// typedefName finds the name a typedef statement declares.
func typedefName(stmt string) string {
	// Drop inline record and enum bodies.
	var b strings.Builder
	depth := 0
	for i := 0; i < len(stmt); i++ {
		switch c := stmt[i]; {
		case c == '{':
			depth++
		case c == '}':
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	s := b.String()
	switch {
	case strings.Contains(s, "(*"):
		rest := s[strings.Index(s, "(*")+2:]
		rest = strings.TrimLeft(rest, "* ")
		for _, q := range []string{"const ", "volatile ", "restrict "} {
			rest = strings.TrimPrefix(rest, q)
		}
		return leadingIdent(rest)
	case strings.Contains(s, "("):
		return trailingIdent(s[:strings.Index(s, "(")])
	case strings.Contains(s, "["):
		return trailingIdent(s[:strings.Index(s, "[")])
	default:
		return trailingIdent(strings.TrimSuffix(strings.TrimSpace(s), ";"))
	}
}
