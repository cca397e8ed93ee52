package progflags

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ecc-bpf/ecc/internal/suggest"
)

// Parse reads the program flags: the arguments after the package. Values
// given earlier are forgotten; a flag given twice keeps the last value.
// It returns [ErrHelp] for -h or --help, and a *[ParseError] for the first
// unknown flag (which it wraps as an *[UnknownFlagError]), bad value or
// positional argument.
func (s *Set) Parse(args []string) error {
	err := s.parse(args)
	if err == nil || errors.Is(err, ErrHelp) {
		return err
	}
	return &ParseError{Err: err}
}

// ParseError is a command line the program's flags do not take: a mistake
// of whoever typed it, not of the package.
type ParseError struct{ Err error }

func (e *ParseError) Error() string { return e.Err.Error() }
func (e *ParseError) Unwrap() error { return e.Err }

func (s *Set) parse(args []string) error {
	for _, f := range s.flags {
		f.value = nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		var used int
		var err error
		switch {
		case a == "--":
			if i+1 < len(args) {
				return fmt.Errorf("unexpected argument %q", args[i+1])
			}
			return nil
		case strings.HasPrefix(a, "--"):
			used, err = s.parseLong(args, i)
		case len(a) > 1 && a[0] == '-':
			used, err = s.parseShort(args, i)
		default:
			return s.unexpected(args, i)
		}
		if err != nil {
			return err
		}
		i += used
	}
	return nil
}

// parseLong handles args[i], which starts with --, and returns how many
// arguments after it it used.
func (s *Set) parseLong(args []string, i int) (int, error) {
	name, val, hasVal := strings.Cut(args[i][2:], "=")
	key := normalize(name)
	if f := s.byName[key]; f != nil {
		return s.take(f, val, hasVal, args, i)
	}
	if key == helpName {
		return 0, ErrHelp
	}
	for _, p := range []struct {
		prefix string
		value  bool
	}{{"enable_", true}, {"disable_", false}} {
		rest, ok := strings.CutPrefix(key, p.prefix)
		if !ok {
			continue
		}
		f := s.byName[rest]
		if f == nil {
			continue
		}
		if f.Kind != Bool {
			return 0, fmt.Errorf("--%s: --%s is not a bool flag; write --%s=VALUE", name, f.Name, f.Name)
		}
		if hasVal {
			return 0, fmt.Errorf("--%s takes no value", name)
		}
		return 0, s.set(f, boolText(p.value))
	}
	return 0, s.unknown("--"+name, s.suggest(key))
}

// parseShort handles args[i], -x or a cluster of them (-vx, -p5, -p=5).
func (s *Set) parseShort(args []string, i int) (int, error) {
	rest := args[i][1:]
	for rest != "" {
		_, n := utf8.DecodeRuneInString(rest)
		key := rest[:n]
		rest = rest[n:]
		f := s.byShort[key]
		if f == nil {
			if key == "h" {
				return 0, ErrHelp
			}
			return 0, s.unknown("-"+key, "")
		}
		val, hasVal := strings.CutPrefix(rest, "=")
		if f.Kind == Bool && !hasVal {
			if err := s.set(f, "true"); err != nil {
				return 0, err
			}
			continue // -vx: more short flags may follow
		}
		if !hasVal && rest != "" {
			val, hasVal = rest, true
		}
		return s.take(f, val, hasVal, args, i)
	}
	return 0, nil
}

// take gives f its value: val, or the next argument when there is none.
func (s *Set) take(f *Flag, val string, hasVal bool, args []string, i int) (int, error) {
	if !f.Settable() {
		return 0, fmt.Errorf("--%s: %s cannot be set from the command line", f.Name, f.Type)
	}
	if f.Kind == Bool && !hasVal {
		return 0, s.set(f, "true")
	}
	used := 0
	if !hasVal {
		if i+1 >= len(args) {
			return 0, fmt.Errorf("--%s needs a value (%s)", f.Name, f.Type)
		}
		next := args[i+1]
		if looksLikeFlag(next) {
			return 0, fmt.Errorf("--%s needs a value (%s), got flag %s; write --%s=VALUE for a value that begins with -", f.Name, f.Type, next, f.Name)
		}
		val, used = next, 1
	}
	return used, s.set(f, val)
}

func (s *Set) set(f *Flag, val string) error {
	b, err := f.codec.parse(val)
	if err != nil {
		return errors.New(err.render("--" + f.Name))
	}
	f.value = b
	return nil
}

func boolText(v bool) string {
	if v {
		return "true"
	}
	return "false"
}

// looksLikeFlag reports whether an argument is a flag rather than a value:
// it begins with - and is not a negative number.
func looksLikeFlag(a string) bool {
	if len(a) < 2 || a[0] != '-' {
		return false
	}
	c := a[1]
	return !(c >= '0' && c <= '9' || c == '.')
}

func (s *Set) unexpected(args []string, i int) error {
	a := args[i]
	if i > 0 {
		prev := args[i-1]
		if name, ok := strings.CutPrefix(prev, "--"); ok && !strings.Contains(name, "=") {
			if f := s.byName[normalize(name)]; f != nil && f.Kind == Bool {
				if _, isBool := parseBool(a); isBool {
					return fmt.Errorf("unexpected argument %q; a bool flag takes its value after =, as in --%s=%s", a, f.Name, a)
				}
			}
		}
	}
	return fmt.Errorf("unexpected argument %q; program flags begin with - or --", a)
}

// UnknownFlagError is a program flag the package does not have.
type UnknownFlagError struct {
	// Flag is the flag as given, without a value: --name or -n.
	Flag string
	// Suggestion is the long name of the closest flag, or "".
	Suggestion string
	// Command is Set.Command, for "see 'COMMAND --help'".
	Command string
}

func (e *UnknownFlagError) Error() string {
	if e.Suggestion != "" {
		return fmt.Sprintf("unknown flag %s (did you mean --%s?); see '%s --help'", e.Flag, e.Suggestion, e.Command)
	}
	return fmt.Sprintf("unknown flag %s; see '%s --help'", e.Flag, e.Command)
}

func (s *Set) unknown(flag, suggestion string) error {
	return &UnknownFlagError{Flag: flag, Suggestion: suggestion, Command: s.Command}
}

// suggest returns the flag of the global named key when @cmdarg long
// renamed it, else the flag name most similar to key (normalized) by the
// measure urfave/cli uses for ecli's own flags (internal/suggest), or "".
func (s *Set) suggest(key string) string {
	if key == "" || len(key) > 64 {
		return ""
	}
	for _, f := range s.flags {
		if normalize(f.Var) == key {
			return f.Name
		}
	}
	var names []string
	for _, f := range s.flags {
		names = append(names, f.Name)
		if f.Kind == Bool {
			names = append(names, "enable-"+f.Name, "disable-"+f.Name)
		}
	}
	names = append(names, helpName)
	byKey := map[string]string{}
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = normalize(n)
		byKey[keys[i]] = n
	}
	return byKey[suggest.Closest(key, keys...)]
}
