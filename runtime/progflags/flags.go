package progflags

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cilium/ebpf"

	"github.com/ecc-bpf/ecc/packager"
)

// ErrHelp is returned by [Set.Parse] for -h or --help among the program flags.
var ErrHelp = errors.New("help requested")

// Flag is the command-line flag of one global variable.
type Flag struct {
	// Name is the long name: @cmdarg long, else the variable's name. In
	// flag names - and _ are interchangeable, so --targ_pid and --targ-pid
	// are the same flag.
	Name string
	// Short is @cmdarg short, one character, or "".
	Short string
	// Var is the global's C name.
	Var string
	// Section is the data section: .rodata, .data, .bss, .rodata.x, ...
	Section string
	// Type is the C type from BTF, qualifiers dropped and typedef names
	// kept: "int", "u32", "pid_t", "bool", "char[16]", "enum color".
	Type string
	// Kind says how the value is written.
	Kind Kind
	// Default is the value the program runs with unless the flag is given,
	// as help prints it: @cmdarg default if there is one, else the
	// object's initial value. "" for unsettable flags.
	Default string
	// Help is @cmdarg help, else the variable's description, else
	// "set VAR (TYPE)" ("VAR (TYPE), not settable from the command line"
	// for unsettable flags); whitespace runs collapsed to one space.
	Help string
	// Len is the number of elements of an Array (nested arrays flattened)
	// and the size in bytes of a String, NUL included.
	Len int
	// Enumerators are the names an Enum (or an Array of enums) accepts.
	Enumerators []string

	codec   *codec
	initial []byte // the object's bytes
	deflt   []byte // @cmdarg default when it differs from initial
	value   []byte // given on the command line
}

// Settable reports whether the flag takes a value at all.
func (f *Flag) Settable() bool { return f.Kind != Unsettable }

// Changed reports whether the last [Set.Parse] set the flag.
func (f *Flag) Changed() bool { return f.value != nil }

// Value returns the bytes [Set.Apply] writes to the variable: the value
// given on the command line, else the @cmdarg default when it differs from
// the object's initial value, else nil (the variable is left alone).
func (f *Flag) Value() []byte {
	if f.value != nil {
		return bytes.Clone(f.value)
	}
	return bytes.Clone(f.deflt)
}

// Effective prints the value the program will run with, as [Flag.Default]
// is printed: the value given, else the default, else the object's
// initial value. "" for unsettable flags.
func (f *Flag) Effective() string {
	if !f.Settable() {
		return ""
	}
	if b := f.Value(); b != nil {
		return f.codec.format(b)
	}
	return f.codec.format(f.initial)
}

// Set is the program flags of one BPF program.
type Set struct {
	// Command is how the user ran the program, used in the hint of
	// errors: "see 'COMMAND --help'". Default "ecli run PACKAGE".
	Command string
	// RuntimeHelp is the last line of the help, about the runtime's own
	// flags.
	RuntimeHelp string

	flags   []*Flag
	byName  map[string]*Flag // normalized long name
	byShort map[string]*Flag
	doc     *packager.Doc
	objName string
	skipped []string
}

// Skipped lists the variables of the metadata that are not flags because
// the object does not expose them as globals: statics, function-scoped
// statics (func.name) and bpf_printk's format strings.
func (s *Set) Skipped() []string { return s.skipped }

// Reserved names, not available to globals.
const helpName = "help"

// New makes the flags of a program from its package metadata and its
// collection spec (loaded from the object, not yet created in the kernel):
// one flag per variable of every data section of meta, except the
// variables ecc and eunomia inject (__ecc_*, __eunomia_dummy*), .kconfig
// externs and variables that spec does not expose as globals (statics, see
// [Set.Skipped]). Types and initial values come from the spec's BTF and
// bytes; names, help and defaults from meta.
//
// It fails on invalid or
// duplicate long or short names (naming both globals), and on a @cmdarg
// default that does not fit the variable's type.
func New(meta *packager.Meta, spec *ebpf.CollectionSpec) (*Set, error) {
	if meta == nil || spec == nil {
		return nil, errors.New("progflags: nil metadata or collection spec")
	}
	order := spec.ByteOrder
	if order == nil {
		order = binary.NativeEndian
	}
	s := &Set{
		Command:     "ecli run PACKAGE",
		RuntimeHelp: "Flags of ecli itself go before PACKAGE; see 'ecli run --help'.",
		byName:      map[string]*Flag{},
		byShort:     map[string]*Flag{},
		doc:         meta.BpfSkel.Doc,
		objName:     meta.BpfSkel.ObjName,
	}
	for _, sec := range meta.BpfSkel.DataSections {
		if sec.Name == ".kconfig" || sec.Name == ".ksyms" {
			continue
		}
		for i := range sec.Variables {
			v := &sec.Variables[i]
			if strings.HasPrefix(v.Name, "__ecc_") || strings.HasPrefix(v.Name, "__eunomia_dummy") {
				continue
			}
			if spec.Variables[v.Name] == nil {
				// Static globals (static struct hist zero, func.empty,
				// bpf_printk's ____fmt) are listed by older packages but
				// are not settings: libbpf's skeleton leaves them out too.
				s.skipped = append(s.skipped, v.Name)
				continue
			}
			f, err := newFlag(sec.Name, v, spec, order)
			if err != nil {
				return nil, err
			}
			if err := s.add(f); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

func newFlag(section string, v *packager.Variable, spec *ebpf.CollectionSpec, order binary.ByteOrder) (*Flag, error) {
	vs := spec.Variables[v.Name]
	f := &Flag{Name: v.Name, Var: v.Name, Section: section, Type: v.Type}
	if vs.SectionName != "" {
		f.Section = vs.SectionName
	}
	c := &codec{name: v.Type, order: order}
	if c.name == "" {
		c.name = "a global without BTF"
	}
	if vs.Type != nil {
		c = newCodec(vs.Type.Type, order)
		f.Type = c.name
	}
	if c.size != 0 && len(vs.Value) != 0 && len(vs.Value) != c.size {
		return nil, fmt.Errorf("global %s: the object holds %d bytes but %s takes %d", v.Name, len(vs.Value), c.name, c.size)
	}
	f.codec, f.Kind = c, c.kind
	switch c.kind {
	case String:
		f.Len = c.n
	case Array:
		f.Len = c.n
		f.Enumerators = c.elem.enumNames()
	case Enum:
		f.Enumerators = c.enumNames()
	}
	f.initial = append([]byte(nil), vs.Value...)
	if len(f.initial) == 0 {
		f.initial = make([]byte, c.size)
	}

	ca := v.Cmdarg
	if ca == nil {
		ca = &packager.Cmdarg{}
	}
	if ca.Long != "" {
		long := strings.TrimLeft(ca.Long, "-")
		if long == "" || strings.ContainsAny(long, "=,") || strings.IndexFunc(long, unicode.IsSpace) >= 0 {
			return nil, fmt.Errorf("global %s: @cmdarg long %q is not a valid flag name", v.Name, ca.Long)
		}
		f.Name = long
	}
	if normalize(f.Name) == helpName {
		return nil, fmt.Errorf("global %s: flag --%s is reserved for help; choose another @cmdarg long", v.Name, f.Name)
	}
	if ca.Short != "" {
		r, n := utf8.DecodeRuneInString(ca.Short)
		if n != len(ca.Short) || r == utf8.RuneError || r == '-' || r == '=' || unicode.IsSpace(r) {
			return nil, fmt.Errorf("global %s: @cmdarg short %q must be one character", v.Name, ca.Short)
		}
		f.Short = ca.Short
	}

	f.Help = collapse(ca.Help)
	if f.Help == "" {
		f.Help = collapse(v.Description)
	}
	if f.Help == "" {
		f.Help = fmt.Sprintf("set %s (%s)", v.Name, f.Type)
		if !f.Settable() {
			f.Help = fmt.Sprintf("%s (%s), not settable from the command line", v.Name, f.Type)
		}
	}

	if f.Settable() {
		f.Default = c.format(f.initial)
	}
	if d := bytes.TrimSpace(ca.Default); len(d) > 0 && !bytes.Equal(d, []byte("null")) {
		if !f.Settable() {
			return nil, fmt.Errorf("global %s: @cmdarg default %s: %s cannot be set", v.Name, d, f.Type)
		}
		b, err := parseDefault(c, d)
		if err != nil {
			return nil, fmt.Errorf("global %s: %w", v.Name, err)
		}
		f.Default = c.format(b)
		if !bytes.Equal(b, f.initial) {
			f.deflt = b
		}
	}
	return f, nil
}

// parseDefault reads a @cmdarg default: a JSON number, bool or string is
// parsed as if given on the command line; a JSON array is the elements of
// an array.
func parseDefault(c *codec, raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("@cmdarg default %s is not JSON: %w", raw, err)
	}
	text, ok := jsonText(v)
	if !ok {
		if list, isList := v.([]any); isList && c.kind == Array {
			parts := make([]string, len(list))
			for i, e := range list {
				if parts[i], ok = jsonText(e); !ok {
					return nil, fmt.Errorf("@cmdarg default %s: element %d is not a number, bool or string", raw, i+1)
				}
			}
			text, ok = strings.Join(parts, ","), true
		}
	}
	if !ok {
		return nil, fmt.Errorf("@cmdarg default %s does not fit %s", raw, c.name)
	}
	b, verr := c.parse(text)
	if verr != nil {
		return nil, errors.New(verr.render("@cmdarg default"))
	}
	return b, nil
}

func jsonText(v any) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		return x.String(), true
	case string:
		return x, true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

func (s *Set) add(f *Flag) error {
	key := normalize(f.Name)
	if g := s.byName[key]; g != nil {
		return fmt.Errorf("globals %s and %s both use flag --%s", g.Var, f.Var, f.Name)
	}
	if f.Short != "" {
		if g := s.byShort[f.Short]; g != nil {
			return fmt.Errorf("globals %s and %s both use flag -%s", g.Var, f.Var, f.Short)
		}
		s.byShort[f.Short] = f
	}
	s.byName[key] = f
	s.flags = append(s.flags, f)
	return nil
}

// Flags returns the flags in the order of the metadata's sections and
// variables.
func (s *Set) Flags() []*Flag { return s.flags }

// Lookup returns the flag of a long name (without dashes; - and _ alike),
// or nil.
func (s *Set) Lookup(name string) *Flag { return s.byName[normalize(name)] }

// Apply writes to spec's variables, through [ebpf.VariableSpec.Set] in
// native byte order, every flag the last [Set.Parse] set and every @cmdarg
// default that differs from the object's initial value. Call it before the
// collection is loaded. spec may be a copy of the one given to [New].
func (s *Set) Apply(spec *ebpf.CollectionSpec) error {
	for _, f := range s.flags {
		b := f.Value()
		if b == nil {
			continue
		}
		vs := spec.Variables[f.Var]
		if vs == nil {
			return fmt.Errorf("set --%s: the BPF object has no global %s", f.Name, f.Var)
		}
		if err := vs.Set(b); err != nil {
			return fmt.Errorf("set --%s (global %s): %w", f.Name, f.Var, err)
		}
	}
	return nil
}

// normalize makes - and _ the same in flag names.
func normalize(name string) string { return strings.ReplaceAll(name, "-", "_") }

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }
