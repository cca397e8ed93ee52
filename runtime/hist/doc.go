// Package hist renders the maps that BPF tools aggregate in the kernel:
// log2 and linear histograms, in the style of BCC's runqlat and
// biolatency, and key/value tables. Output is text or JSON.
//
// Every renderer comes in two forms: one that writes to an [io.Writer] with
// a single Write call, and an Append form that appends to a caller's
// buffer, so a periodic printer can reuse one buffer and allocate nothing.
// Nothing here touches the kernel.
//
// # Histograms
//
//	usecs               : count    distribution
//	    0 -> 1          : 12       |****                                    |
//	    2 -> 3          : 104      |****************************************|
//	    4 -> 7          : 33       |************                            |
//
// A log2 histogram has up to 64 slots: slot 0 counts the values 0 and 1,
// slot i ≥ 1 the values 2^i to 2^(i+1)-1 (the convention of libbpf-tools:
// the BPF side stores a value v in slot floor(log2(v)), 0 for v = 0). As
// BCC does, rows run from slot 0 up to the last non-empty slot: leading
// empty slots are kept so that the scale always starts at zero, trailing
// ones are dropped. Slots beyond 63 would hold values that do not fit in 64
// bits; they are ignored.
//
// A linear histogram has buckets of step values starting at base: bucket i
// counts base+i*step to base+(i+1)*step-1. Rows run from the first to the
// last non-empty bucket (empty buckets in between are kept, so the shape
// shows). With a step of 1 each row shows one value instead of a range. A
// step of 0 is taken as 1.
//
// Layout: the low and high columns are 10 digits wide and the bar 40 stars,
// scaled so that the largest count gets all 40. When a bound needs more
// than 10 digits (log2 slots above 32, that is values from 2^33), the
// columns become 20 wide and the bar 20 stars, as in BCC, so that lines
// keep about the same length; the widths are fixed rather than fitted so
// that successive prints of a growing histogram keep their layout. The
// count column is 8 wide, or as wide as the largest count. The unit heads
// the value column (an empty unit reads "value"); a unit too long for its
// place widens the column. A histogram whose slots are all zero renders as
// nothing at all (no header either), as in BCC.
//
// The JSON form has the same rows, as {"low":L,"high":H,"count":C} objects:
//
//	{"unit":"usecs","buckets":[{"low":0,"high":1,"count":12},{"low":2,"high":3,"count":104}]}
//
// An empty histogram has "buckets":[]. Numbers are exact decimal uint64s.
//
// # Tables
//
// [KV] prints key/value maps (and any other rows of cells) as a table
// whose columns are separated by two spaces. A column whose cells are all
// numbers (decimal integers, decimals, or 0x hex; empty cells allowed) is
// right-aligned, header included; other columns are left-aligned. When the
// last column holds a number in every row, which is the case of maps whose
// value is a counter, KV lists the rows by that number, largest first
// (ties keep their order); [Table] never reorders.
package hist
