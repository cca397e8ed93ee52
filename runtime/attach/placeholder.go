package attach

import (
	"bufio"
	"os"
	"strings"
	"sync"
)

// placeholderMsg says why a program with a dummy_* target is skipped.
const placeholderMsg = "%s is a placeholder target: the tool's own user space sets the real one before loading " +
	"(bpf_program__set_attach_target), which ecli cannot know; the program is skipped"

// kallsyms is where isPlaceholder looks for kernel functions; tests change it.
var kallsyms = "/proc/kallsyms"

var (
	kernelSymsOnce sync.Once
	kernelSyms     map[string]bool
)

// isPlaceholder reports whether a kernel function target is one of the
// placeholders libbpf-tools compile in and retarget from user space
// (fentry/dummy_fentry, kprobe/dummy_kprobe, ...): a name starting with
// dummy_ that is no kernel function (the kernel has real ones, such as
// dummy_handler). When /proc/kallsyms cannot be read, every dummy_ name
// counts as a placeholder.
func isPlaceholder(fn string) bool {
	if !strings.HasPrefix(fn, "dummy_") {
		return false
	}
	kernelSymsOnce.Do(func() {
		f, err := os.Open(kallsyms)
		if err != nil {
			return
		}
		defer f.Close()
		kernelSyms = map[string]bool{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// ffffffff81304530 t dummy_handler [module]
			f := strings.Fields(sc.Text())
			if len(f) >= 3 && strings.HasPrefix(f[2], "dummy_") {
				kernelSyms[f[2]] = true
			}
		}
	})
	return !kernelSyms[fn]
}
