package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/tetratelabs/wazero/api"

	"github.com/ecc-bpf/ecc/internal/bpfobj"
	"github.com/ecc-bpf/ecc/internal/termsafe"
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
	// The guest decides what it loads: say what, before the kernel sees it.
	h.logf("%s: load BPF object: programs %s; maps %s", termsafe.Line(h.name), termsafe.List(slices.Sorted(maps.Keys(spec.Programs)), 16), termsafe.List(slices.Sorted(maps.Keys(spec.Maps)), 16))
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
		for _, n := range slices.Sorted(maps.Keys(obj.spec.Programs)) {
			if obj.spec.Programs[n].SectionName == name {
				name, ps = n, obj.spec.Programs[n]
				break
			}
		}
	}
	if ps == nil {
		have := strings.Join(slices.Sorted(maps.Keys(obj.spec.Programs)), ", ")
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
	plan, note, err := h.plan(ps, target)
	if err != nil {
		h.logf("%s: %s", termsafe.Line(h.name), termsafe.Line(err.Error()))
		if errors.Is(err, errRootCgroup) {
			return -ePERM
		}
		return -eINVAL
	}
	if plan.Kind == attach.Manual {
		h.logf("%s: program %s (%s) is not attached automatically: %s", termsafe.Line(h.name), termsafe.Line(name), termsafe.Line(plan.Section), termsafe.Line(plan.Reason))
		return -eNOTSUP
	}
	h.logf("%s: %s%s", termsafe.Line(h.name), plan.Line(), note)
	l, err := attach.Attach(prog, plan)
	if err != nil {
		h.logf("%s: %s", termsafe.Line(h.name), termsafe.Text(loader.Explain(err, h.o.Verbose).Error()))
		return errno(err, eINVAL)
	}
	obj.links = append(obj.links, l)
	h.debugf("attached %s: %s", termsafe.Line(name), termsafe.Line(l.String()))
	return 0
}

// errRootCgroup: a guest asked for the root cgroup, which only the user
// can choose.
var errRootCgroup = errors.New("only --cgroup attaches to the root cgroup")

// plan plans the program ps for a guest that asked for target ("" for
// NULL). The user's flags win: --ifname over an interface the guest names,
// --cgroup over its cgroup, --usdt over its probe; note then tells what the
// guest asked for. Without them the guest's target is used, but for the
// root cgroup (every process), which needs the user's --cgroup.
func (h *host) plan(ps *ebpf.ProgramSpec, target string) (plan *attach.Plan, note string, err error) {
	user := h.o.Attach
	opts := user
	if target != "" {
		// PlanFor reads only the one that applies to the section.
		if opts.IfName == "" {
			opts.IfName = target
		}
		if opts.Cgroup == "" {
			opts.Cgroup = target
		}
		if len(opts.USDT) == 0 {
			opts.USDT = []string{target}
		}
	}
	plan, err = attach.PlanFor(ps, &opts)
	if err != nil || target == "" {
		return plan, "", err
	}
	asked := termsafe.Line(target)
	switch plan.Kind {
	case attach.XDP, attach.TC, attach.TCX, attach.SocketFilter:
		if user.IfName != "" && user.IfName != target {
			note = fmt.Sprintf(" (--ifname; the program asked for %s)", asked)
		}
	case attach.Cgroup:
		if user.Cgroup != "" {
			if user.Cgroup != target {
				note = fmt.Sprintf(" (--cgroup; the program asked for %s)", asked)
			}
		} else if root, ok := isCgroupRoot(target); ok {
			return nil, "", fmt.Errorf("program %s (SEC(%q)): the Wasm program asks to attach it to the root cgroup %s, every process on the machine: %w; pass --cgroup %s to allow it, or --cgroup PATH for another cgroup",
				termsafe.Line(ps.Name), ps.SectionName, asked, errRootCgroup, root)
		}
	case attach.USDT:
		if len(user.USDT) > 0 {
			note = fmt.Sprintf(" (--usdt; the program asked for %s)", asked)
		}
	}
	return plan, note, nil
}

// isCgroupRoot reports whether dir is the root of the cgroup v2 hierarchy,
// and returns that root.
func isCgroupRoot(dir string) (string, bool) {
	root, err := attach.CgroupRoot()
	if err != nil {
		return "", false
	}
	a, errA := os.Stat(dir)
	b, errB := os.Stat(root)
	if errA != nil || errB != nil {
		return root, filepath.Clean(dir) == root
	}
	return root, os.SameFile(a, b)
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
