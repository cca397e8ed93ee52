package decode

import (
	"math"
	"math/bits"
	"strconv"
	"unicode"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// jsonSafe[b] is true for ASCII bytes that appear unescaped in JSON
// strings.
var jsonSafe = func() (t [256]bool) {
	for b := 0x20; b < 0x7f; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return
}()

// textSafe[b] is true for ASCII bytes that appear unescaped in text.
var textSafe = func() (t [256]bool) {
	for b := 0x20; b < 0x7f; b++ {
		t[b] = b != '\\'
	}
	return
}()

// appendJSONString appends s as a JSON string. Control characters and
// DEL are escaped; bytes that are not valid UTF-8 become U+FFFD, as encoding/json
// does; U+2028 and U+2029 are escaped for JavaScript.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendTextString appends s for the text format: printable characters as
// they are; backslash, control characters, unprintable runes and bytes
// that are not valid UTF-8 escaped as \\, \n, \r, \t and \xNN.
func appendTextString(dst, s []byte) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if textSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\':
				dst = append(dst, '\\', '\\')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if (r == utf8.RuneError && size == 1) || !unicode.IsPrint(r) {
			dst = append(dst, s[start:i]...)
			for _, c := range s[i : i+size] {
				dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// appendHexBytes appends 0x and b in hex, in memory order.
func appendHexBytes(dst, b []byte) []byte {
	dst = append(dst, '0', 'x')
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return dst
}

// appendInt128 appends the 128-bit integer hi:lo in decimal.
func appendInt128(dst []byte, hi, lo uint64, signed bool) []byte {
	if signed && int64(hi) < 0 {
		dst = append(dst, '-')
		var borrow uint64
		lo, borrow = bits.Sub64(0, lo, 0)
		hi, _ = bits.Sub64(0, hi, borrow)
	}
	if hi == 0 {
		return strconv.AppendUint(dst, lo, 10)
	}
	// Split into base-10^19 digits; 2^128 has 39 decimal digits.
	const base = 1e19
	var parts [2]uint64
	n := 0
	for hi != 0 {
		var r uint64
		qhi := hi / base
		lo, r = bits.Div64(hi%base, lo, base)
		hi = qhi
		parts[n] = r
		n++
	}
	dst = strconv.AppendUint(dst, lo, 10)
	for n > 0 {
		n--
		var buf [19]byte
		v := parts[n]
		for i := len(buf) - 1; i >= 0; i-- {
			buf[i] = byte('0' + v%10)
			v /= 10
		}
		dst = append(dst, buf[:]...)
	}
	return dst
}

func f32(v uint32) float32 { return math.Float32frombits(v) }
func f64(v uint64) float64 { return math.Float64frombits(v) }

// f16 converts an IEEE 754 half-precision float.
func f16(v uint16) float64 {
	sign := 1.0
	if v&0x8000 != 0 {
		sign = -1
	}
	exp := int(v>>10) & 0x1f
	frac := float64(v & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	}
	return sign * math.Ldexp(1024+frac, exp-25)
}

// appendFloat appends f with the fewest digits that read back as the same
// float of the given bits, in ES6 style like encoding/json: exponents only
// for very large and small numbers. NaN and ±Inf are not JSON numbers:
// they appear as "NaN", "Infinity" and "-Infinity", quoted if quote is
// set.
func appendFloat(dst []byte, f float64, size int, quote bool) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		if quote {
			dst = append(dst, '"')
		}
		switch {
		case math.IsNaN(f):
			dst = append(dst, "NaN"...)
		case f > 0:
			dst = append(dst, "Infinity"...)
		default:
			dst = append(dst, "-Infinity"...)
		}
		if quote {
			dst = append(dst, '"')
		}
		return dst
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if size == 64 && (abs < 1e-6 || abs >= 1e21) ||
			size == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, size)
	if format == 'e' {
		// Turn e-07 into e-7.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}
