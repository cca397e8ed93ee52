package suggest

import "testing"

func TestClosest(t *testing.T) {
	flags := []string{"duration", "interval", "count", "ifname", "pid", "pull", "platform", "verbose", "dry-run", "json", "j", "d"}
	for _, c := range []struct{ provided, want string }{
		{"duraton", "duration"},
		{"durations", "duration"},
		{"intreval", "interval"},
		{"pidd", "pid"},
		{"pdi", "pid"}, // a swap in three letters: same letters
		{"ipd", "pid"},
		{"platfrom", "platform"},
		{"dryrun", "dry-run"},
		{"verbos", "verbose"},
		{"jsno", "json"},
		// Nothing close: no suggestion rather than a wild one.
		{"failed", ""},
		{"uid", ""},
		{"version", ""},
		{"target_pid", ""},
		// One letter: a typo of it cannot be recognised.
		{"p", ""},
		{"x", ""},
		{"", ""},
		// The name itself is no suggestion.
		{"pid", ""},
	} {
		if got := Closest(c.provided, flags...); got != c.want {
			t.Errorf("Closest(%q) = %q, want %q", c.provided, got, c.want)
		}
	}
	if got := Closest("bulid", "build", "gen", "init", "push", "pull", "login", "logout", "images", "tag", "inspect", "version", "completion"); got != "build" {
		t.Errorf("Closest(bulid) = %q", got)
	}
	if got := Closest("psuh", "pull", "push"); got != "push" {
		t.Errorf("Closest(psuh) = %q", got)
	}
}

func TestSimilarity(t *testing.T) {
	if s := Similarity("build", "build"); s != 1 {
		t.Errorf("equal strings: %v", s)
	}
	if s := Similarity("abc", "xyz"); s != 0 {
		t.Errorf("nothing in common: %v", s)
	}
}
