package hist

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

// golden joins lines, each followed by a newline.
func golden(lines ...string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

func TestLog2(t *testing.T) {
	many := make([]uint64, 12)
	many[3], many[5], many[6], many[9] = 1, 300, 1200, 7

	tests := []struct {
		name  string
		unit  string
		slots []uint64
		want  string
	}{
		{"nil", "usecs", nil, ""},
		{"all zero", "usecs", make([]uint64, 27), ""},
		{"example", "usecs", []uint64{12, 104, 33, 0, 0}, golden(
			"     usecs               : count    distribution",
			"         0 -> 1          : 12       |****                                    |",
			"         2 -> 3          : 104      |****************************************|",
			"         4 -> 7          : 33       |************                            |",
		)},
		{"single bucket", "nsecs", []uint64{0, 0, 0, 5, 0}, golden(
			"     nsecs               : count    distribution",
			"         0 -> 1          : 0        |                                        |",
			"         2 -> 3          : 0        |                                        |",
			"         4 -> 7          : 0        |                                        |",
			"         8 -> 15         : 5        |****************************************|",
		)},
		{"slot zero only", "msecs", []uint64{1}, golden(
			"     msecs               : count    distribution",
			"         0 -> 1          : 1        |****************************************|",
		)},
		{"many", "usecs", many, golden(
			"     usecs               : count    distribution",
			"         0 -> 1          : 0        |                                        |",
			"         2 -> 3          : 0        |                                        |",
			"         4 -> 7          : 0        |                                        |",
			"         8 -> 15         : 1        |                                        |",
			"        16 -> 31         : 0        |                                        |",
			"        32 -> 63         : 300      |**********                              |",
			"        64 -> 127        : 1200     |****************************************|",
			"       128 -> 255        : 0        |                                        |",
			"       256 -> 511        : 0        |                                        |",
			"       512 -> 1023       : 7        |                                        |",
		)},
		{"empty unit", "", []uint64{2}, golden(
			"     value               : count    distribution",
			"         0 -> 1          : 2        |****************************************|",
		)},
		{"long unit", "microseconds per request", []uint64{1, 2}, golden(
			"microseconds per request : count    distribution",
			"         0 -> 1          : 1        |********************                    |",
			"         2 -> 3          : 2        |****************************************|",
		)},
		{"longer unit", "microseconds per request!!", []uint64{1, 2}, golden(
			"microseconds per request!! : count    distribution",
			"           0 -> 1          : 1        |********************                    |",
			"           2 -> 3          : 2        |****************************************|",
		)},
		{"huge counts", "usecs", []uint64{1 << 33, 3, 1 << 32}, golden(
			"     usecs               : count      distribution",
			"         0 -> 1          : 8589934592 |****************************************|",
			"         2 -> 3          : 3          |                                        |",
			"         4 -> 7          : 4294967296 |********************                    |",
		)},
		{"max count", "usecs", []uint64{math.MaxUint64, math.MaxUint64 / 2}, golden(
			"     usecs               : count                distribution",
			"         0 -> 1          : 18446744073709551615 |****************************************|",
			"         2 -> 3          : 9223372036854775807  |*******************                     |",
		)},
		{"last narrow slot", "ns", append(make([]uint64, 32), 1), golden(
			"     ns                  : count    distribution",
			"         0 -> 1          : 0        |                                        |",
			"         2 -> 3          : 0        |                                        |",
			"         4 -> 7          : 0        |                                        |",
			"         8 -> 15         : 0        |                                        |",
			"        16 -> 31         : 0        |                                        |",
			"        32 -> 63         : 0        |                                        |",
			"        64 -> 127        : 0        |                                        |",
			"       128 -> 255        : 0        |                                        |",
			"       256 -> 511        : 0        |                                        |",
			"       512 -> 1023       : 0        |                                        |",
			"      1024 -> 2047       : 0        |                                        |",
			"      2048 -> 4095       : 0        |                                        |",
			"      4096 -> 8191       : 0        |                                        |",
			"      8192 -> 16383      : 0        |                                        |",
			"     16384 -> 32767      : 0        |                                        |",
			"     32768 -> 65535      : 0        |                                        |",
			"     65536 -> 131071     : 0        |                                        |",
			"    131072 -> 262143     : 0        |                                        |",
			"    262144 -> 524287     : 0        |                                        |",
			"    524288 -> 1048575    : 0        |                                        |",
			"   1048576 -> 2097151    : 0        |                                        |",
			"   2097152 -> 4194303    : 0        |                                        |",
			"   4194304 -> 8388607    : 0        |                                        |",
			"   8388608 -> 16777215   : 0        |                                        |",
			"  16777216 -> 33554431   : 0        |                                        |",
			"  33554432 -> 67108863   : 0        |                                        |",
			"  67108864 -> 134217727  : 0        |                                        |",
			" 134217728 -> 268435455  : 0        |                                        |",
			" 268435456 -> 536870911  : 0        |                                        |",
			" 536870912 -> 1073741823 : 0        |                                        |",
			"1073741824 -> 2147483647 : 0        |                                        |",
			"2147483648 -> 4294967295 : 0        |                                        |",
			"4294967296 -> 8589934591 : 1        |****************************************|",
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Log2(&buf, tt.unit, tt.slots); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestLog2Wide checks the wide layout, used from slot 33 (values ≥ 2^33),
// and the bounds of the last slot.
func TestLog2Wide(t *testing.T) {
	slots := make([]uint64, 70) // slots past 63 are ignored
	slots[0], slots[33], slots[63], slots[64] = 4, 2, 1, 99
	got := string(AppendLog2(nil, "bytes", slots))
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 65 {
		t.Fatalf("got %d lines, want 65:\n%s", len(lines), got)
	}
	want := map[int]string{
		0:  "               bytes                         : count    distribution",
		1:  "                   0 -> 1                    : 4        |********************|",
		2:  "                   2 -> 3                    : 0        |                    |",
		34: "          8589934592 -> 17179869183          : 2        |**********          |",
		64: " 9223372036854775808 -> 18446744073709551615 : 1        |*****               |",
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("line %d:\ngot  %q\nwant %q", i, lines[i], w)
		}
	}
	for i, l := range lines {
		if len(l) != len(lines[1]) && i > 0 {
			t.Errorf("line %d has length %d, want %d: %q", i, len(l), len(lines[1]), l)
		}
	}
}

func TestLinear(t *testing.T) {
	tests := []struct {
		name       string
		unit       string
		base, step uint64
		slots      []uint64
		want       string
	}{
		{"empty", "msecs", 0, 10, []uint64{0, 0}, ""},
		{"step 10", "msecs", 0, 10, []uint64{0, 3, 0, 7, 1, 0}, golden(
			"     msecs               : count    distribution",
			"        10 -> 19         : 3        |*****************                       |",
			"        20 -> 29         : 0        |                                        |",
			"        30 -> 39         : 7        |****************************************|",
			"        40 -> 49         : 1        |*****                                   |",
		)},
		{"base and step 1", "pid", 100, 1, []uint64{0, 3, 0, 7, 1, 0}, golden(
			"       pid : count    distribution",
			"       101 : 3        |*****************                       |",
			"       102 : 0        |                                        |",
			"       103 : 7        |****************************************|",
			"       104 : 1        |*****                                   |",
		)},
		{"step 0 is 1", "", 0, 0, []uint64{2, 1}, golden(
			"     value : count    distribution",
			"         0 : 2        |****************************************|",
			"         1 : 1        |********************                    |",
		)},
		{"single bucket", "kbytes", 5, 5, []uint64{0, 0, 9}, golden(
			"     kbytes              : count    distribution",
			"        15 -> 19         : 9        |****************************************|",
		)},
		{"wide", "ns", 1 << 40, 1 << 40, []uint64{1, 1 << 32}, golden(
			"               ns                            : count      distribution",
			"       1099511627776 -> 2199023255551        : 1          |                    |",
			"       2199023255552 -> 3298534883327        : 4294967296 |********************|",
		)},
		{"saturated", "v", math.MaxUint64 - 5, 4, []uint64{1, 1, 1}, golden(
			"               v                             : count    distribution",
			"18446744073709551610 -> 18446744073709551613 : 1        |********************|",
			"18446744073709551614 -> 18446744073709551615 : 1        |********************|",
			"18446744073709551615 -> 18446744073709551615 : 1        |********************|",
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Linear(&buf, tt.unit, tt.base, tt.step, tt.slots); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"log2", AppendLog2JSON(nil, "usecs", []uint64{12, 104, 33, 0}),
			`{"unit":"usecs","buckets":[{"low":0,"high":1,"count":12},{"low":2,"high":3,"count":104},{"low":4,"high":7,"count":33}]}`},
		{"log2 empty", AppendLog2JSON(nil, "usecs", nil), `{"unit":"usecs","buckets":[]}`},
		{"log2 huge", AppendLog2JSON(nil, "", append(make([]uint64, 63), math.MaxUint64)),
			`{"unit":"","buckets":[{"low":0,"high":1,"count":0},`},
		{"linear", AppendLinearJSON(nil, "msecs", 0, 10, []uint64{0, 3, 0, 7}),
			`{"unit":"msecs","buckets":[{"low":10,"high":19,"count":3},{"low":20,"high":29,"count":0},{"low":30,"high":39,"count":7}]}`},
		{"linear empty", AppendLinearJSON(nil, "msecs", 0, 10, []uint64{0}), `{"unit":"msecs","buckets":[]}`},
		{"escaped unit", AppendLog2JSON(nil, "a\"b\\c\n\x01\xff€", []uint64{1}),
			`{"unit":"a\"b\\c\n\u0001\ufffd€","buckets":[{"low":0,"high":1,"count":1}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !json.Valid(tt.got) {
				t.Fatalf("invalid JSON: %s", tt.got)
			}
			if !strings.HasPrefix(string(tt.got), tt.want) {
				t.Errorf("got  %s\nwant %s", tt.got, tt.want)
			}
		})
	}

	// The JSON forms agree with the Histogram values and decode into them.
	slots := []uint64{0, 5, 0, 1 << 40}
	h := Log2Histogram("usecs", slots)
	viaMarshal, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if direct := AppendLog2JSON(nil, "usecs", slots); !bytes.Equal(viaMarshal, direct) {
		t.Errorf("json.Marshal: %s\nAppendLog2JSON: %s", viaMarshal, direct)
	}
	var back Histogram
	if err := json.Unmarshal(viaMarshal, &back); err != nil {
		t.Fatal(err)
	}
	if back.Unit != "usecs" || len(back.Buckets) != 4 || back.Buckets[3] != (Bucket{8, 15, 1 << 40}) {
		t.Errorf("decoded %+v", back)
	}
	lh := LinearHistogram("x", 1, 2, []uint64{0, 4})
	if len(lh.Buckets) != 1 || lh.Buckets[0] != (Bucket{3, 4, 4}) {
		t.Errorf("LinearHistogram: %+v", lh)
	}
	if got := string(Histogram{Unit: "u"}.AppendJSON(nil)); got != `{"unit":"u","buckets":[]}` {
		t.Errorf("nil buckets: %s", got)
	}
	if got := LinearHistogram("x", 0, 1, nil); got.Buckets == nil {
		t.Error("empty histogram has nil Buckets (marshals as null)")
	}
}

func TestKV(t *testing.T) {
	header := []string{"pid", "comm", "count"}
	tests := []struct {
		name   string
		header []string
		rows   [][]string
		sorted bool
		want   string
	}{
		{"sorted by count", header, [][]string{
			{"1", "systemd", "5"},
			{"12345", "bash", "100"},
			{"7", "x", "0x10"},
			{"22", "kworker/0:1", "-3"},
			{"8", "tie", "5"},
		}, true, golden(
			"  pid  comm         count",
			"12345  bash           100",
			"    7  x             0x10",
			"    1  systemd          5",
			"    8  tie              5",
			"   22  kworker/0:1     -3",
		)},
		{"table keeps order", header, [][]string{
			{"1", "systemd", "5"},
			{"12345", "bash", "100"},
		}, false, golden(
			"  pid  comm     count",
			"    1  systemd      5",
			"12345  bash       100",
		)},
		{"missing value: no sorting", header, [][]string{
			{"1", "systemd", "5"},
			{"7", "x"},
			{"12345", "bash", "100"},
		}, true, golden(
			"  pid  comm     count",
			"    1  systemd      5",
			"    7  x",
			"12345  bash       100",
		)},
		{"text value: left-aligned, no sorting", []string{"key", "value"}, [][]string{
			{"a", "zz"},
			{"bb", "12"},
			{"c", ""},
		}, true, golden(
			"key  value",
			"a    zz",
			"bb   12",
			"c",
		)},
		{"floats and big numbers", []string{"k", "v"}, [][]string{
			{"a", "1.5"},
			{"b", "18446744073709551615"},
			{"c", "1e30"},
			{"d", "-2.5e-3"},
			{"e", "18446744073709551614"},
		}, true, golden(
			"k                     v",
			"c                  1e30",
			"b  18446744073709551615",
			"e  18446744073709551614",
			"a                   1.5",
			"d               -2.5e-3",
		)},
		{"no header", nil, [][]string{{"x", "1"}, {"yy", "22"}}, true, golden(
			"yy  22",
			"x    1",
		)},
		{"header only", header, nil, true, golden("pid  comm  count")},
		{"nothing", nil, nil, true, ""},
		{"extra cells", []string{"k"}, [][]string{{"a", "b", "3"}, {"ccc", "d", "4"}}, true, golden(
			"k",
			"ccc  d  4",
			"a    b  3",
		)},
		{"utf-8 widths", []string{"name", "n"}, [][]string{{"héllo", "1"}, {"ab", "10"}}, true, golden(
			"name    n",
			"ab     10",
			"héllo   1",
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before [][]string
			for _, r := range tt.rows {
				before = append(before, append([]string(nil), r...))
			}
			var buf bytes.Buffer
			var err error
			if tt.sorted {
				err = KV(&buf, tt.header, tt.rows)
			} else {
				err = Table(&buf, tt.header, tt.rows)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
			for i := range before {
				if strings.Join(before[i], "\x00") != strings.Join(tt.rows[i], "\x00") {
					t.Errorf("row %d modified: %q, was %q", i, tt.rows[i], before[i])
				}
			}
		})
	}
}

func TestIsNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"0": true, "-12": true, "+3": true, "1.5": true, ".5": true, "1.": true,
		"1e9": true, "1E-9": true, "0x1F": true, "-0xff": true,
		"": false, "-": false, ".": false, "0x": false, "0xg": false, "1e": false,
		"inf": false, "NaN": false, "1_000": false, "12 ms": false, "1.2.3": false,
	} {
		if got := isNumber(s); got != want {
			t.Errorf("isNumber(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestCompareNumbers(t *testing.T) {
	ordered := []string{"-1e300", "-18446744073709551615", "-5", "-0x3", "-2.5", "0", "-0", "0.5", "1", "0x10", "17", "18446744073709551615", "0x1ffffffffffffffff", "1e300"}
	for i := range ordered {
		for j := range ordered {
			a, b := parseNumber(ordered[i]), parseNumber(ordered[j])
			got := compareNumbers(a, b)
			want := 0
			switch {
			case ordered[i] == "-0" && ordered[j] == "0", ordered[i] == "0" && ordered[j] == "-0":
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			if got != want {
				t.Errorf("compare(%s, %s) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
}

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("boom") }

func TestWriteError(t *testing.T) {
	if err := Log2(errWriter{}, "x", []uint64{1}); err == nil {
		t.Error("Log2: no error")
	}
	if err := Linear(errWriter{}, "x", 0, 1, []uint64{1}); err == nil {
		t.Error("Linear: no error")
	}
	if err := KV(errWriter{}, []string{"a"}, nil); err == nil {
		t.Error("KV: no error")
	}
	if err := Log2(errWriter{}, "x", nil); err != nil {
		t.Errorf("empty Log2 wrote: %v", err)
	}
}

func TestAllocs(t *testing.T) {
	slots := make([]uint64, 27)
	for i := range slots {
		slots[i] = uint64(i * i)
	}
	header := []string{"pid", "comm", "count"}
	rows := [][]string{{"1", "a", "3"}, {"2", "b", "x"}}
	buf := make([]byte, 0, 1<<16)
	for name, f := range map[string]func(){
		"AppendLog2":        func() { buf = AppendLog2(buf[:0], "usecs", slots) },
		"AppendLinear":      func() { buf = AppendLinear(buf[:0], "usecs", 0, 10, slots) },
		"AppendLog2JSON":    func() { buf = AppendLog2JSON(buf[:0], "usecs", slots) },
		"AppendLinearJSON":  func() { buf = AppendLinearJSON(buf[:0], "usecs", 0, 10, slots) },
		"AppendTable":       func() { buf = AppendTable(buf[:0], header, rows) },
		"AppendKV unsorted": func() { buf = AppendKV(buf[:0], header, rows) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", name, n)
		}
	}
}

func BenchmarkAppendLog2(b *testing.B) {
	slots := make([]uint64, 27)
	for i := range slots {
		slots[i] = uint64(i * 1000)
	}
	var buf []byte
	for b.Loop() {
		buf = AppendLog2(buf[:0], "usecs", slots)
	}
}

func TestKVWide(t *testing.T) {
	var header []string
	var row []string
	for i := range 20 {
		header = append(header, "c"+strings.Repeat("x", i))
		row = append(row, strings.Repeat("y", 70-i))
	}
	got := string(AppendTable(nil, header, [][]string{row, {"1"}}))
	lines := strings.Split(got, "\n")
	if len(lines) != 4 || lines[3] != "" {
		t.Fatalf("got %d lines:\n%s", len(lines), got)
	}
	if !strings.HasPrefix(lines[0], "c"+strings.Repeat(" ", 69)+"  cx"+strings.Repeat(" ", 67)+"  cxx ") {
		t.Errorf("header: %q", lines[0][:150])
	}
	if lines[2] != "1" {
		t.Errorf("short row: %q", lines[2])
	}
}

func TestLinearOverflow(t *testing.T) {
	slots := make([]uint64, 3)
	slots[2] = 1
	h := LinearHistogram("", 0, math.MaxUint64/2+1, slots)
	if len(h.Buckets) != 1 || h.Buckets[0] != (Bucket{math.MaxUint64, math.MaxUint64, 1}) {
		t.Errorf("%+v", h.Buckets)
	}
}
