package commands

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"
)

// BuildInfo describes the running binary.
type BuildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Modified  bool   `json:"modified,omitempty"`
	Go        string `json:"go"`
	CiliumBPF string `json:"cilium_ebpf"`
	Oras      string `json:"oras_go"`
	Wazero    string `json:"wazero"`
}

// ReadBuildInfo reads the version stamps Go puts into the binary.
func ReadBuildInfo() BuildInfo {
	bi := BuildInfo{Version: "devel", Commit: "unknown"}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return bi
	}
	bi.Go = info.GoVersion
	if v := info.Main.Version; v != "" && v != "(devel)" {
		bi.Version = v
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			bi.Commit = s.Value
		case "vcs.modified":
			bi.Modified = s.Value == "true"
		}
	}
	for _, d := range info.Deps {
		v := d.Version
		if d.Replace != nil {
			v = d.Replace.Version
		}
		switch d.Path {
		case "github.com/cilium/ebpf":
			bi.CiliumBPF = v
		case "oras.land/oras-go/v2":
			bi.Oras = v
		case "github.com/tetratelabs/wazero":
			bi.Wazero = v
		}
	}
	return bi
}

// InstallVersion is what "go install MODULE/cmd/ecc@VERSION" installs this
// build again with: its module version (a release, or Go's pseudo-version
// of a commit), else its commit; "latest" when the build has neither or
// has uncommitted changes, which no go install can fetch.
func (bi BuildInfo) InstallVersion() string {
	switch {
	case bi.Modified || strings.Contains(bi.Version, "+dirty"):
		return "latest"
	case strings.HasPrefix(bi.Version, "v"):
		return bi.Version
	case len(bi.Commit) == 40:
		return bi.Commit
	}
	return "latest"
}

// Version is the "version" command.
func Version() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, commit, Go and library versions",
		Description: `Examples:
   PROG version
   PROG version --format json`,
		Flags: []cli.Flag{FormatFlag()},
		Action: func(c *cli.Context) error {
			bi := ReadBuildInfo()
			return Print(c, bi, func(w io.Writer) error {
				WriteVersion(w, c.App.Name, bi)
				return nil
			})
		},
	}
}

// WriteVersion prints bi for prog as "prog version" and "prog --version"
// do: "prog VERSION" on the first line, then the commit and the versions
// of Go and the main libraries.
func WriteVersion(w io.Writer, prog string, bi BuildInfo) {
	commit := bi.Commit
	if bi.Modified {
		commit += " (modified)"
	}
	fmt.Fprintf(w, "%s %s\ncommit:      %s\ngo:          %s\ncilium/ebpf: %s\noras-go:     %s\nwazero:      %s\n",
		prog, bi.Version, commit, bi.Go, dash(bi.CiliumBPF), dash(bi.Oras), dash(bi.Wazero))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
