package runtime

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/ecc-bpf/ecc/decode"
	"github.com/ecc-bpf/ecc/packager"
)

// decodeOptions builds the options that decode a package's events: the
// program's byte order and the @format of its export types' members
// (export_types[].members[].format, members of anonymous structs and
// unions under members[].members). A format this ecli does not know is
// left out with a warning on w.
func decodeOptions(m *packager.Meta, order binary.ByteOrder, w io.Writer) *decode.Options {
	o := &decode.Options{ByteOrder: order}
	var add func(st string, members []packager.ExportMember)
	add = func(st string, members []packager.ExportMember) {
		for _, mb := range members {
			add(st, mb.Members)
			if mb.Format == "" {
				continue
			}
			f, err := decode.ParseFormat(mb.Format)
			if err != nil {
				fmt.Fprintf(w, "ecli: warning: struct %s member %s: %v; it prints as its type says (is ecli older than the ecc that built the package?)\n", st, mb.Name, err)
				continue
			}
			if o.Formats == nil {
				o.Formats = map[string]map[string]decode.Format{}
			}
			if o.Formats[st] == nil {
				o.Formats[st] = map[string]decode.Format{}
			}
			o.Formats[st][mb.Name] = f
		}
	}
	for _, et := range m.ExportTypes {
		add(et.Name, et.Members)
	}
	return o
}
