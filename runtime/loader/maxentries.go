package loader

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
)

// DefaultMaxEntries is the size PrepareMaps gives hash and array maps
// (and their LRU and per-CPU variants) that declare max_entries 0, leaving
// it to user space, as libbpf-tools do (their user space calls
// bpf_map__set_max_entries). 10240 is what most libbpf-tools use.
const DefaultMaxEntries = 10240

// unsizedTypes are the map types whose max_entries 0 means "set by user
// space" and that --max-entries N sizes.
var unsizedTypes = map[ebpf.MapType]bool{
	ebpf.Hash: true, ebpf.Array: true, ebpf.PerCPUHash: true, ebpf.PerCPUArray: true,
	ebpf.LRUHash: true, ebpf.LRUCPUHash: true, ebpf.LPMTrie: true,
	ebpf.HashOfMaps: true, ebpf.ArrayOfMaps: true,
	ebpf.StackTrace: true,
}

// MapSizes are the --max-entries values: a size for every unsized map,
// and sizes for maps by name.
type MapSizes struct {
	// Default sizes hash/array-family and stack-trace maps that declare
	// max_entries 0 (0: DefaultMaxEntries for hash and array maps, 16384
	// for stack traces).
	Default uint32
	// ByName sizes one map, whatever it declares.
	ByName map[string]uint32
}

// ParseMaxEntries parses --max-entries values: N (every map that leaves
// its size to user space) or MAP=N (that map).
func ParseMaxEntries(values []string) (MapSizes, error) {
	var s MapSizes
	for _, v := range values {
		name, num, named := strings.Cut(v, "=")
		if !named {
			num = v
		}
		n, err := strconv.ParseUint(strings.TrimSpace(num), 0, 32)
		if err != nil || n == 0 {
			return s, fmt.Errorf("--max-entries %q: want N or MAP=N with N a positive number", v)
		}
		if !named {
			if s.Default != 0 && s.Default != uint32(n) {
				return s, fmt.Errorf("--max-entries %q: a size for every map is already given (%d)", v, s.Default)
			}
			s.Default = uint32(n)
			continue
		}
		if name == "" {
			return s, fmt.Errorf("--max-entries %q: no map name before '='", v)
		}
		if s.ByName == nil {
			s.ByName = map[string]uint32{}
		}
		s.ByName[name] = uint32(n)
	}
	return s, nil
}

// SizeMaps applies sizes to spec's maps; run it before PrepareMaps, which
// sizes what is left. A MAP= naming no map of the object is an error that
// lists them.
func SizeMaps(spec *ebpf.CollectionSpec, sizes MapSizes) error {
	for name, n := range sizes.ByName {
		m := spec.Maps[name]
		if m == nil {
			return fmt.Errorf("--max-entries %s=%d: the object has no map %s (it has %s)", name, n, name, strings.Join(sortedMaps(spec), ", "))
		}
		if m.Type == ebpf.PerfEventArray {
			return fmt.Errorf("--max-entries %s=%d: %s is a perf event array, sized by the number of CPUs", name, n, name)
		}
		m.MaxEntries = n
	}
	if sizes.Default != 0 {
		for _, m := range spec.Maps {
			if m.MaxEntries == 0 && unsizedTypes[m.Type] {
				m.MaxEntries = sizes.Default
			}
		}
	}
	return nil
}

func sortedMaps(spec *ebpf.CollectionSpec) []string {
	names := make([]string, 0, len(spec.Maps))
	for n := range spec.Maps {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
