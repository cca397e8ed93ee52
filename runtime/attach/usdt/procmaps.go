package usdt

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Mapping identifies a mapped file in /proc/PID/maps: its device
// (major, minor) and inode.
type Mapping struct {
	Major, Minor uint32
	Inode        uint64
}

// AbsIP returns the address at which the code at file offset off of the
// file m runs in a process, from the process's /proc/PID/maps. Kernels
// without BPF cookies find a probe's spec by that address.
func AbsIP(maps io.Reader, m Mapping, off uint64) (uint64, error) {
	sc := bufio.NewScanner(maps)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		// 55d0c3e00000-55d0c3e01000 r-xp 00001000 fd:01 1234567   /usr/bin/prog
		f := strings.Fields(sc.Text())
		if len(f) < 5 || !strings.Contains(f[1], "x") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		foff, err3 := strconv.ParseUint(f[2], 16, 64)
		maj, min, ok := strings.Cut(f[3], ":")
		major, err4 := strconv.ParseUint(maj, 16, 32)
		minor, err5 := strconv.ParseUint(min, 16, 32)
		inode, err6 := strconv.ParseUint(f[4], 10, 64)
		if !ok || err1 != nil || err2 != nil || err3 != nil || err4 != nil || err5 != nil || err6 != nil || end < start {
			continue
		}
		if uint32(major) != m.Major || uint32(minor) != m.Minor || inode != m.Inode {
			continue
		}
		if off >= foff && off-foff < end-start {
			return start + (off - foff), nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("file offset %#x is not mapped executable in the process", off)
}
