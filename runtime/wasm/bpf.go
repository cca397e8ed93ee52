package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/ecc-bpf/ecc/internal/bpfobj"
	"github.com/ecc-bpf/ecc/runtime/attach"
	"github.com/ecc-bpf/ecc/runtime/loader"
)

// wasm_load_bpf_object(obj_buf i32, obj_buf_sz i32) -> i64
func (h *host) loadObject(ctx context.Context, mod api.Module, stack []uint64) {
	h.exitIfStopped(ctx)
	p, n := ptr(stack, 0), i32(stack, 1)
	stack[0] = 0
	if n <= 0 || n > maxObjectSz {
		h.logf("%s: wasm_load_bpf_object: bad object size %d", h.name, n)
		return
	}
	b, ok := view(mod.Memory(), p, uint32(n))
	if !ok {
		h.logf("%s: wasm_load_bpf_object: the object [%#x, %#x) is outside the guest's memory", h.name, p, uint64(p)+uint64(n))
		return
	}
	id, err := h.load(bytes.Clone(b))
	h.exitIfStopped(ctx) // the object, if any, is closed with the others
	if err != nil {
		h.logf("%s: %v", h.name, err)
		return
	}
	stack[0] = id
}

// load creates the maps and programs of an ELF object and returns its
// handle. When the whole collection does not load, programs are loaded one
// by one against shared maps, so that those the kernel refuses (e.g.
// fentry where only kprobe works) are skipped like ecli run skips them;
// attaching one of those later returns its load error.
func (h *host) load(elf []byte) (uint64, error) {
	if h.isStopped() {
		return 0, errors.New("load BPF object: the run is stopping")
	}
	spec, err := bpfobj.LoadSpec(elf)
	if err != nil {
		return 0, fmt.Errorf("read BPF object: %w", err)
	}
	h.setup()
	obj := &object{spec: spec, failed: map[string]error{}, buffers: map[int]source{}}
	c, err := loader.Load(spec, &loader.Options{Object: elf, Verbose: h.o.Verbose})
	if err != nil {
		return 0, fmt.Errorf("load BPF object: %w", err)
	}
	obj.progs, obj.maps = c.Programs, c.Maps
	obj.closers = append(obj.closers, c.Close)
	for _, f := range c.Failed {
		obj.failed[f.Program] = f.Err
		h.logf("warning: skipping %v", f)
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		for i := len(obj.closers) - 1; i >= 0; i-- {
			obj.closers[i]()
		}
		return 0, errors.New("load BPF object: the run is stopping")
	}
	h.nextID++
	obj.id = h.nextID
	h.objects[obj.id] = obj
	for _, m := range obj.maps {
		h.maps[m.FD()] = &mapRef{m: m, obj: obj}
	}
	h.debugf("loaded BPF object %d: %d programs, %d maps", obj.id, len(obj.progs), len(obj.maps))
	return obj.id, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// wasm_attach_bpf_program(obj i64, name i32, target i32) -> i32
func (h *host) attachProgram(ctx context.Context, mod api.Module, stack []uint64) {
	h.exitIfStopped(ctx)
	id, namePtr, targetPtr := stack[0], ptr(stack, 1), ptr(stack, 2)
	obj := h.object(id)
	if obj == nil {
		ret(stack, -eINVAL)
		return
	}
	name, e := cString(mod.Memory(), namePtr)
	if e != 0 {
		ret(stack, -e)
		return
	}
	target := ""
	if targetPtr != 0 {
		if target, e = cString(mod.Memory(), targetPtr); e != 0 {
			ret(stack, -e)
			return
		}
	}
	ret(stack, h.attach(obj, name, target))
}

// attach attaches the program name of obj the way ecli run does, by its
// section. target, when not empty, is the interface (xdp, tc, socket),
// the cgroup (cgroup programs, sockops) or the BINARY:PROVIDER:NAME probe
// (bare SEC("usdt") programs) to attach to.
func (h *host) attach(obj *object, name, target string) int32 {
	ps := obj.spec.Programs[name]
	if ps == nil {
		// Also accept the section name, e.g. "tp/sched/sched_process_exec".
		for _, n := range sortedKeys(obj.spec.Programs) {
			if obj.spec.Programs[n].SectionName == name {
				name, ps = n, obj.spec.Programs[n]
				break
			}
		}
	}
	if ps == nil {
		have := strings.Join(sortedKeys(obj.spec.Programs), ", ")
		if have == "" {
			have = "none"
		}
		h.logf("%s: wasm_attach_bpf_program: the object has no program %q (it has %s)", h.name, name, have)
		return -eNOENT
	}
	if err := obj.failed[name]; err != nil {
		h.logf("%s: attach program %s: it did not load: %v", h.name, name, err)
		return errno(err, eINVAL)
	}
	prog := obj.progs[name]
	if prog == nil {
		return -eNOENT
	}
	opts := h.o.Attach
	if target != "" {
		// PlanFor reads only the one that applies to the section.
		opts.IfName, opts.Cgroup = target, target
		opts.USDT = []string{target}
	}
	plan, err := attach.PlanFor(ps, &opts)
	if err != nil {
		h.logf("%s: %v", h.name, err)
		return -eINVAL
	}
	if plan.Kind == attach.Manual {
		h.logf("%s: program %s (%s) is not attached automatically: %s", h.name, name, plan.Section, plan.Reason)
		return -eNOTSUP
	}
	l, err := attach.Attach(prog, plan)
	if err != nil {
		h.logf("%s: %v", h.name, loader.Explain(err, h.o.Verbose))
		return errno(err, eINVAL)
	}
	obj.links = append(obj.links, l)
	h.debugf("attached %s: %s", name, l)
	return 0
}

// wasm_bpf_map_fd_by_name(obj i64, name i32) -> i32
func (h *host) mapFDByName(_ context.Context, mod api.Module, stack []uint64) {
	obj := h.object(stack[0])
	if obj == nil {
		ret(stack, -eINVAL)
		return
	}
	name, e := cString(mod.Memory(), ptr(stack, 1))
	if e != 0 {
		ret(stack, -e)
		return
	}
	m := obj.maps[name]
	if m == nil {
		// libbpf names data sections OBJ.rodata, cilium/ebpf .rodata.
		if i := strings.IndexByte(name, '.'); i > 0 {
			m = obj.maps[name[i:]]
		}
	}
	if m == nil {
		h.debugf("%s: wasm_bpf_map_fd_by_name: no map %q", h.name, name)
		ret(stack, -eNOENT)
		return
	}
	ret(stack, int32(m.FD()))
}

// wasm_close_bpf_object(obj i64) -> i32
func (h *host) closeObject(_ context.Context, _ api.Module, stack []uint64) {
	obj := h.object(stack[0])
	if obj == nil {
		ret(stack, -eINVAL)
		return
	}
	if err := h.release(obj); err != nil {
		h.logf("%s: %v", h.name, err)
		ret(stack, errno(err, eINVAL))
		return
	}
	ret(stack, 0)
}
