package attach

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"

	"github.com/ecc-bpf/ecc/runtime/attach/usdt"
)

// The maps of libbpf's <bpf/usdt.bpf.h>. Attach finds them among the maps
// the loaded program uses, by their kernel names (the first 15
// characters), type and sizes.
const (
	usdtSpecsMap = "__bpf_usdt_specs"
	usdtIPMap    = "__bpf_usdt_ip_to_spec_id"
)

// HaveBPFCookie reports whether this kernel passes an attachment's cookie
// to the program (bpf_get_attach_cookie, Linux 5.15+). USDT programs find
// the spec of the probe that fired through it; without it, through the
// probe's address in __bpf_usdt_ip_to_spec_id. The runtime's loader sets
// <bpf/usdt.bpf.h>'s LINUX_HAS_BPF_COOKIE from the same answer.
// ECLI_USDT_NO_COOKIE=1 takes the path of kernels without cookies.
func HaveBPFCookie() bool {
	if os.Getenv("ECLI_USDT_NO_COOKIE") == "1" {
		return false
	}
	return haveCookie()
}

var haveCookie = sync.OnceValue(func() bool {
	return features.HaveProgramHelper(ebpf.Kprobe, asm.FnGetAttachCookie) == nil
})

var haveUprobeMulti = sync.OnceValue(func() bool {
	return features.HaveBPFLinkUprobeMulti() == nil
})

// usdtMulti says whether USDT programs attach through one uprobe_multi
// link each (Linux 6.6+), as libbpf does where it can: a link for all
// sites, removed with one RCU grace period instead of one per site
// (closing 256 single uprobes took 18 s here). Kernels that have it have
// BPF cookies too, which it needs.
func usdtMulti() bool {
	return HaveBPFCookie() && os.Getenv("ECLI_USDT_NO_MULTI") != "1" && haveUprobeMulti()
}

// isUSDTSection reports whether a program is in a usdt or usdt.s section.
func isUSDTSection(section string) bool {
	s, _, _ := strings.Cut(strings.TrimPrefix(section, "?"), "/")
	return s == "usdt" || s == "usdt.s"
}

// PrepareUSDT readies a collection's USDT programs before they load:
// where the kernel has uprobe_multi links, they load with that expected
// attach type, which attaching them needs. (Attach falls back to a uprobe
// per site for programs loaded without it.)
func PrepareUSDT(spec *ebpf.CollectionSpec) {
	for _, p := range spec.Programs {
		if isUSDTSection(p.SectionName) && p.AttachType == 0 && usdtMulti() {
			p.AttachType = ebpf.AttachTraceUprobeMulti
		}
	}
}

var progName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// splitUSDTFlag splits a --usdt value, [PROG=]BINARY:PROVIDER:NAME.
func splitUSDTFlag(v string) (prog, target string) {
	if p, t, ok := strings.Cut(v, "="); ok && progName.MatchString(p) {
		return p, t
	}
	return "", v
}

// parseUSDTTarget parses BINARY:PROVIDER:NAME. The binary may contain
// colons; provider and name cannot.
func parseUSDTTarget(s string) (bin, provider, name string, err error) {
	i := strings.LastIndexByte(s, ':')
	j := -1
	if i > 0 {
		j = strings.LastIndexByte(s[:i], ':')
	}
	if j < 0 {
		return "", "", "", errors.New("want BINARY:PROVIDER:NAME")
	}
	bin, provider, name = s[:j], s[j+1:i], s[i+1:]
	if bin == "" || provider == "" || name == "" {
		return "", "", "", errors.New("want BINARY:PROVIDER:NAME, none of them empty")
	}
	return bin, provider, name, nil
}

// isBareUSDT reports whether a program is a SEC("usdt") (or "usdt.s")
// program that names no probe.
func isBareUSDT(spec *ebpf.ProgramSpec) bool {
	s := strings.TrimPrefix(spec.SectionName, "?")
	return s == "usdt" || s == "usdt.s"
}

// CheckOptions checks the options that concern several programs of a
// collection, before PlanFor plans each: every --usdt PROG=TARGET names a
// bare SEC("usdt") program, once, and a --usdt TARGET without PROG= is
// given only when exactly one such program exists.
func CheckOptions(spec *ebpf.CollectionSpec, o *Options) error {
	if o == nil || len(o.USDT) == 0 {
		return nil
	}
	var bare []string
	for name, p := range spec.Programs {
		if isBareUSDT(p) {
			bare = append(bare, name)
		}
	}
	sort.Strings(bare)
	seen := map[string]bool{}
	for _, v := range o.USDT {
		prog, target := splitUSDTFlag(v)
		if _, _, _, err := parseUSDTTarget(target); err != nil {
			return fmt.Errorf("--usdt %q: %w (e.g. --usdt ./app:myprov:myprobe, or PROG=BINARY:PROVIDER:NAME)", v, err)
		}
		switch {
		case prog == "" && len(bare) == 0:
			return fmt.Errorf("--usdt %q: the package has no SEC(\"usdt\") program without a target", v)
		case prog == "" && len(bare) > 1:
			return fmt.Errorf("--usdt %q names no program, but %d programs take a target (%s): write --usdt PROG=%s",
				v, len(bare), strings.Join(bare, ", "), target)
		case prog != "":
			p := spec.Programs[prog]
			if p == nil {
				return fmt.Errorf("--usdt %q: the package has no program %s (bare SEC(\"usdt\") programs: %s)", v, prog, orNone(bare))
			}
			if !isBareUSDT(p) {
				return fmt.Errorf("--usdt %q: program %s is SEC(%q), not a SEC(\"usdt\") program without a target", v, prog, p.SectionName)
			}
		}
		key := prog
		if key == "" {
			key = bare[0]
		}
		if seen[key] {
			return fmt.Errorf("--usdt %q: program %s already has a target", v, key)
		}
		seen[key] = true
	}
	return nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// usdtTarget returns the --usdt target for a bare usdt program: the one
// naming it, else the one naming no program.
func (o *Options) usdtTarget(prog string) (string, bool) {
	unnamed := ""
	for _, v := range o.USDT {
		p, t := splitUSDTFlag(v)
		if p == prog {
			return t, true
		}
		if p == "" && unnamed == "" {
			unnamed = t
		}
	}
	return unnamed, unnamed != ""
}

// planUSDT fills a USDT plan: the binary, the probe and its sites.
// planUSDT fills p for a usdt program. Problems of a target the section
// names (a binary not installed, a probe it does not have) skip the
// program (skip true), as for uprobes; those of --pid or --usdt are the
// user's to fix.
func planUSDT(p *Plan, extra string, opts *Options) (skip bool, err error) {
	if opts.PID < 0 {
		return false, fmt.Errorf("bad --pid %d", opts.PID)
	}
	target, from := extra, "section"
	if target == "" {
		t, ok := opts.usdtTarget(p.Program)
		if !ok {
			// Attach says what to pass; the other programs run.
			return false, nil
		}
		target, from = t, "--usdt"
	}
	fromSection := from == "section"
	bin, provider, name, err := parseUSDTTarget(target)
	if err != nil {
		return false, fmt.Errorf("%s target %q: %w", from, target, err)
	}
	path, err := ResolveBinary(bin)
	if err != nil {
		return fromSection, fmt.Errorf("%s target %q: %w", from, target, err)
	}
	f, err := usdt.Open(path)
	if err != nil {
		return fromSection, fmt.Errorf("usdt %s:%s in %s: %w", provider, name, path, err)
	}
	if f.GOARCH != runtime.GOARCH {
		return fromSection, fmt.Errorf("usdt %s:%s in %s: the binary is for %s, this machine is %s", provider, name, path, f.GOARCH, runtime.GOARCH)
	}
	sites, err := f.Sites(provider, name)
	if err != nil {
		return fromSection, fmt.Errorf("usdt %s:%s in %s: %w (readelf -n %s lists its probes)", provider, name, path, err, path)
	}
	p.Binary, p.Group, p.Name, p.Sites, p.PID = path, provider, name, sites, opts.PID
	p.usdtFile = f
	return false, nil
}

func usdtString(p *Plan) string {
	if p.Binary == "" {
		return "usdt, no probe given (--usdt)"
	}
	s := fmt.Sprintf("usdt %s:%s:%s", p.Binary, p.Group, p.Name)
	switch n := len(p.Sites); n {
	case 0:
	case 1:
		s += " (1 site)"
	default:
		s += fmt.Sprintf(" (%d sites)", n)
	}
	if p.PID != 0 {
		s += fmt.Sprintf(" pid %d", p.PID)
	}
	return s
}
