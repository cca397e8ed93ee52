package commands

import "testing"

func TestInstallVersion(t *testing.T) {
	commit := "20899158f08dbc2f89022ec51a12039dedb61979"
	for _, c := range []struct {
		bi   BuildInfo
		want string
	}{
		{BuildInfo{Version: "v0.4.1", Commit: commit}, "v0.4.1"},
		{BuildInfo{Version: "v0.0.0-20261205101315-20899158f08d", Commit: commit}, "v0.0.0-20261205101315-20899158f08d"},
		{BuildInfo{Version: "v0.0.0-20261205101315-20899158f08d+dirty", Commit: commit, Modified: true}, "latest"},
		{BuildInfo{Version: "devel", Commit: commit}, commit},                   // built from a checkout without module version
		{BuildInfo{Version: "devel", Commit: commit, Modified: true}, "latest"}, // uncommitted changes: nothing to fetch
		{BuildInfo{Version: "devel", Commit: "unknown"}, "latest"},
	} {
		if got := c.bi.InstallVersion(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.bi, got, c.want)
		}
	}
}
