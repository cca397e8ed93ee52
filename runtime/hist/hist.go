package hist

import (
	"io"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// MaxLog2Slots is the number of log2 slots that 64-bit values can fill.
const MaxLog2Slots = 64

const (
	narrowWidth = 10 // digits of the value columns
	wideWidth   = 20
	narrowBar   = 40 // stars of the bar
	wideBar     = 20
	countWidth  = 8 // minimum width of the count column
)

// Bucket is one row of a histogram: Count values fell in [Low, High].
type Bucket struct {
	Low   uint64 `json:"low"`
	High  uint64 `json:"high"`
	Count uint64 `json:"count"`
}

// Histogram is a histogram's rows, in the shape of its JSON form.
type Histogram struct {
	Unit    string   `json:"unit"`
	Buckets []Bucket `json:"buckets"`
}

// rows describes the rows of a histogram without materialising them.
type rows struct {
	slots       []uint64
	first, last int // rows are slots[first..last]; last < first when empty
	log2        bool
	base, step  uint64
}

func log2Rows(slots []uint64) rows {
	if len(slots) > MaxLog2Slots {
		slots = slots[:MaxLog2Slots]
	}
	r := rows{slots: slots, log2: true, last: -1}
	for i := len(slots) - 1; i >= 0; i-- {
		if slots[i] != 0 {
			r.last = i
			break
		}
	}
	return r
}

func linearRows(base, step uint64, slots []uint64) rows {
	if step == 0 {
		step = 1
	}
	r := rows{slots: slots, base: base, step: step, first: 0, last: -1}
	for i, v := range slots {
		if v != 0 {
			r.first = i
			break
		}
	}
	for i := len(slots) - 1; i >= 0; i-- {
		if slots[i] != 0 {
			r.last = i
			break
		}
	}
	return r
}

// bounds returns the values counted by row i.
func (r *rows) bounds(i int) (low, high uint64) {
	if r.log2 {
		if i == 0 {
			return 0, 1
		}
		// For i = 63 the shift gives 0 and high wraps to 2^64-1.
		return 1 << uint(i), 1<<uint(i+1) - 1
	}
	hi, lo := bits.Mul64(uint64(i), r.step)
	if hi != 0 {
		return math.MaxUint64, math.MaxUint64
	}
	low, carry := bits.Add64(r.base, lo, 0)
	if carry != 0 {
		return math.MaxUint64, math.MaxUint64
	}
	high, carry = bits.Add64(low, r.step-1, 0)
	if carry != 0 {
		high = math.MaxUint64
	}
	return low, high
}

func (r *rows) histogram(unit string) Histogram {
	h := Histogram{Unit: unit, Buckets: []Bucket{}}
	if r.last < r.first {
		return h
	}
	h.Buckets = make([]Bucket, 0, r.last-r.first+1)
	for i := r.first; i <= r.last; i++ {
		lo, hi := r.bounds(i)
		h.Buckets = append(h.Buckets, Bucket{Low: lo, High: hi, Count: r.slots[i]})
	}
	return h
}

// Log2 writes a log2 histogram of slots (see the package documentation) as
// text, with one Write call.
func Log2(w io.Writer, unit string, slots []uint64) error {
	return write(w, AppendLog2(nil, unit, slots))
}

// AppendLog2 appends the text of [Log2] to b.
func AppendLog2(b []byte, unit string, slots []uint64) []byte {
	r := log2Rows(slots)
	return r.appendText(b, unit)
}

// Linear writes a linear histogram of slots (see the package
// documentation) as text, with one Write call.
func Linear(w io.Writer, unit string, base, step uint64, slots []uint64) error {
	return write(w, AppendLinear(nil, unit, base, step, slots))
}

// AppendLinear appends the text of [Linear] to b.
func AppendLinear(b []byte, unit string, base, step uint64, slots []uint64) []byte {
	r := linearRows(base, step, slots)
	return r.appendText(b, unit)
}

// Log2Histogram returns the rows that [Log2] prints.
func Log2Histogram(unit string, slots []uint64) Histogram {
	r := log2Rows(slots)
	return r.histogram(unit)
}

// LinearHistogram returns the rows that [Linear] prints.
func LinearHistogram(unit string, base, step uint64, slots []uint64) Histogram {
	r := linearRows(base, step, slots)
	return r.histogram(unit)
}

// AppendLog2JSON appends the JSON form of a log2 histogram to b.
func AppendLog2JSON(b []byte, unit string, slots []uint64) []byte {
	r := log2Rows(slots)
	return r.appendJSON(b, unit)
}

// AppendLinearJSON appends the JSON form of a linear histogram to b.
func AppendLinearJSON(b []byte, unit string, base, step uint64, slots []uint64) []byte {
	r := linearRows(base, step, slots)
	return r.appendJSON(b, unit)
}

func (r *rows) appendText(b []byte, unit string) []byte {
	if r.last < r.first {
		return b
	}
	if unit == "" {
		unit = "value"
	}
	ranges := r.log2 || r.step > 1

	var maxCount uint64
	for _, v := range r.slots[r.first : r.last+1] {
		maxCount = max(maxCount, v)
	}
	// Bounds grow with the row, so the last row has the widest numbers.
	_, maxHigh := r.bounds(r.last)
	vw, bar := narrowWidth, narrowBar
	if digits(maxHigh) > narrowWidth {
		vw, bar = wideWidth, wideBar
	}
	cw := max(countWidth, digits(maxCount))

	// The value column: "low -> high", or one value right-aligned.
	left := vw
	indent := 0 // the unit is right-aligned over single values
	if ranges {
		left = 2*vw + 4
		indent = vw - 5 // a 5-letter unit such as "usecs" ends where the lows do
	}
	uw := utf8.RuneCountInString(unit)
	if uw > left {
		left = uw
	}
	if ranges {
		indent = min(indent, left-uw)
	} else {
		indent = left - uw
	}

	// Header.
	b = appendSpaces(b, indent)
	b = append(b, unit...)
	b = appendSpaces(b, left-indent-uw)
	b = append(b, " : count"...)
	b = appendSpaces(b, cw-5)
	b = append(b, " distribution\n"...)

	pad := left - vw
	if ranges {
		pad = left - (2*vw + 4)
	}
	for i := r.first; i <= r.last; i++ {
		low, high := r.bounds(i)
		count := r.slots[i]
		b = appendSpaces(b, pad)
		b = appendUintLeftPad(b, low, vw)
		if ranges {
			b = append(b, " -> "...)
			b = appendUintRightPad(b, high, vw)
		}
		b = append(b, " : "...)
		b = appendUintRightPad(b, count, cw)
		b = append(b, " |"...)
		n := stars(count, maxCount, bar)
		for range n {
			b = append(b, '*')
		}
		b = appendSpaces(b, bar-n)
		b = append(b, "|\n"...)
	}
	return b
}

// stars scales v to width, maxV getting width stars, rounding down.
func stars(v, maxV uint64, width int) int {
	if maxV == 0 || v == 0 {
		return 0
	}
	if v >= maxV {
		return width
	}
	hi, lo := bits.Mul64(v, uint64(width))
	q, _ := bits.Div64(hi, lo, maxV) // hi < maxV since v < maxV
	return int(q)
}

func (r *rows) appendJSON(b []byte, unit string) []byte {
	b = append(b, `{"unit":`...)
	b = appendJSONString(b, unit)
	b = append(b, `,"buckets":[`...)
	for i := r.first; i <= r.last; i++ {
		if i > r.first {
			b = append(b, ',')
		}
		low, high := r.bounds(i)
		b = appendBucket(b, low, high, r.slots[i])
	}
	return append(b, "]}"...)
}

func appendBucket(b []byte, low, high, count uint64) []byte {
	b = append(b, `{"low":`...)
	b = strconv.AppendUint(b, low, 10)
	b = append(b, `,"high":`...)
	b = strconv.AppendUint(b, high, 10)
	b = append(b, `,"count":`...)
	b = strconv.AppendUint(b, count, 10)
	return append(b, '}')
}

// AppendJSON appends h as JSON to b. A nil Buckets is written as [].
func (h Histogram) AppendJSON(b []byte) []byte {
	b = append(b, `{"unit":`...)
	b = appendJSONString(b, h.Unit)
	b = append(b, `,"buckets":[`...)
	for i, k := range h.Buckets {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendBucket(b, k.Low, k.High, k.Count)
	}
	return append(b, "]}"...)
}

// MarshalJSON implements [encoding/json.Marshaler] with [Histogram.AppendJSON].
func (h Histogram) MarshalJSON() ([]byte, error) {
	return h.AppendJSON(nil), nil
}

func write(w io.Writer, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, err := w.Write(b)
	return err
}

func digits(v uint64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}

const spaces = "                                                                "

func appendSpaces(b []byte, n int) []byte {
	for n > len(spaces) {
		b = append(b, spaces...)
		n -= len(spaces)
	}
	if n > 0 {
		b = append(b, spaces[:n]...)
	}
	return b
}

// appendUintLeftPad appends v right-aligned in width columns.
func appendUintLeftPad(b []byte, v uint64, width int) []byte {
	b = appendSpaces(b, width-digits(v))
	return strconv.AppendUint(b, v, 10)
}

// appendUintRightPad appends v left-aligned in width columns.
func appendUintRightPad(b []byte, v uint64, width int) []byte {
	b = strconv.AppendUint(b, v, 10)
	return appendSpaces(b, width-digits(v))
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// Log2Bounds returns the values slot i of a log2 histogram counts, as
// [Log2] prints them: [0, 1] for slot 0, [2^i, 2^(i+1)-1] after.
func Log2Bounds(i int) (low, high uint64) {
	r := rows{log2: true}
	return r.bounds(i)
}

// LinearBounds returns the values slot i of a linear histogram counts, as
// [Linear] prints them: [base+i*step, base+(i+1)*step-1].
func LinearBounds(base, step uint64, i int) (low, high uint64) {
	r := linearRows(base, step, nil)
	return r.bounds(i)
}
