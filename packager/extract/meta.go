package extract

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/decode"
	"github.com/ecc-bpf/ecc/internal/bpfobj"
	"github.com/ecc-bpf/ecc/internal/ctype"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/packager/doccomment"
	"github.com/ecc-bpf/ecc/packager/progscan"
)

// Prefixes of globals that only exist to keep export structs in BTF.
const (
	// ExportPrefix is what ECC_EXPORT(map, type) declares: __ecc_export__<map>.
	ExportPrefix = "__ecc_export__"
	// DummyPrefix is what ecc build injects for every struct of an export header.
	DummyPrefix = "__ecc_dummy_"
	// OwnPrefix is what ecc build injects, without an export header, for
	// every struct the program defines: it keeps them in BTF (a struct
	// only used on the stack has none) so that buffers can be bound to
	// them by size. They are not exported unless bound.
	OwnPrefix = "__ecc_own_"
	// eunomiaDummyPrefix is eunomia's equivalent, __eunomia_dummy_<struct>_ptr.
	eunomiaDummyPrefix = "__eunomia_dummy_"
)

// ErrNoStruct is returned for an export header that defines no struct.
var ErrNoStruct = errors.New("export header defines no struct")

// Input is what metadata is extracted from.
type Input struct {
	// Object is the BPF ELF object.
	Object []byte
	// Name is the object's name (NAME in NAME.bpf.c); obj_name is NAME_bpf.
	Name string
	// Source and SourceText give doc comments (optional).
	Source     string
	SourceText []byte
	// HeaderStructs are the struct names of the export header, in order.
	HeaderStructs []string
	// Header names the export header in errors.
	Header string
	// Warn, when set, receives warnings (an ambiguous event struct);
	// Info receives what ecc build -v explains (which struct each buffer
	// carries, and why).
	Warn, Info func(string)
	// HeaderText is the export header's text: `@format` doc comments
	// above its members become export_types[].members[].format.
	HeaderText []byte
	// OwnStructs are the structs the program defines in its source and its
	// own headers. Without an export header or ECC_EXPORT, a buffer whose
	// programs submit the size of exactly one of them carries it.
	OwnStructs []string
}

// Extract derives the package metadata from a BPF object and its source:
// programs, maps, globals with their defaults, export types, doc comments.
func Extract(in *Input) (*packager.Meta, error) {
	spec, err := bpfobj.LoadSpec(in.Object)
	if err != nil {
		return nil, fmt.Errorf("read BPF object: %w", err)
	}
	var decls []doccomment.Decl
	if in.SourceText != nil {
		decls, err = doccomment.Scan(in.Source, in.SourceText)
		if err != nil {
			return nil, err
		}
	}
	x := &extractor{in: in, spec: spec, docs: map[string]*doccomment.Decl{}}
	for i := range decls {
		d := &decls[i]
		key := kindKey(d.Kind) + d.Name
		if _, dup := x.docs[key]; !dup {
			x.docs[key] = d
		}
	}
	return x.run()
}

type extractor struct {
	in   *Input
	spec *ebpf.CollectionSpec
	docs map[string]*doccomment.Decl
	meta packager.Meta
	// bindings: map name → export struct name (from ECC_EXPORT).
	bindings map[string]string
	// exports in order of appearance.
	exports []string
}

func kindKey(k doccomment.Kind) string {
	switch k {
	case doccomment.Var, doccomment.License:
		return "var:"
	case doccomment.Map:
		return "map:"
	case doccomment.Prog, doccomment.Func:
		return "prog:"
	}
	return "other:"
}

func (x *extractor) warn(msg string) {
	if x.in.Warn != nil {
		x.in.Warn(msg)
	}
}

func (x *extractor) info(msg string) {
	if x.in.Info != nil {
		x.in.Info(msg)
	}
}

func (x *extractor) doc(kind, name string) *doccomment.Decl {
	return x.docs[kind+name]
}

func (x *extractor) run() (*packager.Meta, error) {
	m := &x.meta
	m.BpfSkel.ObjName = ObjName(x.in.Name)
	x.bindings = map[string]string{}
	if err := x.dataSections(); err != nil {
		return nil, err
	}
	if err := x.exportTypes(); err != nil {
		return nil, err
	}
	if err := x.maps(); err != nil {
		return nil, err
	}
	x.progs()
	if err := x.skelDoc(); err != nil {
		return nil, err
	}
	m.FillDefaults()
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// ObjName is eunomia's obj_name for NAME.bpf.c: NAME_bpf.
func ObjName(name string) string {
	return sanitize(name) + "_bpf"
}

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9_]`)

func sanitize(s string) string { return nonIdent.ReplaceAllString(s, "_") }

// IsDataSection reports whether a map holds a data section (.rodata, .data, .bss, .rodata.x, ...).
func IsDataSection(name string) bool {
	return name == ".bss" || name == ".data" || name == ".rodata" || name == ".kconfig" ||
		strings.HasPrefix(name, ".data.") || strings.HasPrefix(name, ".rodata.") || strings.HasPrefix(name, ".bss.")
}

// IsGlobal reports whether a variable of a data section is a global that
// user space may read and set: not static (by BTF linkage, or because the
// object's symbol table does not export it, as for __hidden globals).
func IsGlobal(spec *ebpf.CollectionSpec, v *btf.Var) bool {
	if v.Linkage == btf.StaticVar {
		return false
	}
	_, ok := spec.Variables[v.Name]
	return ok
}

// IsInternalVar reports globals that exist only to keep types in BTF.
func IsInternalVar(name string) bool {
	return strings.HasPrefix(name, ExportPrefix) || strings.HasPrefix(name, DummyPrefix) || strings.HasPrefix(name, OwnPrefix) || strings.HasPrefix(name, eunomiaDummyPrefix)
}

func sectionRank(name string) int {
	switch {
	case name == ".rodata":
		return 0
	case name == ".data":
		return 1
	case name == ".bss":
		return 2
	case strings.HasPrefix(name, ".rodata."):
		return 3
	case strings.HasPrefix(name, ".data."):
		return 4
	}
	return 5
}

func (x *extractor) dataMaps() []string {
	var names []string
	for name := range x.spec.Maps {
		if IsDataSection(name) {
			names = append(names, name)
		}
	}
	sort.Slice(names, func(i, j int) bool {
		ri, rj := sectionRank(names[i]), sectionRank(names[j])
		if ri != rj {
			return ri < rj
		}
		return names[i] < names[j]
	})
	return names
}

func (x *extractor) dataSections() error {
	order := x.spec.ByteOrder
	if order == nil {
		order = binary.NativeEndian
	}
	for _, name := range x.dataMaps() {
		ms := x.spec.Maps[name]
		ds, ok := ms.Value.(*btf.Datasec)
		if !ok {
			continue
		}
		var contents []byte
		if len(ms.Contents) > 0 {
			contents, _ = ms.Contents[0].Value.([]byte)
		}
		sec := packager.DataSection{Name: name, Variables: []packager.Variable{}}
		for _, vs := range ds.Vars {
			v, ok := vs.Type.(*btf.Var)
			if !ok {
				continue
			}
			if IsInternalVar(v.Name) {
				x.internalVar(v)
				continue
			}
			if !IsGlobal(x.spec, v) {
				// Statics (static struct hist zero, func.empty, the
				// ____fmt of bpf_printk) are the program's own: not
				// settings, left out as libbpf's skeleton leaves them.
				continue
			}
			pv := packager.Variable{
				Name:   v.Name,
				Type:   ctype.VarTypeName(v.Type),
				Size:   vs.Size,
				Offset: vs.Offset,
			}
			if end := int(vs.Offset + vs.Size); name != ".bss" && end <= len(contents) {
				raw := contents[vs.Offset:end]
				if vs.Size <= 256 || !allZero(raw) {
					// Only scalars and strings: eunomia's runtime refuses other defaults.
					// Plain: the value as the C code wrote it (a
					// __be16 default stays the number in memory).
					dec, err := decode.New(v.Type, &decode.Options{ByteOrder: order, Plain: true})
					if err == nil {
						val, err := dec.AppendJSON(nil, raw)
						if err == nil && len(val) > 0 && val[0] != '[' && val[0] != '{' {
							pv.Value = val
						}
					}
				}
			}
			if d := x.doc("var:", v.Name); d != nil && d.Doc != nil {
				pv.Description = d.Doc.Description
				var ca packager.Cmdarg
				ok, err := d.Doc.Tag("cmdarg", &ca)
				if err != nil {
					return fmt.Errorf("%s:%d: @cmdarg of %s: %w", x.in.Source, d.Doc.Line, v.Name, err)
				}
				if ok {
					pv.Cmdarg = &ca
				}
			}
			sec.Variables = append(sec.Variables, pv)
		}
		if len(sec.Variables) > 0 {
			x.meta.BpfSkel.DataSections = append(x.meta.BpfSkel.DataSections, sec)
		}
	}
	return nil
}

// internalVar records the export binding an injected global stands for.
func (x *extractor) internalVar(v *btf.Var) {
	if strings.HasPrefix(v.Name, OwnPrefix) {
		return
	}
	st, ok := btf.UnderlyingType(pointee(v.Type)).(*btf.Struct)
	if !ok || st.Name == "" {
		return
	}
	if m, ok := strings.CutPrefix(v.Name, ExportPrefix); ok && m != "" {
		x.bindings[m] = st.Name
	}
	x.addExport(st.Name)
}

func pointee(t btf.Type) btf.Type {
	if p, ok := btf.QualifiedType(t).(*btf.Pointer); ok {
		return p.Target
	}
	return t
}

func (x *extractor) addExport(name string) {
	for _, e := range x.exports {
		if e == name {
			return
		}
	}
	x.exports = append(x.exports, name)
}

// memberFormat is the @format of a member of an export header's struct.
type memberFormat struct {
	format decode.Format
	line   int
	used   int
}

// headerFormats reads the @format doc comments of the export header.
func (x *extractor) headerFormats() (map[string]map[string]*memberFormat, error) {
	out := map[string]map[string]*memberFormat{}
	if x.in.HeaderText == nil {
		return out, nil
	}
	mfs, err := HeaderFormats(x.in.Header, x.in.HeaderText)
	if err != nil {
		return nil, err
	}
	for _, mf := range mfs {
		f, err := decode.ParseFormat(mf.Format)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: @format of %s in struct %s: %w", x.in.Header, mf.Line, mf.Member, mf.Struct, err)
		}
		if out[mf.Struct] == nil {
			out[mf.Struct] = map[string]*memberFormat{}
		}
		out[mf.Struct][mf.Member] = &memberFormat{format: f, line: mf.Line}
	}
	return out, nil
}

// exportMembers describes the members of an export struct, with the
// members of anonymous structs and unions under their Members.
func exportMembers(members []btf.Member, formats map[string]*memberFormat) []packager.ExportMember {
	var out []packager.ExportMember
	for _, mb := range members {
		em := packager.ExportMember{
			Name:     mb.Name,
			Type:     ctype.TypeName(mb.Type),
			Offset:   mb.Offset.Bytes(),
			BitField: uint8(mb.BitfieldSize),
		}
		if sz, err := btf.Sizeof(mb.Type); err == nil && mb.BitfieldSize == 0 {
			em.Size = uint32(sz)
		}
		if mf := formats[mb.Name]; mf != nil && mb.Name != "" {
			em.Format = string(mf.format)
			mf.used++
		}
		if mb.Name == "" {
			var inner []btf.Member
			switch t := btf.UnderlyingType(mb.Type).(type) {
			case *btf.Struct:
				inner = t.Members
			case *btf.Union:
				inner = t.Members
			}
			em.Members = exportMembers(inner, formats)
		}
		out = append(out, em)
	}
	return out
}

func (x *extractor) exportTypes() error {
	formats, err := x.headerFormats()
	if err != nil {
		return err
	}
	// Header structs come first, in header order, then ECC_EXPORT ones.
	all := append([]string{}, x.in.HeaderStructs...)
	for _, e := range x.exports {
		found := false
		for _, h := range all {
			found = found || h == e
		}
		if !found {
			all = append(all, e)
		}
	}
	x.exports = all
	for _, name := range all {
		var st *btf.Struct
		if err := x.spec.Types.TypeByName(name, &st); err != nil {
			hint := ""
			if x.in.Header != "" {
				hint = fmt.Sprintf(" (from %s; #include it in %s and use the struct)", x.in.Header, x.in.Source)
			}
			return fmt.Errorf("export struct %s is not defined in the object's BTF%s: %w", name, hint, err)
		}
		id, err := x.spec.Types.TypeID(st)
		if err != nil {
			return err
		}
		et := packager.ExportType{Name: name, TypeID: uint32(id), Size: st.Size}
		f := formats[name]
		et.Members = exportMembers(st.Members, f)
		for member, mf := range f {
			if mf.used == 0 {
				return fmt.Errorf("%s:%d: @format above %s, but struct %s has no member %s", x.in.Header, mf.line, member, name, member)
			}
		}
		if len(f) > 0 {
			opts := &decode.Options{ByteOrder: x.spec.ByteOrder, Formats: map[string]map[string]decode.Format{name: {}}}
			for member, mf := range f {
				opts.Formats[name][member] = mf.format
			}
			if _, err := decode.New(st, opts); err != nil {
				return fmt.Errorf("%s: @format in struct %s: %w", x.in.Header, name, err)
			}
		}
		x.meta.ExportTypes = append(x.meta.ExportTypes, et)
	}
	return nil
}

func isBuffer(t ebpf.MapType) bool {
	return t == ebpf.RingBuf || t == ebpf.PerfEventArray
}

// sortBySource orders names as their doc comments (kind "map:" or
// "prog:") stand in the source; names without one follow, by name.
func (x *extractor) sortBySource(kind string, names []string) {
	line := func(name string) int {
		if d := x.doc(kind, name); d != nil {
			return d.Line
		}
		return 1 << 30
	}
	sort.Slice(names, func(i, j int) bool {
		li, lj := line(names[i]), line(names[j])
		if li != lj {
			return li < lj
		}
		return names[i] < names[j]
	})
}

func (x *extractor) maps() error {
	var user []string
	for name := range x.spec.Maps {
		if !IsDataSection(name) {
			user = append(user, name)
		}
	}
	x.sortBySource("map:", user)
	var buffers []*packager.Map
	for _, name := range user {
		ms := x.spec.Maps[name]
		pm := packager.Map{
			Name: name, Ident: name,
			Type:       ms.Type.String(),
			KeySize:    ms.KeySize,
			ValueSize:  ms.ValueSize,
			MaxEntries: ms.MaxEntries,
		}
		if ms.Key != nil {
			pm.KeyType = ctype.TypeName(ms.Key)
		}
		if ms.Value != nil {
			pm.ValueType = ctype.TypeName(ms.Value)
		}
		if d := x.doc("map:", name); d != nil && d.Doc != nil {
			pm.Description = d.Doc.Description
			var s packager.Sample
			ok, err := d.Doc.Tag("sample", &s)
			if err != nil {
				return fmt.Errorf("%s:%d: @sample of map %s: %w", x.in.Source, d.Doc.Line, name, err)
			}
			if ok {
				if s.Type == "" {
					s.Type = packager.SampleDefaultKV
				}
				if s.Interval == 0 {
					s.Interval = 1000
				}
				pm.Sample = &s
			}
		}
		if st, ok := x.bindings[name]; ok {
			pm.ExportType = st
		}
		x.meta.BpfSkel.Maps = append(x.meta.BpfSkel.Maps, pm)
	}
	for i := range x.meta.BpfSkel.Maps {
		pm := &x.meta.BpfSkel.Maps[i]
		if isBuffer(x.spec.Maps[pm.Name].Type) {
			buffers = append(buffers, pm)
		}
	}
	for b := range x.bindings {
		if x.meta.BpfSkel.Map(b) == nil {
			return fmt.Errorf("ECC_EXPORT(%s, ...) names no map; declare a ring buffer or perf event array called %s", b, b)
		}
	}
	// No export header and no ECC_EXPORT: a buffer whose programs submit
	// the size of one of the program's own structs carries it.
	if len(x.exports) == 0 {
		if err := x.bindOwnStructs(buffers); err != nil {
			return err
		}
	}
	// Unbound buffers carry the struct their programs submit (by size),
	// else the outermost one.
	if len(x.exports) > 0 {
		var structs []*btf.Struct
		for _, name := range x.exports {
			var st *btf.Struct
			if x.spec.Types.TypeByName(name, &st) == nil {
				structs = append(structs, st)
			}
		}
		var scan *progscan.Result
		for _, pm := range buffers {
			if pm.ExportType != "" {
				if pm.ExportTypeReason == "" {
					x.info(fmt.Sprintf("map %s carries struct %s (ECC_EXPORT)", pm.Name, pm.ExportType))
				}
				continue
			}
			if scan == nil {
				scan = progscan.Scan(x.spec)
			}
			b := progscan.Bind(scan.Maps[pm.Name], structs)
			if b.Struct == nil {
				continue
			}
			pm.ExportType, pm.ExportTypeReason = b.Struct.Name, b.Reason
			x.info(fmt.Sprintf("map %s carries struct %s: %s", pm.Name, b.Struct.Name, b.Reason))
			if len(b.Ambiguous) > 0 {
				x.warn(fmt.Sprintf("map %s: its events are taken to be struct %s (%s), but struct %s fits as well; say which with ECC_EXPORT(%s, struct NAME) from <ecc.h>",
					pm.Name, b.Struct.Name, b.Reason, strings.Join(b.Ambiguous, ", struct "), pm.Name))
			}
		}
	}
	// Buffers bound to different export types, or to one that is not the
	// first: eunomia's per-map config, so that eunomia decodes them too.
	distinct := map[string]bool{}
	for _, pm := range buffers {
		distinct[pm.ExportType] = true
	}
	if len(distinct) > 1 || (len(distinct) == 1 && len(x.exports) > 0 && !distinct[x.exports[0]] && !distinct[""]) {
		x.meta.EnableMultipleExportTypes = true
		for _, pm := range buffers {
			if et := x.meta.ExportType(pm.ExportType); et != nil {
				pm.ExportConfig, _ = json.Marshal(map[string]uint32{"btf_type_id": et.TypeID})
			}
		}
	}
	// Internal maps, named as libbpf names them (8 chars of the object name + section).
	prefix := x.in.Name
	if len(prefix) > 8 {
		prefix = prefix[:8]
	}
	for _, name := range x.dataMaps() {
		_, hasVars := x.spec.Maps[name].Value.(*btf.Datasec)
		x.meta.BpfSkel.Maps = append(x.meta.BpfSkel.Maps, packager.Map{
			Name:       prefix + name,
			Ident:      sanitize(strings.TrimPrefix(name, ".")),
			Mmaped:     hasVars,
			Type:       x.spec.Maps[name].Type.String(),
			ValueSize:  x.spec.Maps[name].ValueSize,
			MaxEntries: x.spec.Maps[name].MaxEntries,
		})
	}
	return nil
}

// bindOwnStructs binds buffers to the structs of the program's own source
// by the size submitted: no header needed when the size says. The bound
// structs become export types.
func (x *extractor) bindOwnStructs(buffers []*packager.Map) error {
	if len(buffers) == 0 || len(x.in.OwnStructs) == 0 {
		return nil
	}
	var structs []*btf.Struct
	for _, name := range x.in.OwnStructs {
		var st *btf.Struct
		if x.spec.Types.TypeByName(name, &st) == nil {
			structs = append(structs, st)
		}
	}
	scan := progscan.Scan(x.spec)
	var bound []string
	for _, pm := range buffers {
		u := scan.Maps[pm.Name]
		if u == nil || len(u.SubmitSizes) == 0 {
			continue
		}
		b := progscan.Bind(u, structs)
		if b.Struct == nil || !strings.HasPrefix(b.Reason, "programs submit") {
			continue
		}
		pm.ExportType, pm.ExportTypeReason = b.Struct.Name, b.Reason+", defined in the source"
		x.info(fmt.Sprintf("map %s carries struct %s: %s", pm.Name, b.Struct.Name, pm.ExportTypeReason))
		if len(b.Ambiguous) > 0 {
			x.warn(fmt.Sprintf("map %s: its events are taken to be struct %s (%s), but struct %s fits as well; say which with ECC_EXPORT(%s, struct NAME) from <ecc.h>",
				pm.Name, b.Struct.Name, b.Reason, strings.Join(b.Ambiguous, ", struct "), pm.Name))
		}
		if !slices.Contains(bound, b.Struct.Name) {
			bound = append(bound, b.Struct.Name)
		}
	}
	if len(bound) == 0 {
		return nil
	}
	x.exports = bound
	saved := x.in.HeaderStructs
	x.in.HeaderStructs = nil
	defer func() { x.in.HeaderStructs = saved }()
	x.meta.ExportTypes = nil
	return x.exportTypes()
}

func (x *extractor) progs() {
	var names []string
	for name := range x.spec.Programs {
		names = append(names, name)
	}
	x.sortBySource("prog:", names)
	for _, name := range names {
		ps := x.spec.Programs[name]
		p := packager.Prog{
			Name:     name,
			Attach:   ps.SectionName,
			Link:     true,
			ProgType: ps.Type.String(),
		}
		if ps.AttachType != 0 {
			p.AttachType = ps.AttachType.String()
		}
		if d := x.doc("prog:", name); d != nil && d.Doc != nil {
			p.Description = d.Doc.Description
		}
		x.meta.BpfSkel.Progs = append(x.meta.BpfSkel.Progs, p)
	}
}

func (x *extractor) skelDoc() error {
	d := x.doc("var:", "LICENSE")
	if d == nil || d.Doc == nil {
		return nil
	}
	doc := &packager.Doc{Description: d.Doc.Description}
	for tag, dst := range map[string]*string{"brief": &doc.Brief, "details": &doc.Details, "version": &doc.Version, "description": &doc.Description} {
		var s any
		ok, err := d.Doc.Tag(tag, &s)
		if err != nil {
			return fmt.Errorf("%s:%d: @%s: %w", x.in.Source, d.Doc.Line, tag, err)
		}
		if ok {
			if str, isStr := s.(string); isStr {
				*dst = str
			} else {
				b, _ := json.Marshal(s)
				*dst = string(b)
			}
		}
	}
	if *doc != (packager.Doc{}) {
		x.meta.BpfSkel.Doc = doc
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
