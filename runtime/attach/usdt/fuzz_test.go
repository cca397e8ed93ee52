package usdt

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"testing"
)

// Argument strings never panic, and what parses stays within the limits
// the BPF side relies on.
func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{
		"-4@%eax 8@-8(%rbp)", "-4@$5", "8@%rax", "-8@counter+8(%rip)", "1@$-56", "8@(%rdi)",
		"-4@x0 8@[sp, 8]", "8@[x1]", "-4@5", "2@#7", "", "4@(%rax", "8@[sp, ]",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	lookup := func(s string) (uint64, bool) { return uint64(len(s)) * 8, len(s) < 6 }
	f.Fuzz(func(t *testing.T, spec string, x86 bool) {
		arch := "arm64"
		if x86 {
			arch = "amd64"
		}
		args, err := ParseArgs(arch, spec, 0x1000, lookup)
		if err != nil {
			return
		}
		if len(args) > MaxArgs {
			t.Fatalf("%d args", len(args))
		}
		for _, a := range args {
			if a.Type > ArgRegDeref || a.RegOff < 0 || a.RegOff > 256 || a.RegOff%8 != 0 {
				t.Fatalf("%q: bad arg %+v", spec, a)
			}
			if s := a.Size(); s != 1 && s != 2 && s != 4 && s != 8 {
				t.Fatalf("%q: size %d", spec, s)
			}
		}
		if _, err := (&Spec{Args: args}).MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	})
}

// note builds one ELF note.
func note(name string, typ uint32, desc []byte) []byte {
	var b bytes.Buffer
	n := append([]byte(name), 0)
	binary.Write(&b, binary.LittleEndian, [3]uint32{uint32(len(n)), uint32(len(desc)), typ})
	b.Write(n)
	b.Write(make([]byte, int(align4(uint64(len(n))))-len(n)))
	b.Write(desc)
	b.Write(make([]byte, int(align4(uint64(len(desc))))-len(desc)))
	return b.Bytes()
}

func sdtDesc(pc, base, sem uint64, strs ...string) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, [3]uint64{pc, base, sem})
	for _, s := range strs {
		b.WriteString(s)
		b.WriteByte(0)
	}
	return b.Bytes()
}

func TestParseNotes(t *testing.T) {
	data := append(note("stapsdt", 3, sdtDesc(0x1054, 0x2004, 0, "ecc", "tick", "-4@%eax -8@%rdx")),
		note("GNU", 3, []byte{1, 2, 3, 4})...)
	data = append(data, note("stapsdt", 3, sdtDesc(0x1180, 0x2004, 0x4018, "ecc", "sem", "-4@%edi"))...)
	notes, err := parseNotes(data, binary.LittleEndian, 8)
	if err != nil {
		t.Fatal(err)
	}
	want := []Note{
		{Provider: "ecc", Name: "tick", Args: "-4@%eax -8@%rdx", PC: 0x1054, Base: 0x2004},
		{Provider: "ecc", Name: "sem", Args: "-4@%edi", PC: 0x1180, Base: 0x2004, Semaphore: 0x4018},
	}
	if len(notes) != 2 || notes[0] != want[0] || notes[1] != want[1] {
		t.Errorf("got %+v", notes)
	}
	for name, bad := range map[string][]byte{
		"truncated header": data[:8],
		"overrun":          note("stapsdt", 3, sdtDesc(1, 2, 3, "a", "b", "c"))[:30],
		"unterminated":     note("stapsdt", 3, sdtDesc(1, 2, 3, "a", "b")[:26]),
		"short desc":       note("stapsdt", 3, []byte{1, 2, 3}),
		"no name":          note("stapsdt", 3, sdtDesc(1, 2, 3, "a", "", "")),
	} {
		if _, err := parseNotes(bad, binary.LittleEndian, 8); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseNotes(f *testing.F) {
	f.Add(note("stapsdt", 3, sdtDesc(0x1054, 0x2004, 0, "ecc", "tick", "-4@%eax -8@%rdx")), true)
	f.Add(note("stapsdt", 3, sdtDesc(1, 2, 3, "a", "b")), false)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, data []byte, wide bool) {
		size := 4
		if wide {
			size = 8
		}
		notes, err := parseNotes(data, binary.LittleEndian, size)
		if err != nil {
			return
		}
		if len(notes)*12 > len(data) {
			t.Fatalf("%d notes from %d bytes", len(notes), len(data))
		}
		for _, n := range notes {
			if n.Provider == "" || n.Name == "" || len(n.Args) > maxString {
				t.Fatalf("bad note %+v", n)
			}
		}
	})
}

// Whole binaries: reading notes and sites never panics.
func FuzzNewFile(f *testing.F) {
	// A real USDT binary when gcc and <sys/sdt.h> are here: a tiny one,
	// as the fuzzer minimises new inputs slowly (make fuzz passes
	// -fuzzminimizetime).
	for _, kind := range []string{"tiny"} {
		if p, err := buildFixture(kind); err == nil {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	// A minimal ELF64 header.
	hdr := make([]byte, 64)
	copy(hdr, "\x7fELF\x02\x01\x01")
	binary.LittleEndian.PutUint16(hdr[16:], uint16(elf.ET_DYN))
	binary.LittleEndian.PutUint16(hdr[18:], uint16(elf.EM_X86_64))
	f.Add(hdr)
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := newFile(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, p := range file.Notes {
			file.Sites(p.Provider, p.Name)
		}
	})
}
