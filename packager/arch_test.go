package packager

import (
	"errors"
	"runtime"
	"testing"
)

func TestCheckArch(t *testing.T) {
	host := HostArch()
	if OCIArch(host) != runtime.GOARCH {
		t.Fatalf("HostArch %q is not GOARCH %q", host, runtime.GOARCH)
	}
	other := "arm64"
	if host == other {
		other = "x86_64"
	}
	m := func(arch string) *Meta {
		var m Meta
		m.Arch = arch
		m.BpfSkel.ObjName = "probe_bpf"
		return &m
	}
	// No arch (eunomia's packages) and this machine's run.
	for _, arch := range []string{"", host, runtime.GOARCH} {
		if err := CheckArch(m(arch)); err != nil {
			t.Errorf("CheckArch(%q) = %v", arch, err)
		}
	}
	for _, arch := range []string{other, "mips64", "x86"} {
		err := CheckArch(m(arch))
		var ae *ArchError
		if !errors.Is(err, ErrArch) || !errors.As(err, &ae) || ae.Arch != arch || ae.Host != host {
			t.Errorf("CheckArch(%q) = %#v", arch, err)
			continue
		}
		if want := "package probe was built for " + arch + "; this machine is " + host; err.Error() != want {
			t.Errorf("CheckArch(%q) = %q, want %q", arch, err, want)
		}
	}
}
