package termsafe

import "testing"

func TestLine(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"handle_exec", "handle_exec"},
		{"", ""},
		{"naïve → ok", "naïve → ok"},
		{"\x1b[2Jclear", `\x1b[2Jclear`},
		{"a\rb", `a\x0db`},
		{"two\nlines\tand tab", `two\x0alines\x09and tab`},
		{"del\x7f bell\a", `del\x7f bell\x07`},
		{"c1 \u009b31m", `c1 \u009b31m`},
		{"bidi \u202eevil", `bidi \u202eevil`},
		{"bad \xff utf8", `bad \xff utf8`},
		{`back\slash`, `back\slash`},
	} {
		if got := Line(c.in); got != c.want {
			t.Errorf("Line(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"para one\n\npara\ttwo", "para one\n\npara\ttwo"},
		{"evil\r\x1b]0;title\x07\n", "evil\\x0d\\x1b]0;title\\x07\n"},
		{"é\u0085", `é\u0085`},
	} {
		if got := Text(c.in); got != c.want {
			t.Errorf("Text(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestNoCopyWhenSafe(t *testing.T) {
	s := "plain text, ünïcode and\ttabs"
	if allocs := testing.AllocsPerRun(100, func() { _ = Text(s) }); allocs != 0 {
		t.Errorf("Text of safe text allocates %v times", allocs)
	}
}

func TestList(t *testing.T) {
	for _, tc := range []struct {
		names []string
		max   int
		want  string
	}{
		{nil, 8, "none"},
		{[]string{"a", "b\x1b[2J"}, 8, `a, b\x1b[2J`},
		{[]string{"a", "b", "c"}, 2, "a, b and 1 more"},
	} {
		if got := List(tc.names, tc.max); got != tc.want {
			t.Errorf("List(%q, %d) = %q, want %q", tc.names, tc.max, got, tc.want)
		}
	}
}
