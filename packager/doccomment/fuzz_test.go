package doccomment

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func FuzzScan(f *testing.F) {
	f.Add([]byte(srcRunqlat))
	for _, tt := range scanTests {
		f.Add([]byte(tt.src))
	}
	for _, tt := range errorTests {
		f.Add([]byte(tt.src))
	}
	for _, s := range []string{
		"", "/", "/*", "/**", "///", "//\\", "#", "#if\n#else\n#endif", "\"", "'",
		"\\", "\\\n", "{", "}", "(", ")", "int f(", "int f() {", "struct {", "/// @cmdarg {",
		"/** @sample */ int x;", "/// @\n/// @1\nint x;", "\xEF\xBB\xBFint x;",
		"SEC(\"a\nint f(void) {}", "int a[(]);", "typedef;", "struct;", "x;",
		"/// \xff\x00\x7f @brief \xc3\x28\nint x;",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		ds, err := Scan("fuzz.bpf.c", src)
		lines := bytes.Count(src, []byte{'\n'}) + 1
		for _, d := range ds {
			if d.Kind < Var || d.Kind > Func {
				t.Fatalf("%+v: bad kind", d)
			}
			if d.Name == "" || d.Line < 1 || d.Line > lines {
				t.Fatalf("%+v: bad name or line (%d lines)", d, lines)
			}
			if doc := d.Doc; doc != nil {
				if doc.Line < 1 || doc.Line > d.Line {
					t.Fatalf("%+v: doc line %d", d, doc.Line)
				}
				for k, v := range doc.Tags {
					if k == "" || !json.Valid(v) {
						t.Fatalf("%+v: tag %q = %q", d, k, v)
					}
				}
			}
		}
		if err != nil {
			errs := []error{err}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap()
			}
			for _, err := range errs {
				var e *Error
				if !errors.As(err, &e) || e.Line < 1 || e.Line > lines || !strings.HasPrefix(e.Error(), "fuzz.bpf.c:") {
					t.Fatalf("bad error %v", err)
				}
			}
		}

		// CRLF line endings give the same result.
		if bytes.IndexByte(src, '\r') >= 0 {
			return
		}
		ds2, err2 := Scan("fuzz.bpf.c", bytes.ReplaceAll(src, []byte("\n"), []byte("\r\n")))
		if got, want := summary(ds2), summary(ds); !slices.Equal(got, want) {
			t.Fatalf("CRLF:\n\t%s\nLF:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
		}
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("CRLF error %v, LF error %v", err2, err)
		}
	})
}
