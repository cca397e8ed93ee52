package attach

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// pseudoFS is a kernel file system that BPF attachment may need.
type pseudoFS struct {
	dir, fstype string
	magic       int64
}

var pseudoFSes = []pseudoFS{
	{"/sys/kernel/tracing", "tracefs", unix.TRACEFS_MAGIC},
	{"/sys/kernel/debug", "debugfs", unix.DEBUGFS_MAGIC},
	{"/sys/fs/bpf", "bpf", unix.BPF_FS_MAGIC},
}

// EnsureFS mounts tracefs on /sys/kernel/tracing, debugfs on
// /sys/kernel/debug and bpffs on /sys/fs/bpf where they are not mounted
// yet (kprobes and uprobes fall back to tracefs on kernels without the
// perf PMUs; pinning needs bpffs). It is idempotent; it returns the
// mounts that failed (e.g. EPERM in a container without CAP_SYS_ADMIN),
// which callers may treat as a warning.
func EnsureFS() error {
	var errs []error
	for _, fs := range pseudoFSes {
		if isMounted(fs.dir, fs.magic) {
			continue
		}
		if err := unix.Mount(fs.fstype, fs.dir, fs.fstype, 0, ""); err != nil {
			errs = append(errs, fmt.Errorf("mount -t %s %s %s: %w", fs.fstype, fs.fstype, fs.dir, err))
		}
	}
	return errors.Join(errs...)
}

func isMounted(dir string, magic int64) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && int64(st.Type) == magic
}

// tracefsDir returns the tracefs mount point, or "".
func tracefsDir() string {
	for _, d := range []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"} {
		if isMounted(d, unix.TRACEFS_MAGIC) {
			return d
		}
	}
	return ""
}

// mountInfo is where CgroupRoot reads the mount table; tests change it.
var mountInfo = "/proc/self/mountinfo"

// CgroupRoot returns where the cgroup v2 hierarchy is mounted (the root
// cgroup seen by this process): /sys/fs/cgroup on unified systems,
// /sys/fs/cgroup/unified on hybrid ones.
func CgroupRoot() (string, error) {
	f, err := os.Open(mountInfo)
	if err != nil {
		return "", fmt.Errorf("find the cgroup v2 mount: %w", err)
	}
	defer f.Close()
	var found []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		// 41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if len(fields) < 5 || len(tail) < 1 || tail[0] != "cgroup2" || fields[3] != "/" {
			continue
		}
		found = append(found, unescapeMount(fields[4]))
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("find the cgroup v2 mount: %s: %w", mountInfo, err)
	}
	if len(found) == 0 {
		return "", errors.New("no cgroup v2 file system is mounted (mount -t cgroup2 none /sys/fs/cgroup)")
	}
	for _, p := range found {
		if p == "/sys/fs/cgroup" {
			return p, nil
		}
	}
	return filepath.Clean(found[0]), nil
}

// unescapeMount undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// TracefsDir returns where tracefs is mounted (/sys/kernel/tracing or
// /sys/kernel/debug/tracing), or "" when it is not.
func TracefsDir() string { return tracefsDir() }
