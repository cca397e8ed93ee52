package compiler

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/compiler/vmlinux"
	"github.com/ecc-bpf/ecc/internal/testenv"
)

// A vmlinux.h cached by an older ecc (before kfunc declarations) is not
// reused: headers are keyed by the generator's format version too.
func TestVmlinuxHeaderVersioned(t *testing.T) {
	testenv.BPFBuild(t)
	data, err := os.ReadFile(DefaultBTF)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "kernel.btf")
	os.WriteFile(p, data, 0o644)
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	cache := t.TempDir()
	// Where ecc before format version 2 kept it.
	old := filepath.Join(cache, "vmlinux", digest[:16])
	os.MkdirAll(old, 0o755)
	os.WriteFile(filepath.Join(old, "vmlinux.h"), []byte("/* old header */\n"), 0o644)

	bi, err := VmlinuxHeader(p, cache)
	if err != nil {
		t.Fatal(err)
	}
	if bi.dir == old || !strings.HasSuffix(bi.dir, "-v"+vmlinux.FormatVersion) {
		t.Fatalf("header folder %s", bi.dir)
	}
	h, err := os.ReadFile(filepath.Join(bi.dir, "vmlinux.h"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(h), "#ifndef BPF_NO_KFUNC_PROTOTYPES") {
		t.Error("the header lacks the kfunc block")
	}
}
