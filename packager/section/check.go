package section

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/xrash/smetrics"
)

// ErrUnknown is matched (errors.Is) by every *UnknownError.
var ErrUnknown = errors.New("unknown section name")

// UnknownError is a program in a section that neither libbpf nor ecli
// knows, which ecli could neither load nor attach.
type UnknownError struct {
	Program string
	Section string
	// Suggestion is the known section name closest to Section ("" when
	// none is close).
	Suggestion string
}

func (e *UnknownError) Error() string {
	msg := fmt.Sprintf("section %q of program %s is not a kind ecli can attach", e.Section, e.Program)
	if e.Suggestion != "" {
		msg += fmt.Sprintf("; did you mean %q?", e.Suggestion)
	}
	return msg
}

func (e *UnknownError) Is(target error) bool { return target == ErrUnknown }

// Known reports whether ecli can plan a program in section whose program
// type cilium/ebpf read as typ: a libbpf section name (Lookup), one
// behind leading dots (LookupDotted), or a name cilium/ebpf gave a type
// by its own rules. A leading "?" (libbpf's "do not load by default") is
// ignored.
func Known(section string, typ ebpf.ProgramType) bool {
	s := strings.TrimPrefix(section, "?")
	if _, _, ok := Lookup(s); ok {
		return true
	}
	if _, _, ok := LookupDotted(s); ok {
		return true
	}
	return typ != ebpf.UnspecifiedProgram
}

// Check returns an *UnknownError for the first program (by name) of spec
// whose section is not Known, with a suggestion. Programs in sections
// with libbpf's "?" prefix are not checked: they are not loaded unless
// their user space asks, and may be meant for another loader.
func Check(spec *ebpf.CollectionSpec) error {
	for _, n := range slices.Sorted(maps.Keys(spec.Programs)) {
		ps := spec.Programs[n]
		if strings.HasPrefix(ps.SectionName, "?") || Known(ps.SectionName, ps.Type) {
			continue
		}
		return &UnknownError{Program: n, Section: ps.SectionName, Suggestion: Suggest(ps.SectionName)}
	}
	return nil
}

// minSimilarity is the Jaro-Winkler similarity a known name needs to be
// suggested.
const minSimilarity = 0.8

// Suggest returns the known section name closest to an unknown one, or ""
// when none is close: the part before the first slash is compared with
// the table's prefixes ("tracepont/syscalls/x" → "tracepoint/syscalls/x",
// the rest kept), whole names with the table's exact names
// ("cgroup/conect4" → "cgroup/connect4").
func Suggest(section string) string {
	s := strings.TrimPrefix(section, "?")
	prefix, rest, slash := strings.Cut(s, "/")
	if slash {
		rest = "/" + rest
	}
	best, score := "", 0.0
	consider := func(a, b, suggestion string) {
		if sc := smetrics.JaroWinkler(strings.ToLower(a), b, 0.7, 4); sc > score {
			best, score = suggestion, sc
		}
	}
	for i := range Table {
		p := Table[i].Pattern
		switch {
		case strings.HasSuffix(p, "+"):
			p = strings.TrimSuffix(p, "+")
			consider(prefix, p, p+rest)
		case strings.HasSuffix(p, "/"):
			p = strings.TrimSuffix(p, "/")
			if slash {
				consider(prefix, p, p+rest)
			}
		default:
			consider(s, p, p)
		}
	}
	if score < minSimilarity {
		return ""
	}
	return best
}
