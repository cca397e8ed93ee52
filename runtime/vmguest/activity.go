package vmguest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ecc-bpf/ecc/internal/vmproto"
)

// activity is what a run sees without a COMMAND, until ctx is done, in
// rounds: an exec (of /init itself, printing its version), a file created,
// written, opened, read and unlinked, a folder made and removed, a failed
// open, a TCP connect on loopback and a 100 ms sleep.
func activity(ctx context.Context) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err == nil {
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Write([]byte("ok\n"))
				c.Close()
			}
		}()
	}
	for i := 0; ctx.Err() == nil; i++ {
		exec.CommandContext(ctx, vmproto.Init, "version").Run()
		name := filepath.Join(os.TempDir(), "ecc-test-"+strconv.Itoa(i))
		if os.WriteFile(name, []byte("ecc test\n"), 0o644) == nil {
			os.ReadFile(name)
			os.Remove(name)
		}
		if os.Mkdir(name+".d", 0o755) == nil {
			os.Remove(name + ".d")
		}
		os.Open("/ecc-test/missing") // a failed open
		if ln != nil {
			if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
				buf := make([]byte, 8)
				c.Read(buf)
				c.Close()
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// command runs the user's COMMAND and reports how it ended, with the end
// of its output.
func command(ctx context.Context, argv []string) *vmproto.Command {
	if argv[0] == vmproto.Busybox {
		// Every applet on PATH, for the shell's commands.
		exec.Command(vmproto.Busybox, "--install", "-s", "/bin").Run()
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/tmp", "TMPDIR=/tmp"}
	cmd.Dir = "/tmp"
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	res := &vmproto.Command{Output: trim(out.String(), 2048)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Exit = ee.ExitCode()
	default:
		res.Exit = -1
		res.Output += fmt.Sprintf("\n%v", err)
	}
	return res
}
