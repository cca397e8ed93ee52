package commands

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/ecc-bpf/ecc/internal/termsafe"
	"github.com/ecc-bpf/ecc/registry"
)

// Progress is a byte progress bar on stderr for pushes and pulls, when
// stderr is a terminal that can redraw a line (not TERM=dumb); nil, and
// nothing drawn, otherwise (a pipe, a file, CI logs). The bar is never
// coloured, so NO_COLOR leaves it as it is.
func Progress() registry.Progress {
	if !Drawable(os.Stderr) {
		return nil
	}
	b := &bar{w: os.Stderr}
	if cols, _, err := term.GetSize(int(os.Stderr.Fd())); err == nil {
		b.cols = cols
	}
	return b
}

// NewProgressBar draws each transfer as one line on w:
//
//	pull 127.0.0.1:5000/probes/execsnoop:v1  45% |#########           | (1.2/2.6 MiB, 3.1 MiB/s)
//
// erased when the transfer ends, so that what follows starts on a clean
// line.
func NewProgressBar(w io.Writer) registry.Progress { return &bar{w: w} }

type bar struct {
	w    io.Writer
	cols int                      // the terminal's width, 0 if unknown
	pb   *progressbar.ProgressBar // nil between transfers, or for 0 bytes
}

// barRest is the width of a bar line but for its description: percentage,
// bar, "(12.3 MiB/45.6 MiB, 7.8 MiB/s)".
const barRest = 60

// describe is the description of a transfer, its start cut off ("…") when
// the line would not fit the terminal: a line that wraps cannot be redrawn.
func (b *bar) describe(op, ref string) string {
	d := []rune(op + " " + termsafe.Line(ref))
	if limit := b.cols - barRest; b.cols > 0 && len(d) > limit {
		if limit < 8 {
			return op
		}
		d = append([]rune("…"), d[len(d)-limit+1:]...)
	}
	return string(d)
}

func (b *bar) Start(op, ref string, total int64) {
	b.pb = nil
	if total <= 0 {
		return
	}
	b.pb = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(b.describe(op, ref)),
		progressbar.OptionSetWidth(20),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionThrottle(65*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionSetTheme(progressbar.Theme{Saucer: "#", SaucerPadding: " ", BarStart: "|", BarEnd: "|"}),
	)
}

func (b *bar) Add(n int64) {
	if b.pb != nil {
		b.pb.Add64(n)
	}
}

func (b *bar) Blob(verb, name string, size int64) {}

func (b *bar) End(err error) {
	if b.pb == nil {
		return
	}
	if err == nil {
		b.pb.Finish()
	}
	b.pb.Clear()
	b.pb.Exit()
	b.pb = nil
}
