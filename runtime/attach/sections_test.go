package attach

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

// TestPlanCasesMatchCilium compiles one program per section form of
// planCases with clang and checks that cilium/ebpf's ELF reader gives the
// spec that the unit tests build by hand (Type, AttachType, AttachTo), and
// that PlanFor plans the real spec the same way. It needs clang, not BPF.
func TestPlanCasesMatchCilium(t *testing.T) {
	clang := testenv.Clang(t)
	cases := planCases(t)

	var src strings.Builder
	src.WriteString("#define SEC(n) __attribute__((section(n), used))\n")
	src.WriteString("char LICENSE[] SEC(\"license\") = \"GPL\";\n")
	for i, c := range cases {
		fmt.Fprintf(&src, "SEC(%q) int prog%d(void *ctx) { return %d; }\n", c.sec, i, i)
	}
	dir := t.TempDir()
	cfile, obj := filepath.Join(dir, "sections.bpf.c"), filepath.Join(dir, "sections.bpf.o")
	if err := os.WriteFile(cfile, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(clang, "-g", "-O2", "-target", "bpf", "-c", cfile, "-o", obj).CombinedOutput()
	if err != nil {
		t.Fatalf("clang: %v\n%s", err, out)
	}
	coll, err := ebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatalf("load collection spec: %v", err)
	}

	for i, c := range cases {
		name := fmt.Sprintf("prog%d", i)
		real := coll.Programs[name]
		if real == nil {
			t.Errorf("%s (%q): not in the object", name, c.sec)
			continue
		}
		hand := specFor(i, c)
		if c.typ == ebpf.UnspecifiedProgram {
			// Unknown sections: cilium/ebpf does not know them either.
			if real.Type != ebpf.UnspecifiedProgram {
				t.Errorf("%q: cilium/ebpf knows it as %v, the test says unknown", c.sec, real.Type)
			}
			continue
		}
		if real.SectionName != hand.SectionName || real.Type != hand.Type || real.AttachType != hand.AttachType || real.AttachTo != hand.AttachTo {
			t.Errorf("%q: cilium/ebpf makes {Type %v, AttachType %v, AttachTo %q}, the unit test builds {%v, %v, %q}",
				c.sec, real.Type, real.AttachType, real.AttachTo, hand.Type, hand.AttachType, hand.AttachTo)
		}
		opts1, opts2 := c.opts, c.opts
		p1, err1 := PlanFor(real, &opts1)
		p2, err2 := PlanFor(hand, &opts2)
		if fmt.Sprint(err1) != fmt.Sprint(err2) || !reflect.DeepEqual(p1, p2) {
			t.Errorf("%q: PlanFor differs:\n real %+v, %v\n hand %+v, %v", c.sec, p1, err1, p2, err2)
		}
	}
}
