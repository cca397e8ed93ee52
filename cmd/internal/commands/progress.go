package commands

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"

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
	return NewProgressBar(os.Stderr)
}

// NewProgressBar draws each transfer as one line on w:
//
//	pull 127.0.0.1:5000/probes/execsnoop:v1  45% |#########           | (1.2/2.6 MiB, 3.1 MiB/s)
//
// erased when the transfer ends, so that what follows starts on a clean
// line.
func NewProgressBar(w io.Writer) registry.Progress { return &bar{w: w} }

type bar struct {
	w  io.Writer
	pb *progressbar.ProgressBar // nil between transfers, or for 0 bytes
}

func (b *bar) Start(op, ref string, total int64) {
	b.pb = nil
	if total <= 0 {
		return
	}
	b.pb = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(op+" "+termsafe.Line(ref)),
		progressbar.OptionSetWidth(20),
		progressbar.OptionShowBytes(true),
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
