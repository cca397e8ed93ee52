package packager

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// Validate checks the package: an ELF object and valid metadata.
func (p *Package) Validate() error {
	if len(p.Object) == 0 {
		return invalid("bpf_object is empty")
	}
	if !bytes.HasPrefix(p.Object, elfMagic) {
		return invalid("bpf_object is not an ELF object")
	}
	if len(p.Object) > MaxObjectSize {
		return invalid("bpf_object is larger than %d bytes", MaxObjectSize)
	}
	if err := validateBTF(p.BTF, p.Meta.Arch); err != nil {
		return err
	}
	return p.Meta.Validate()
}

// Validate checks that the metadata is complete and self-consistent.
func (m *Meta) Validate() error {
	s := &m.BpfSkel
	if s.ObjName == "" {
		return invalid(`meta.bpf_skel: missing field "obj_name"`)
	}
	if m.PollTimeoutMs < 0 {
		return invalid("meta.poll_timeout_ms: %d is negative", m.PollTimeoutMs)
	}
	if m.PerfBufferPages < 0 || m.PerfBufferPages&(m.PerfBufferPages-1) != 0 {
		return invalid("meta.perf_buffer_pages: %d is not a power of two", m.PerfBufferPages)
	}
	for i, ds := range s.DataSections {
		if ds.Name == "" {
			return invalid("meta.bpf_skel.data_sections[%d]: missing name", i)
		}
		for j, v := range ds.Variables {
			where := func() string { return ds.Name + "." + v.Name }
			if v.Name == "" {
				return invalid("meta.bpf_skel.data_sections[%d].variables[%d]: missing name", i, j)
			}
			if v.Type == "" {
				return invalid("variable %s: missing type", where())
			}
			if err := checkJSON(v.Value); err != nil {
				return invalid("variable %s: value: %v", where(), err)
			}
			if v.Cmdarg != nil {
				if err := checkJSON(v.Cmdarg.Default); err != nil {
					return invalid("variable %s: cmdarg.default: %v", where(), err)
				}
				if v.Cmdarg.Short != "" && utf8.RuneCountInString(v.Cmdarg.Short) != 1 {
					return invalid("variable %s: cmdarg.short %q must be one character", where(), v.Cmdarg.Short)
				}
			}
		}
	}
	for i, mp := range s.Maps {
		if mp.Name == "" {
			return invalid("meta.bpf_skel.maps[%d]: missing name", i)
		}
		if mp.Ident == "" {
			return invalid("map %s: missing ident", mp.Name)
		}
		if err := checkJSON(mp.ExportConfig); err != nil {
			return invalid("map %s: export_config: %v", mp.Name, err)
		}
		if sm := mp.Sample; sm != nil {
			switch sm.Type {
			case "", SampleLog2Hist, SampleLinearHist, SampleDefaultKV:
			default:
				return invalid("map %s: sample.type %q is not one of log2_hist, linear_hist, default_kv", mp.Name, sm.Type)
			}
			if sm.Interval < 0 {
				return invalid("map %s: sample.interval %d is negative", mp.Name, sm.Interval)
			}
		}
	}
	for i, p := range s.Progs {
		if p.Name == "" {
			return invalid("meta.bpf_skel.progs[%d]: missing name", i)
		}
		if p.Attach == "" {
			return invalid("program %s: missing attach (its SEC name)", p.Name)
		}
	}
	for i, et := range m.ExportTypes {
		if et.Name == "" {
			return invalid("meta.export_types[%d]: missing name", i)
		}
		for j, mb := range et.Members {
			if mb.Type == "" {
				return invalid("export type %s: members[%d]: missing type", et.Name, j)
			}
		}
	}
	return nil
}

func checkJSON(raw json.RawMessage) error {
	if raw == nil {
		return nil
	}
	if !json.Valid(raw) {
		return errNotJSON
	}
	return nil
}

var errNotJSON = errors.New("not valid JSON")
