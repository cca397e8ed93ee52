package packager

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ecc-bpf/ecc/internal/atomicfile"
)

// MaxObjectSize caps the inflated size of an embedded BPF object. Real objects
// are kilobytes to a few megabytes; the cap stops zip bombs.
const MaxObjectSize = 64 << 20

// MaxPackageSize caps the size of a package.json read from anywhere.
const MaxPackageSize = 4*MaxObjectSize/3 + 16<<20

// ErrInvalid is wrapped by every error about a malformed package.
var ErrInvalid = errors.New("invalid package")

// Package is a BPF object with the metadata a generic runtime needs.
type Package struct {
	// Object is the BPF ELF object, uncompressed.
	Object []byte
	Meta   Meta
	// BTF is the kernels' BTF the package carries for kernels without
	// their own (package.json's "btf", an ecc extension; the BTF layer
	// on a registry).
	BTF []KernelBTF
}

// wire is package.json as stored: the object base64(zlib(ELF)).
type wire struct {
	BpfObject     *string          `json:"bpf_object"`
	BpfObjectSize *int64           `json:"bpf_object_size"`
	Meta          *json.RawMessage `json:"meta"`
	BTF           []btfWire        `json:"btf,omitempty"`
}

var elfMagic = []byte("\x7fELF")

// Marshal encodes p as package.json: eunomia's layout, zlib-compressed object.
func (p *Package) Marshal() ([]byte, error) {
	return p.MarshalLevel(zlib.DefaultCompression)
}

// MarshalLevel is Marshal with the object compressed at a zlib level
// (zlib.HuffmanOnly is the fastest that still compresses).
func (p *Package) MarshalLevel(level int) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	z, err := deflate(p.Object, level)
	if err != nil {
		return nil, err
	}
	obj := base64.StdEncoding.EncodeToString(z)
	bw, err := marshalBTF(p.BTF, level)
	if err != nil {
		return nil, err
	}
	size := int64(len(p.Object))
	meta := p.Meta
	meta.FillDefaults()
	mb, err := json.Marshal(&meta)
	if err != nil {
		return nil, err
	}
	raw := json.RawMessage(mb)
	out, err := json.MarshalIndent(wire{BpfObject: &obj, BpfObjectSize: &size, Meta: &raw, BTF: bw}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Unmarshal decodes package.json. Every way it can be malformed gives an error
// wrapping ErrInvalid that names the field at fault.
func Unmarshal(data []byte) (*Package, error) {
	var w wire
	if err := strictJSON(data, &w); err != nil {
		return nil, err
	}
	switch {
	case w.BpfObject == nil:
		return nil, invalid(`missing field "bpf_object" (is this a skel.json? ecli needs package.json)`)
	case w.BpfObjectSize == nil:
		return nil, invalid(`missing field "bpf_object_size"`)
	case w.Meta == nil || string(*w.Meta) == "null":
		return nil, invalid(`missing field "meta"`)
	}
	size := *w.BpfObjectSize
	if size <= 0 || size > MaxObjectSize {
		return nil, invalid("bpf_object_size %d is out of range (1..%d)", size, MaxObjectSize)
	}
	obj, err := inflate(*w.BpfObject, size)
	if err != nil {
		return nil, err
	}
	meta, err := UnmarshalMeta(*w.Meta)
	if err != nil {
		return nil, err
	}
	kbtf, err := unmarshalBTF(w.BTF)
	if err != nil {
		return nil, err
	}
	p := &Package{Object: obj, Meta: *meta, BTF: kbtf}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func inflate(b64 string, size int64) ([]byte, error) {
	obj, err := inflateField("bpf_object", "bpf_object_size", b64, size)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(obj, elfMagic) {
		return nil, invalid("bpf_object is not an ELF object")
	}
	return obj, nil
}

// inflateField decodes base64(zlib(data)) from the package.json field
// named field, of exactly the size its sizeField gives.
func inflateField(field, sizeField, b64 string, size int64) ([]byte, error) {
	z, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			return nil, invalid("%s: bad base64 at byte %d (truncated or corrupted?)", field, int64(ce))
		}
		return nil, invalid("%s: %v", field, err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, invalid("%s: not a zlib stream: %v", field, err)
	}
	defer zr.Close()
	// Read one byte past the declared size to detect streams that inflate further.
	data, err := io.ReadAll(io.LimitReader(zr, size+1))
	if err != nil {
		return nil, invalid("%s: inflate: %v", field, err)
	}
	if int64(len(data)) > size {
		return nil, invalid("%s inflates past %s (%d bytes)", field, sizeField, size)
	}
	if int64(len(data)) != size {
		return nil, invalid("%s inflates to %d bytes, %s says %d", field, len(data), sizeField, size)
	}
	// The stream must end here: a valid trailer, no more data.
	if n, err := zr.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			return nil, invalid("%s inflates past %s (%d bytes)", field, sizeField, size)
		}
		return nil, invalid("%s: inflate: %v", field, err)
	}
	return data, nil
}

// UnmarshalMeta decodes the metadata object (package.json's "meta", or a
// whole NAME.skel.json). Null lists are accepted; defaults are filled in.
func UnmarshalMeta(data []byte) (*Meta, error) {
	var m struct {
		Meta
		BpfSkel *json.RawMessage `json:"bpf_skel"`
	}
	if err := strictJSON(data, &m); err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	if m.BpfSkel == nil || string(*m.BpfSkel) == "null" {
		return nil, invalid(`meta: missing field "bpf_skel"`)
	}
	if err := json.Unmarshal(*m.BpfSkel, &m.Meta.BpfSkel); err != nil {
		return nil, invalid("meta.bpf_skel: %v", err)
	}
	meta := m.Meta
	meta.FillDefaults()
	if err := meta.Validate(); err != nil {
		return nil, err
	}
	return &meta, nil
}

// MarshalMeta encodes metadata as NAME.skel.json.
func MarshalMeta(m *Meta) ([]byte, error) {
	c := *m
	c.FillDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// strictJSON decodes one JSON value and refuses trailing data.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return invalid("JSON syntax error at byte %d: %v", se.Offset, err)
		case errors.As(err, &te):
			return invalid("field %q: expected %s, got JSON %s", te.Field, te.Type, te.Value)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return invalid("truncated JSON")
		}
		return invalid("%v", err)
	}
	if dec.More() {
		return invalid("trailing data after the JSON object")
	}
	return nil
}

// ReadFile reads and decodes a package.json.
func ReadFile(path string) (*Package, error) {
	data, err := readCapped(path, MaxPackageSize)
	if err != nil {
		return nil, err
	}
	p, err := Unmarshal(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

func readCapped(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a package file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", path, ErrInvalid, max)
	}
	return data, nil
}

// WriteFileAtomic writes data to path through a temporary file in the same
// folder, so readers never see a partial file and failures leave nothing.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return atomicfile.Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
