// Package wasm runs Wasm user-space programs that embed a BPF object and
// drive it through the wasm-bpf host ABI (eunomia-bpf's convention), on
// wazero: `ecli run app.wasm`.
//
// A guest is a WASI preview 1 command: C built with clang
// --target=wasm32-wasi (link with -Wl,--export-table to use callbacks),
// or Go built with GOOS=wasip1 GOARCH=wasm. Run gives it argv, environment,
// stdout/stderr, clocks, sleep and randomness (no files, no stdin), and the
// host functions below in the import module "wasm_bpf" (also in "env" when
// the guest imports them from there, as older wasm-bpf guests do).
//
// # ABI
//
// All pointers are offsets in the guest's memory (wasm32). Functions that
// return i32 return 0 (or a count) on success and a negative errno on
// failure:
//
//	-EFAULT      a pointer, or pointer+size, outside the guest's memory, or NULL where one is needed
//	-EINVAL      a malformed argument: unknown object handle, size ≤ 0, unknown map command,
//	             string longer than 4096 bytes, bad callback table index, map not a buffer
//	-EBADF       an fd that is not a map of one of the guest's live objects
//	-ENOENT      no such program or map; map_operate: no such key, or the last key
//	-EOPNOTSUPP  the kernel cannot load or attach this program, or it is never attached automatically
//	-EBUSY       wasm_bpf_buffer_poll called from a poll callback
//	-EINTR       the run is stopping (rarely seen: when ctx is done the host ends the guest
//	             inside the call instead of returning)
//	other        the kernel's errno (bpf(2), attach), negated
//
// The functions:
//
//	wasm_load_bpf_object(obj_buf i32, obj_buf_sz i32) -> i64
//	    Loads the BPF ELF object at [obj_buf, obj_buf+obj_buf_sz) (copied
//	    first) with cilium/ebpf. Returns a handle ≥ 1, or 0 on error with
//	    the reason on stderr ("ecli: ..."). Programs the kernel refuses are
//	    skipped with a warning when others load, as in ecli run. Every
//	    load is told on stderr first, with the object's programs and maps:
//	    "ecli: app.wasm: load BPF object: programs handle_exec; maps rb".
//	wasm_attach_bpf_program(obj i64, name i32, target i32) -> i32
//	    Attaches the program named by the C string name (its function
//	    name, or its section name) by its section, exactly as ecli run does
//	    (package runtime/attach), and says so on stderr first, as ecli run
//	    does: "ecli: app.wasm: xdp_pass → xdp on lo". target is NULL or a
//	    C string: the interface for xdp/tc/tcx/socket programs, the cgroup
//	    directory for cgroup and sockops programs, the BINARY:PROVIDER:NAME
//	    of a bare usdt program, ignored otherwise. The user's choice wins:
//	    with --ifname (--cgroup, --usdt) the guest's target is ignored (the
//	    line says "(--ifname; the program asked for eth0)"); without it the
//	    guest's target is used, but for the root cgroup, which only the
//	    user's --cgroup can choose (-EPERM). Cgroup programs with neither
//	    get -EINVAL, as ecli run refuses them without --cgroup. Uprobes
//	    take --uprobe/--pid, perf_event programs --freq.
//	wasm_bpf_map_fd_by_name(obj i64, name i32) -> i32
//	    The fd of the map name (".rodata" may also be spelled
//	    "OBJ.rodata"), or -ENOENT.
//	wasm_bpf_buffer_poll(obj i64, fd i32, sample_func i32, ctx i32, data i32, max_size i32, timeout_ms i32) -> i32
//	    fd is a ring buffer or perf event array map of obj; its reader
//	    opens at the first poll. Waits up to timeout_ms (< 0: until a
//	    record comes or the run stops; 0: does not wait) for a record.
//	    Each record is copied, cut to max_size bytes, to data, then:
//	      sample_func != 0 (callback mode, C guests): calls
//	        int cb(void *ctx, void *data, size_t size) — the function at
//	        index sample_func of the guest's exported
//	        __indirect_function_table — with size the bytes copied; then
//	        delivers what else is already in the buffer (up to 65536
//	        records) without waiting. Returns 0, or the first non-zero
//	        value a callback returned (which stops the poll; later
//	        records stay in the buffer). A trap in the callback, or
//	        exit() from it, ends the run.
//	      sample_func == 0 (pull mode, for Go guests, which cannot take a
//	        table index; index 0 is the null function in C tables):
//	        copies ONE record and returns its length in bytes (> 0, at
//	        most max_size), or 0 when timeout_ms passed without one (an
//	        empty record also reads as 0).
//	    Perf buffers: 64 pages per CPU; lost-sample notices are skipped.
//	wasm_bpf_map_operate(fd i32, cmd i32, key i32, value i32, next_key i32, flags i64) -> i32
//	    cmd 1 lookup (value ← map[key]), 2 update (map[key] ← value,
//	    flags BPF_ANY/NOEXIST/EXIST/F_LOCK), 3 delete, 4 get_next_key
//	    (next_key ← the key after key; key NULL: the first key). Keys are
//	    the map's key_size bytes, values its value_size bytes — for per-CPU
//	    maps round_up(value_size, 8) × the number of possible CPUs. fd must
//	    be a map of one of the guest's objects.
//	wasm_close_bpf_object(obj i64) -> i32
//	    Detaches the object's programs and closes its readers, maps and
//	    programs; the handle and its fds become invalid.
//
// # Go guests
//
// Go declares the imports with //go:wasmimport wasm_bpf NAME, pointers as
// unsafe.Pointer (or uint32), the handle as uint64, and polls in pull mode:
//
//	//go:wasmimport wasm_bpf wasm_bpf_buffer_poll
//	func bufferPoll(obj uint64, fd, sampleFunc int32, ctx uint32, data unsafe.Pointer, maxSize, timeoutMS int32) int32
//
//	for {
//		n := bufferPoll(obj, fd, 0, 0, unsafe.Pointer(&buf[0]), int32(len(buf)), 100)
//		if n > 0 { handle(buf[:n]) } else if n < 0 { /* -errno */ }
//	}
//
// # Safety and limits
//
// Every pointer and size from the guest is checked against its memory (and
// map sizes) before use; guest data is copied through host buffers, the
// guest never sees host memory, and a bad call returns an error code, after
// which the host keeps working. Guest memory is capped by
// Options.MemoryLimitPages. When ctx is done wazero closes the guest (its
// code checks at every function call and loop), a blocked poll is woken,
// and Run returns nil. An import the host does not provide is an error
// before the guest starts ("app.wasm imports env.foo, which ecli does not
// provide"), as is one with another type.
//
// Callbacks: wazero has no API to call by table index, so Run links a
// trampoline module, assembled at run time, that imports the guest's
// __indirect_function_table and does the call_indirect after checking the
// index is inside the table and not null; a function of another type is
// refused too (wazero's table.LookupFunction checks the type as
// call_indirect would): each -EINVAL, before a record is taken. One trampoline
// call delivers a poll's whole batch, fetching each record from the host,
// so a record costs about as much as a host call, not a host → Wasm call.
//
// Compiled code is cached on disk (Options.CacheDir), so later runs of the
// same module skip compilation.
package wasm
