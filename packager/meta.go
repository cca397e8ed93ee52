package packager

import "encoding/json"

// Meta is the metadata of a package: the "meta" object of package.json and the
// whole of NAME.skel.json. Field names and shapes follow eunomia-bpf's
// EunomiaObjectMeta so packages move both ways; fields eunomia does not know are
// marked as ecc extensions and are ignored by it.
type Meta struct {
	ExportTypes []ExportType `json:"export_types"`
	BpfSkel     Skeleton     `json:"bpf_skel"`

	EunomiaVersion   string `json:"eunomia_version"`
	PerfBufferPages  int    `json:"perf_buffer_pages"`
	PerfBufferTimeMs int    `json:"perf_buffer_time_ms"`
	PollTimeoutMs    int    `json:"poll_timeout_ms"`
	DebugVerbose     bool   `json:"debug_verbose"`
	PrintHeader      bool   `json:"print_header"`
	// EnableMultipleExportTypes makes runtimes use each map's ExportConfig
	// instead of ExportTypes[0] (eunomia's switch, same meaning).
	EnableMultipleExportTypes bool `json:"enable_multiple_export_types,omitempty"`

	// ecc extension: the architecture the object was built for, as the
	// kernel names it (x86_64, arm64, ...); empty in eunomia's packages.
	Arch string `json:"arch,omitempty"`
}

// Defaults used when a field is absent or zero.
const (
	DefaultPollTimeoutMs    = 100
	DefaultPerfBufferPages  = 64
	DefaultPerfBufferTimeMs = 10
	// EunomiaVersion is the eunomia-bpf package version whose schema we write.
	EunomiaVersion = "0.3.4"
)

// Skeleton describes the BPF object: its globals, maps and programs.
type Skeleton struct {
	ObjName      string        `json:"obj_name"`
	Doc          *Doc          `json:"doc,omitempty"`
	DataSections []DataSection `json:"data_sections"`
	Maps         []Map         `json:"maps"`
	Progs        []Prog        `json:"progs"`
}

// Doc is the program's documentation, from the doc comment above LICENSE.
type Doc struct {
	Version     string `json:"version,omitempty"`
	Brief       string `json:"brief,omitempty"`
	Details     string `json:"details,omitempty"`
	Description string `json:"description,omitempty"`
}

// DataSection is one of .rodata, .data, .bss (or a named .data.x/.rodata.x).
type DataSection struct {
	Name      string     `json:"name"`
	Variables []Variable `json:"variables"`
}

// Variable is a global variable in a data section.
type Variable struct {
	Name string `json:"name"`
	// Type is the C spelling of the type, as written in the source
	// (typedef names kept): "int", "pid_t", "char[16]", "struct event *".
	Type string `json:"type"`
	// Value is the initial value from the object, as JSON (numbers, bools,
	// strings for char arrays, arrays, objects). Absent when all zero.
	Value       json.RawMessage `json:"value,omitempty"`
	Description string          `json:"description,omitempty"`
	Cmdarg      *Cmdarg         `json:"cmdarg,omitempty"`

	// ecc extensions.
	Size   uint32 `json:"size,omitempty"`
	Offset uint32 `json:"offset,omitempty"`
}

// Cmdarg customises the command-line flag generated for a variable.
type Cmdarg struct {
	Default json.RawMessage `json:"default,omitempty"`
	Long    string          `json:"long,omitempty"`
	Short   string          `json:"short,omitempty"`
	Help    string          `json:"help,omitempty"`
}

// Map describes a BPF map, including the internal maps of data sections.
type Map struct {
	Name   string `json:"name"`
	Ident  string `json:"ident"`
	Mmaped bool   `json:"mmaped,omitempty"`
	// Sample makes a runtime print the map's contents every interval.
	Sample       *Sample         `json:"sample,omitempty"`
	ExportConfig json.RawMessage `json:"export_config,omitempty"`
	Description  string          `json:"description,omitempty"`

	// ecc extensions: what the object declares.
	Type       string `json:"type,omitempty"`
	KeyType    string `json:"key_type,omitempty"`
	ValueType  string `json:"value_type,omitempty"`
	KeySize    uint32 `json:"key_size,omitempty"`
	ValueSize  uint32 `json:"value_size,omitempty"`
	MaxEntries uint32 `json:"max_entries,omitempty"`
	// ExportType names the struct events in this ring buffer or perf array
	// carry: bound with ECC_EXPORT, else the export struct the programs
	// submit by size, else the outermost one.
	ExportType string `json:"export_type,omitempty"`
	// ExportTypeReason says why ecc chose ExportType when the source did
	// not bind it ("programs submit 24 bytes, sizeof(struct event)").
	ExportTypeReason string `json:"export_type_reason,omitempty"`
}

// Sample types understood by runtimes.
const (
	SampleLog2Hist   = "log2_hist"
	SampleLinearHist = "linear_hist"
	SampleDefaultKV  = "default_kv"
)

// Sample says how to print a map periodically.
type Sample struct {
	Interval int    `json:"interval"`
	Type     string `json:"type"`
	Unit     string `json:"unit,omitempty"`
	ClearMap bool   `json:"clear_map,omitempty"`
}

// Prog describes a BPF program.
type Prog struct {
	Name string `json:"name"`
	// Attach is the full SEC() string, e.g. "tp/sched/sched_process_exec".
	Attach      string `json:"attach"`
	Link        bool   `json:"link"`
	Description string `json:"description,omitempty"`

	// ecc extensions: as cilium/ebpf reads them from the section name.
	ProgType   string `json:"prog_type,omitempty"`
	AttachType string `json:"attach_type,omitempty"`
}

// ExportType is a struct that programs send to user space.
type ExportType struct {
	Name    string         `json:"name"`
	TypeID  uint32         `json:"type_id"`
	Size    uint32         `json:"size"`
	Members []ExportMember `json:"members"`
}

// ExportMember is a member of an exported struct.
type ExportMember struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// ecc extensions.
	Offset   uint32 `json:"offset,omitempty"`
	Size     uint32 `json:"size,omitempty"`
	BitField uint8  `json:"bitfield_size,omitempty"`
	// Format is how runtimes print the member, from an `@format` doc
	// comment above it in the export header: ipv4, ipv6, ip, be, string,
	// hex or raw (see decode.Format).
	Format string `json:"format,omitempty"`
	// Members lists the members of an anonymous struct or union member
	// (Name ""), which C code reaches as members of the struct itself.
	Members []ExportMember `json:"members,omitempty"`
}

// FillDefaults sets the runtime tunables that are zero to their defaults and
// turns null lists into empty ones.
func (m *Meta) FillDefaults() {
	if m.PollTimeoutMs == 0 {
		m.PollTimeoutMs = DefaultPollTimeoutMs
	}
	if m.PerfBufferPages == 0 {
		m.PerfBufferPages = DefaultPerfBufferPages
	}
	if m.PerfBufferTimeMs == 0 {
		m.PerfBufferTimeMs = DefaultPerfBufferTimeMs
	}
	if m.EunomiaVersion == "" {
		m.EunomiaVersion = EunomiaVersion
	}
	if m.ExportTypes == nil {
		m.ExportTypes = []ExportType{}
	}
	s := &m.BpfSkel
	if s.DataSections == nil {
		s.DataSections = []DataSection{}
	}
	if s.Maps == nil {
		s.Maps = []Map{}
	}
	if s.Progs == nil {
		s.Progs = []Prog{}
	}
	for i := range s.DataSections {
		if s.DataSections[i].Variables == nil {
			s.DataSections[i].Variables = []Variable{}
		}
	}
	for i := range m.ExportTypes {
		if m.ExportTypes[i].Members == nil {
			m.ExportTypes[i].Members = []ExportMember{}
		}
	}
}

// Map returns the map with the given name, or nil.
func (s *Skeleton) Map(name string) *Map {
	for i := range s.Maps {
		if s.Maps[i].Name == name {
			return &s.Maps[i]
		}
	}
	return nil
}

// ExportType returns the export type with the given name, or nil.
func (m *Meta) ExportType(name string) *ExportType {
	for i := range m.ExportTypes {
		if m.ExportTypes[i].Name == name {
			return &m.ExportTypes[i]
		}
	}
	return nil
}
