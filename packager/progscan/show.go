package progscan

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// ResultMapType reports the map types that can hold results a runtime
// shows: hashes and arrays, LRU and per-CPU ones included.
func ResultMapType(t ebpf.MapType) bool {
	switch t {
	case ebpf.Hash, ebpf.Array, ebpf.PerCPUHash, ebpf.PerCPUArray, ebpf.LRUHash, ebpf.LRUCPUHash:
		return true
	}
	return false
}

// IsHistogram reports whether values of type t are a histogram in
// libbpf-tools' shape: a struct with an integer array member named slots.
func IsHistogram(t btf.Type) bool {
	st, ok := btf.UnderlyingType(t).(*btf.Struct)
	if !ok {
		return false
	}
	for _, m := range st.Members {
		if m.Name != "slots" {
			continue
		}
		if a, ok := btf.UnderlyingType(m.Type).(*btf.Array); ok {
			if it, ok := btf.UnderlyingType(a.Type).(*btf.Int); ok && (it.Size == 4 || it.Size == 8) {
				return true
			}
		}
	}
	return false
}

// Shows says what a runtime shows of map name without being asked
// (@sample aside): "log2 histogram per key", "table", or "" with the
// role that keeps it hidden.
func Shows(spec *ebpf.CollectionSpec, res *Result, name string) (string, Role) {
	ms := spec.Maps[name]
	if ms == nil || !ResultMapType(ms.Type) || isLoaderMap(name) {
		return "", RoleOther
	}
	role := res.Maps[name].Role()
	if role != RoleResult {
		return "", role
	}
	if IsHistogram(ms.Value) {
		return "log2 histogram per key", role
	}
	return "table", role
}

// isLoaderMap reports maps that loaders own (libbpf's USDT support).
func isLoaderMap(name string) bool {
	return len(name) > 11 && name[:11] == "__bpf_usdt_"
}
