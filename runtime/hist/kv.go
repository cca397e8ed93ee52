package hist

import (
	"io"
	"slices"
	"strconv"
	"unicode/utf8"
)

// columnGap separates the columns of a table.
const columnGap = "  "

// KV writes header and rows as a table (see the package documentation),
// with rows listed by their last cell, largest first, when that cell is a
// number in every row. The caller's slices are not modified. A nil header
// prints no header line; rows may have fewer or more cells than header.
func KV(w io.Writer, header []string, rows [][]string) error {
	return write(w, AppendKV(nil, header, rows))
}

// AppendKV appends the text of [KV] to b.
func AppendKV(b []byte, header []string, rows [][]string) []byte {
	return appendTable(b, header, rows, true)
}

// Table is [KV] without the sorting: rows keep their order.
func Table(w io.Writer, header []string, rows [][]string) error {
	return write(w, AppendTable(nil, header, rows))
}

// AppendTable appends the text of [Table] to b.
func AppendTable(b []byte, header []string, rows [][]string) []byte {
	return appendTable(b, header, rows, false)
}

func appendTable(b []byte, header []string, rows [][]string, sortByLast bool) []byte {
	ncol := len(header)
	for _, r := range rows {
		ncol = max(ncol, len(r))
	}
	if ncol == 0 {
		return b
	}

	// Column widths and kinds. Small tables, the usual case, need no
	// allocation for them.
	var wbuf [16]int
	var nbuf [16]bool
	width, numeric := wbuf[:0], nbuf[:0]
	if ncol > len(wbuf) {
		width, numeric = make([]int, 0, ncol), make([]bool, 0, ncol)
	}
	width, numeric = width[:ncol], numeric[:ncol]
	seen := uint64(0) // bit c: column c has a non-empty cell (first 64)
	for c := range ncol {
		width[c], numeric[c] = 0, true
	}
	for c, h := range header {
		width[c] = utf8.RuneCountInString(h)
	}
	lastNumeric := len(rows) > 0
	for _, r := range rows {
		for c, s := range r {
			width[c] = max(width[c], utf8.RuneCountInString(s))
			if s == "" {
				continue
			}
			if c < 64 {
				seen |= 1 << uint(c)
			}
			if numeric[c] && !isNumber(s) {
				numeric[c] = false
			}
		}
		if len(r) != ncol || !isNumber(r[ncol-1]) {
			lastNumeric = false
		}
	}
	for c := range ncol {
		if c < 64 && seen&(1<<uint(c)) == 0 {
			numeric[c] = false // no cells: align like text
		}
	}

	if sortByLast && lastNumeric && len(rows) > 1 {
		keys := make([]number, len(rows))
		idx := make([]int, len(rows))
		for i, r := range rows {
			keys[i] = parseNumber(r[ncol-1])
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return compareNumbers(keys[b], keys[a]) })
		sorted := make([][]string, len(rows))
		for i, j := range idx {
			sorted[i] = rows[j]
		}
		rows = sorted
	}

	if header != nil {
		b = appendRow(b, header, width, numeric)
	}
	for _, r := range rows {
		b = appendRow(b, r, width, numeric)
	}
	return b
}

func appendRow(b []byte, cells []string, width []int, numeric []bool) []byte {
	// The last column is not padded on the right; find where the row's
	// visible text ends so that no line ends in spaces.
	end := len(width)
	for end > 0 && (end > len(cells) || cells[end-1] == "") {
		end--
	}
	for c := 0; c < end; c++ {
		s := ""
		if c < len(cells) {
			s = cells[c]
		}
		if c > 0 {
			b = append(b, columnGap...)
		}
		pad := width[c] - utf8.RuneCountInString(s)
		if numeric[c] {
			b = appendSpaces(b, pad)
			b = append(b, s...)
		} else {
			b = append(b, s...)
			if c < end-1 {
				b = appendSpaces(b, pad)
			}
		}
	}
	return append(b, '\n')
}

// isNumber reports whether s is a decimal integer or fraction with an
// optional sign and exponent, or a 0x hexadecimal integer.
func isNumber(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	if len(s)-i > 2 && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') {
		for _, c := range []byte(s[i+2:]) {
			if !isHex(c) {
				return false
			}
		}
		return true
	}
	nd := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		nd++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			nd++
		}
	}
	if nd == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		ne := 0
		for i < len(s) && isDigit(s[i]) {
			i++
			ne++
		}
		if ne == 0 {
			return false
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'f' }

// number is a parsed cell: an exact integer when isInt, else f.
type number struct {
	isInt bool
	neg   bool
	mag   uint64
	f     float64
}

// parseNumber parses a cell that isNumber accepted.
func parseNumber(s string) number {
	neg := false
	t := s
	if t != "" && (t[0] == '-' || t[0] == '+') {
		neg = t[0] == '-'
		t = t[1:]
	}
	base := 10
	if len(t) > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') {
		base, t = 16, t[2:]
	}
	if u, err := strconv.ParseUint(t, base, 64); err == nil {
		return number{isInt: true, neg: neg && u != 0, mag: u}
	}
	if base == 16 {
		s += "p0" // too large for uint64: read as a hexadecimal float
	}
	f, _ := strconv.ParseFloat(s, 64) // ±Inf when out of range
	return number{f: f}
}

func (n number) float() float64 {
	if !n.isInt {
		return n.f
	}
	f := float64(n.mag)
	if n.neg {
		f = -f
	}
	return f
}

func compareNumbers(a, b number) int {
	if a.isInt && b.isInt {
		switch {
		case a.neg != b.neg:
			if a.neg {
				return -1
			}
			return 1
		case a.mag == b.mag:
			return 0
		case (a.mag < b.mag) != a.neg:
			return -1
		default:
			return 1
		}
	}
	fa, fb := a.float(), b.float()
	switch {
	case fa < fb:
		return -1
	case fa > fb:
		return 1
	}
	return 0
}
