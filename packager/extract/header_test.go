package extract

import (
	"reflect"
	"strings"
	"testing"
)

func TestHeaderFormats(t *testing.T) {
	src := `#ifndef EV_H
#define EV_H
/* struct fake { /// @format ipv4 in a comment
 int x; }; */
struct event {
	/// @format ipv4
	__u32 src;
	__u32 plain; /* "/// @format ipv6" in a comment */
	/// Destination.
	/// @format ipv6
	__u8 dst[16];

	/// detached by the blank line: not a format
	/// @format hex

	__u32 flags;
	union {
		/// @format hex
		__u32 a4;
		/**
		 * @format "ipv6"
		 */
		__u8 a6[16];
	};
	struct {
		/// @format be
		__u16 port;
	} __attribute__((packed));
	struct { int x; } named;
	char s[4] /* ; */;
	/// @format string
	__u8 name[16], other[16];
	/// @format raw
	unsigned int bits : 3;
};

struct second { /// @format ip
	unsigned __int128 saddr; };
#endif
`
	got, err := HeaderFormats("ev.h", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []MemberFormat{
		{"event", "src", "ipv4", 6},
		{"event", "dst", "ipv6", 9},
		{"event", "a4", "hex", 18},
		{"event", "a6", "ipv6", 20},
		{"event", "port", "be", 26},
		{"event", "name", "string", 31},
		{"event", "other", "string", 31},
		{"event", "bits", "raw", 33},
		{"second", "saddr", "ip", 37},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}

	_, err = HeaderFormats("ev.h", []byte("struct e {\n\t/// @format {\"x\": 1}\n\tint a;\n};\n"))
	if err == nil || !strings.Contains(err.Error(), "ev.h:2: @format of e.a") {
		t.Errorf("bad value: %v", err)
	}
}

func TestHeaderStructsIgnoresComments(t *testing.T) {
	if got := HeaderStructs([]byte("/* struct a { */ // struct b {\n")); len(got) != 0 {
		t.Fatalf("got %v", got)
	}
}
