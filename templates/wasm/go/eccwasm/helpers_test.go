package eccwasm

import (
	"errors"
	"testing"
)

func TestCString(t *testing.T) {
	for in, want := range map[string]string{"bash\x00\x00x": "bash", "0123": "0123", "": "", "\x00a": ""} {
		if got := CString([]byte(in)); got != want {
			t.Errorf("CString(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecode(t *testing.T) {
	type rec struct {
		A uint32
		B [4]byte
	}
	v, err := Decode[rec]([]byte{1, 0, 0, 0, 'a', 'b', 'c', 'd', 9})
	if err != nil || v.A != 1 || string(v.B[:]) != "abcd" {
		t.Errorf("Decode = %+v, %v", v, err)
	}
	if _, err := Decode[rec](make([]byte, 7)); err == nil {
		t.Error("a short record decoded")
	}
	if b := Bytes(&v); len(b) != 8 || b[0] != 1 {
		t.Errorf("Bytes = %v", b)
	}
}

func TestError(t *testing.T) {
	err := error(&Error{Op: "lookup", Code: -2})
	if !errors.Is(err, ErrNotFound) || err.Error() != "eccwasm: lookup: host error -2 (ENOENT)" {
		t.Errorf("%v", err)
	}
	err = &Error{Op: "attach", Name: "handle_exec", Code: -1}
	if errors.Is(err, ErrNotFound) || err.Error() != "eccwasm: attach handle_exec: host error -1 (EPERM)" {
		t.Errorf("%v", err)
	}
	if s := (&Error{Op: "load", Msg: "bad"}).Error(); s != "eccwasm: load: bad" {
		t.Error(s)
	}
}
