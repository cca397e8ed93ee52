package packager_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"maps"
	"slices"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/ecc-bpf/ecc/packager"
)

// meta is the metadata of a small tracer: one setting, one ring buffer,
// one program.
func meta() packager.Meta {
	var m packager.Meta
	m.BpfSkel.ObjName = "hello_bpf"
	m.BpfSkel.DataSections = []packager.DataSection{{Name: ".rodata", Variables: []packager.Variable{{
		Name: "targ_pid", Type: "int", Value: json.RawMessage("0"),
		Description: "Trace only this process id",
		Cmdarg:      &packager.Cmdarg{Default: json.RawMessage("0"), Long: "pid", Short: "p"},
	}}}}
	m.BpfSkel.Maps = []packager.Map{{Name: "events", Ident: "events"}}
	m.BpfSkel.Progs = []packager.Prog{{Name: "handle_exec", Attach: "tp/sched/sched_process_exec", Link: true}}
	return m
}

// A package.json is eunomia-bpf's: the object as base64(zlib(ELF)), its
// size, and the metadata, with the defaults filled in.
func ExamplePackage_Marshal() {
	p := &packager.Package{Object: []byte("\x7fELF, a BPF object"), Meta: meta()}
	data, err := p.Marshal()
	if err != nil {
		log.Fatal(err)
	}
	var wire map[string]json.RawMessage
	if err := json.Unmarshal(data, &wire); err != nil {
		log.Fatal(err)
	}
	fmt.Println(slices.Sorted(maps.Keys(wire)), "bpf_object_size:", string(wire["bpf_object_size"]))

	back, err := packager.Unmarshal(data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", back.Object)
	fmt.Println(back.Meta.BpfSkel.ObjName, back.Meta.PollTimeoutMs, back.Meta.PerfBufferPages, back.Meta.EunomiaVersion)
	// Output:
	// [bpf_object bpf_object_size meta] bpf_object_size: 18
	// "\x7fELF, a BPF object"
	// hello_bpf 100 64 0.3.4
}

// Unmarshal reads eunomia-bpf's packages; every malformed one is an error
// wrapping ErrInvalid that names the field at fault.
func ExampleUnmarshal() {
	p, err := packager.Unmarshal([]byte(`{
		"bpf_object": "eJyrd/VxY2JkZIABABPuAVs=",
		"bpf_object_size": 16,
		"meta": {"bpf_skel": {"obj_name": "minimal_bpf", "maps": null, "progs": null}}
	}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Meta.BpfSkel.ObjName, len(p.Object), p.Meta.PerfBufferPages)

	// A NAME.skel.json is the metadata alone.
	_, err = packager.Unmarshal([]byte(`{"bpf_skel": {"obj_name": "minimal_bpf"}}`))
	fmt.Println(errors.Is(err, packager.ErrInvalid), strings.Contains(err.Error(), `"bpf_object"`))
	// Output:
	// minimal_bpf 16 64
	// true true
}

// MarshalMeta writes NAME.skel.json: the metadata as ecc build extracts it.
func ExampleMarshalMeta() {
	m := meta()
	data, err := packager.MarshalMeta(&m)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(data))
	// Output:
	// {
	//   "export_types": [],
	//   "bpf_skel": {
	//     "obj_name": "hello_bpf",
	//     "data_sections": [
	//       {
	//         "name": ".rodata",
	//         "variables": [
	//           {
	//             "name": "targ_pid",
	//             "type": "int",
	//             "value": 0,
	//             "description": "Trace only this process id",
	//             "cmdarg": {
	//               "default": 0,
	//               "long": "pid",
	//               "short": "p"
	//             }
	//           }
	//         ]
	//       }
	//     ],
	//     "maps": [
	//       {
	//         "name": "events",
	//         "ident": "events"
	//       }
	//     ],
	//     "progs": [
	//       {
	//         "name": "handle_exec",
	//         "attach": "tp/sched/sched_process_exec",
	//         "link": true
	//       }
	//     ]
	//   },
	//   "eunomia_version": "0.3.4",
	//   "perf_buffer_pages": 64,
	//   "perf_buffer_time_ms": 10,
	//   "poll_timeout_ms": 100,
	//   "debug_verbose": false,
	//   "print_header": false
	// }
}

// Validate checks that metadata is complete and self-consistent.
func ExampleMeta_Validate() {
	m := meta()
	fmt.Println(m.Validate())
	m.BpfSkel.Maps[0].Sample = &packager.Sample{Interval: 1000, Type: "histogram"}
	err := m.Validate()
	fmt.Println(errors.Is(err, packager.ErrInvalid))
	fmt.Println(err)
	// Output:
	// <nil>
	// true
	// invalid package: map events: sample.type "histogram" is not one of log2_hist, linear_hist, default_kv
}

// CheckSpec checks metadata against the object it describes (here a spec
// written out; ecli reads it from the package's object): a program must
// be in the section its attach field names.
func ExampleCheckSpec() {
	m := meta()
	spec := &ebpf.CollectionSpec{
		Programs: map[string]*ebpf.ProgramSpec{"handle_exec": {Name: "handle_exec", SectionName: "cgroup_skb/egress"}},
		Maps:     map[string]*ebpf.MapSpec{"events": {Name: "events"}},
	}
	err := packager.CheckSpec(&m, spec)
	var mismatch *packager.MismatchError
	if errors.As(err, &mismatch) {
		fmt.Println(mismatch.Kind, mismatch.Name, errors.Is(err, packager.ErrMismatch))
	}
	fmt.Println(err)

	spec.Programs["handle_exec"].SectionName = "tp/sched/sched_process_exec"
	fmt.Println(packager.CheckSpec(&m, spec))
	// Output:
	// program handle_exec true
	// package.json says program handle_exec is SEC("tp/sched/sched_process_exec") but the object has it in SEC("cgroup_skb/egress")
	// <nil>
}
