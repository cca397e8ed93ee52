package commands

import (
	"io"
	"os"

	"golang.org/x/term"
)

// Progress is stderr on a terminal, nil otherwise.
func Progress() io.Writer {
	if term.IsTerminal(int(os.Stderr.Fd())) {
		return os.Stderr
	}
	return nil
}
