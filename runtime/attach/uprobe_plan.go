package attach

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// uprobeValue is one --uprobe value.
type uprobeValue struct {
	raw    string
	prog   string // PROG=, or ""
	bin    string
	sym    string // "" for an address or a binary alone
	off    uint64 // offset from sym, or the address when sym is ""
	target bool   // names a function or an address (BINARY:...)
	used   bool
}

// uprobeFlags are the parsed --uprobe values.
type uprobeFlags struct {
	all    []*uprobeValue
	byProg map[string]*uprobeValue
	// bare is the value bare programs take; decided says PlanAll chose it
	// (PlanFor, seeing one program, takes the only unprefixed target).
	bare    *uprobeValue
	decided bool
	// pairOnly: the object's bare programs are at most one entry and one
	// return probe, so an unprefixed BINARY:SYMBOL would serve them.
	pairOnly bool
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// parseUprobeValues parses --uprobe values: [PROG=]BINARY[:SYMBOL[+OFFSET]]
// or [PROG=]BINARY:ADDRESS. PROG is a C identifier.
func parseUprobeValues(values []string) (*uprobeFlags, error) {
	f := &uprobeFlags{byProg: map[string]*uprobeValue{}}
	for _, raw := range values {
		v := &uprobeValue{raw: raw}
		rest := raw
		if i := strings.IndexByte(raw, '='); i > 0 && isIdent(raw[:i]) {
			v.prog, rest = raw[:i], raw[i+1:]
		}
		if rest == "" {
			return nil, fmt.Errorf("--uprobe %q: want [PROG=]BINARY[:SYMBOL[+OFFSET]]", raw)
		}
		if strings.Contains(rest, ":") {
			bin, sym, off, err := parseUprobeTarget(rest)
			if err != nil {
				return nil, fmt.Errorf("--uprobe %q: %w", raw, err)
			}
			v.bin, v.sym, v.off, v.target = bin, sym, off, true
		} else {
			v.bin = rest
		}
		if v.prog != "" {
			if prev := f.byProg[v.prog]; prev != nil {
				return nil, fmt.Errorf("--uprobe %q and --uprobe %q: program %s given twice", prev.raw, raw, v.prog)
			}
			f.byProg[v.prog] = v
		}
		f.all = append(f.all, v)
	}
	return f, nil
}

// targets are the unprefixed BINARY:... values; bins the unprefixed
// binaries alone.
func (f *uprobeFlags) targets() (out []*uprobeValue) {
	for _, v := range f.all {
		if v.prog == "" && v.target {
			out = append(out, v)
		}
	}
	return out
}

func (f *uprobeFlags) bins() (out []*uprobeValue) {
	for _, v := range f.all {
		if v.prog == "" && !v.target {
			out = append(out, v)
		}
	}
	return out
}

// bareTarget is the value for a bare program, or an error when several
// could be meant.
func (f *uprobeFlags) bareTarget() (*uprobeValue, error) {
	if f.decided {
		return f.bare, nil
	}
	ts := f.targets()
	switch len(ts) {
	case 0:
		return nil, nil
	case 1:
		return ts[0], nil
	}
	return nil, fmt.Errorf("%s name no program: give this one its target with --uprobe PROG=BINARY:SYMBOL[+OFFSET]", quoteValues(ts))
}

func quoteValues(vs []*uprobeValue) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = "--uprobe " + v.raw
	}
	return strings.Join(s, ", ")
}

// sectionUprobe splits a uprobe section's target: BINARY:SYMBOL[+OFFSET],
// BINARY:ADDRESS, or a function alone (SYMBOL[+OFFSET]).
func sectionUprobe(extra string) (bin, sym string, off uint64, err error) {
	if strings.Contains(extra, ":") {
		return parseUprobeTarget(extra)
	}
	if strings.Contains(extra, "/") {
		return "", "", 0, errors.New("names a binary but no function (want BINARY:SYMBOL[+OFFSET])")
	}
	if extra[0] >= '0' && extra[0] <= '9' {
		return "", "", 0, errors.New("an address needs its binary (want BINARY:ADDRESS)")
	}
	sym, off, err = splitOffset(extra)
	if err == nil && sym == "" {
		err = errors.New("no symbol before '+'")
	}
	return "", sym, off, err
}

// planUprobe fills in the binary, symbol and offset of a uprobe plan
// (see "Uprobe targets" in the package documentation).
func planUprobe(p *Plan, kind Kind, extra string, f *uprobeFlags) error {
	fail := func(skip bool, format string, args ...any) error {
		return &PlanError{Program: p.Program, Section: p.Section, Msg: fmt.Sprintf(format, args...), Skip: skip}
	}
	prefix, _, _ := strings.Cut(strings.TrimPrefix(p.Section, "?"), "/")
	multi := kind == UprobeMulti || kind == UretprobeMulti
	var (
		bin, sym       string
		off            uint64
		hasBin, hasSym bool
		from           = fmt.Sprintf("section target %q", extra)
		fromFlag       *uprobeValue
	)
	if extra != "" {
		b, s, o, err := sectionUprobe(extra)
		if err != nil {
			return fail(true, "section target %q: %v", extra, err)
		}
		bin, sym, off, hasBin, hasSym = b, s, o, b != "", true
	}
	if v := f.byProg[p.Program]; v != nil {
		v.used, fromFlag = true, v
		bin, hasBin = v.bin, true
		if v.target {
			sym, off, hasSym = v.sym, v.off, true
		} else if !hasSym {
			return fail(false, "--uprobe %s gives a binary, but the section names no function: use --uprobe %s=%s:SYMBOL[+OFFSET]", v.raw, p.Program, v.bin)
		}
	}
	switch {
	case hasBin:
	case hasSym:
		// A function alone: find its binary.
		v, err := binaryFor(f, sym)
		if err != nil {
			return fail(false, "%v", err)
		}
		if v == nil {
			return fail(true, "the section names the function %s but no binary: pass --uprobe BINARY (e.g. --uprobe /bin/bash), or --uprobe %s=BINARY:%s", sym, p.Program, sym)
		}
		bin, fromFlag = v.bin, v
	default:
		v, err := f.bareTarget()
		if err != nil {
			return fail(false, "%v", err)
		}
		if v == nil {
			only := ""
			if bins := f.bins(); len(bins) > 0 {
				only = fmt.Sprintf(" (%s gives a binary but no function)", quoteValues(bins))
			}
			or := ""
			if !f.decided || f.pairOnly {
				or = ", or --uprobe BINARY:SYMBOL"
			}
			return fail(true, "bare SEC(%q) names no target%s: pass --uprobe %s=BINARY:SYMBOL[+OFFSET]%s", prefix, only, p.Program, or)
		}
		v.used, fromFlag = true, v
		bin, sym, off = v.bin, v.sym, v.off
	}
	if fromFlag != nil {
		from = "--uprobe " + fromFlag.raw
	}
	if multi && (off != 0 || sym == "") {
		return fail(fromFlag == nil, "%s: multi-uprobes take BINARY:PATTERN, without offset", from)
	}
	path, err := ResolveBinary(bin)
	if err != nil {
		// A binary the section names may just not be installed here; a
		// flag's is the user's to fix.
		return fail(fromFlag == nil, "%s: %v", from, err)
	}
	p.Binary, p.Symbol, p.Offset = path, sym, off
	return nil
}

// binaryFor picks the binary of a section that names the function sym
// alone: from the unprefixed --uprobe BINARY values and the --uprobe
// BINARY:SYMBOL values with that symbol; among several, the one that
// defines sym.
func binaryFor(f *uprobeFlags, sym string) (*uprobeValue, error) {
	var cands []*uprobeValue
	seen := map[string]bool{}
	for _, v := range f.all {
		if v.prog != "" || v.target && v.sym != sym {
			continue
		}
		if !v.target {
			v.used = true // a binary alone serves every such section
		}
		if !seen[v.bin] {
			seen[v.bin] = true
			cands = append(cands, v)
		}
	}
	for _, v := range cands {
		if v.target {
			v.used = true
		}
	}
	if len(cands) <= 1 {
		if len(cands) == 1 {
			return cands[0], nil
		}
		return nil, nil
	}
	var defining []*uprobeValue
	for _, v := range cands {
		path, err := ResolveBinary(v.bin)
		if err != nil {
			return nil, fmt.Errorf("--uprobe %s: %w", v.raw, err)
		}
		if _, err := resolveSymbol(path, sym); err == nil {
			defining = append(defining, v)
		}
	}
	if len(defining) == 1 {
		return defining[0], nil
	}
	if len(defining) == 0 {
		return nil, fmt.Errorf("none of %s defines %s: pass the binary that does, or --uprobe PROG=BINARY:%s", quoteValues(cands), sym, sym)
	}
	return nil, fmt.Errorf("%s all define %s: give this program its binary with --uprobe PROG=BINARY:%s", quoteValues(defining), sym, sym)
}

// libDirs are searched for shared libraries named without a slash
// (uprobe/libc.so.6:malloc), after $LD_LIBRARY_PATH.
var libDirs = []string{
	"/lib/" + multiarch(), "/usr/lib/" + multiarch(),
	"/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib",
}

func regularFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// ResolveBinary finds the file a uprobe target names and returns its
// absolute path:
//   - a path (containing "/"): absolute, or relative to the working folder;
//   - a library name containing ".so": in $LD_LIBRARY_PATH, the usual
//     library folders, then the working folder;
//   - a command name: on $PATH, then in the working folder.
//
// Errors name the file and say where ecli looked.
func ResolveBinary(name string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		wd = "."
	}
	if strings.Contains(name, "/") {
		abs := name
		if !filepath.IsAbs(name) {
			abs = filepath.Join(wd, name)
		}
		st, err := os.Stat(abs)
		switch {
		case err != nil && filepath.IsAbs(name):
			return "", fmt.Errorf("binary %s: %w", name, err)
		case err != nil:
			return "", fmt.Errorf("binary %s: no file %s (relative paths start at the working folder %s)", name, abs, wd)
		case st.IsDir():
			return "", fmt.Errorf("binary %s: %s is a folder, not an executable or library", name, abs)
		}
		return filepath.Clean(abs), nil
	}
	if strings.Contains(name, ".so") {
		dirs := append(filepath.SplitList(os.Getenv("LD_LIBRARY_PATH")), libDirs...)
		for _, d := range dirs {
			if d == "" {
				continue
			}
			if p := filepath.Join(d, name); regularFile(p) {
				return filepath.Abs(p)
			}
		}
		if p := filepath.Join(wd, name); regularFile(p) {
			return p, nil
		}
		return "", fmt.Errorf("library %s not found in $LD_LIBRARY_PATH, %s or the working folder %s; give its path", name, strings.Join(libDirs, ", "), wd)
	}
	if p, err := exec.LookPath(name); err == nil {
		return filepath.Abs(p)
	}
	if p := filepath.Join(wd, name); regularFile(p) {
		return p, nil
	}
	return "", fmt.Errorf("binary %s not found on $PATH or in the working folder %s; give its path", name, wd)
}

// decideBare checks rule 4 of "Uprobe targets" (package documentation)
// for a whole object and decides which value bare programs take. bare are
// the bare programs without PROG= (name → true for a return probe),
// symOnly the functions that sections name without a binary.
func (f *uprobeFlags) decideBare(bare map[string]bool, symOnly map[string]bool) error {
	f.decided = true
	names := make([]string, 0, len(bare))
	entries, returns := 0, 0
	for n, ret := range bare {
		names = append(names, n)
		if ret {
			returns++
		} else {
			entries++
		}
	}
	sort.Strings(names)
	f.pairOnly = entries <= 1 && returns <= 1
	var free []*uprobeValue
	for _, v := range f.targets() {
		if v.sym == "" || !symOnly[v.sym] {
			free = append(free, v)
		}
	}
	if len(free) == 0 || len(bare) == 0 {
		return nil
	}
	if len(free) > 1 {
		return fmt.Errorf("%s name no program, and the package has bare uprobe programs (%s): give each its target with --uprobe PROG=BINARY:SYMBOL[+OFFSET]",
			quoteValues(free), strings.Join(names, ", "))
	}
	if entries > 1 || returns > 1 {
		return fmt.Errorf("--uprobe %s names no program, but the package has %d bare uprobe programs (%s): a value without PROG= applies only to one entry and one return probe; give each its target with --uprobe PROG=BINARY:SYMBOL[+OFFSET]",
			free[0].raw, len(bare), strings.Join(names, ", "))
	}
	f.bare = free[0]
	return nil
}
