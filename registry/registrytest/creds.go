package registrytest

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Auth is one set of credentials.
type Auth struct {
	Username, Password string
	// IdentityToken is a refresh token (docker's "identitytoken").
	IdentityToken string
}

// DockerConfig is the part of a docker config.json that holds credentials.
type DockerConfig struct {
	// Auths become "auths" entries: base64(user:password) and identitytoken.
	Auths       map[string]Auth
	CredsStore  string
	CredHelpers map[string]string
}

// WriteDockerConfig writes cfg as dir/config.json (dir is created) and
// returns the file's path.
func WriteDockerConfig(t testing.TB, dir string, cfg DockerConfig) string {
	t.Helper()
	type authEntry struct {
		Auth          string `json:"auth,omitempty"`
		IdentityToken string `json:"identitytoken,omitempty"`
	}
	out := struct {
		Auths       map[string]authEntry `json:"auths,omitempty"`
		CredsStore  string               `json:"credsStore,omitempty"`
		CredHelpers map[string]string    `json:"credHelpers,omitempty"`
	}{CredsStore: cfg.CredsStore, CredHelpers: cfg.CredHelpers}
	if len(cfg.Auths) > 0 {
		out.Auths = map[string]authEntry{}
		for host, a := range cfg.Auths {
			e := authEntry{IdentityToken: a.IdentityToken}
			if a.Username != "" || a.Password != "" {
				e.Auth = base64.StdEncoding.EncodeToString([]byte(a.Username + ":" + a.Password))
			}
			out.Auths[host] = e
		}
	}
	data, err := json.MarshalIndent(out, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "config.json")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// CredentialHelper is a fake docker-credential-NAME program on PATH.
type CredentialHelper struct {
	// Name is the helper suffix for credsStore/credHelpers ("ecctest").
	Name string
	// Dir holds the program, its store and its call log.
	Dir string
}

const helperScript = `#!/bin/sh
# Fake docker credential helper written by registrytest. Secrets arrive on
# stdin and are kept in one file per server under store/.
dir=$(dirname "$0")
store="$dir/store"
log="$dir/calls.log"
input=$(cat)
key() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
case "$1" in
get)
	echo "get $input" >>"$log"
	f="$store/$(key "$input")"
	if [ -f "$f" ]; then cat "$f"; exit 0; fi
	echo "credentials not found in native keychain"
	exit 1 ;;
store)
	server=$(printf '%s' "$input" | sed -n 's/.*"ServerURL":"\([^"]*\)".*/\1/p')
	echo "store $server" >>"$log"
	printf '%s' "$input" >"$store/$(key "$server")" ;;
erase)
	echo "erase $input" >>"$log"
	f="$store/$(key "$input")"
	if [ -f "$f" ]; then rm -f "$f"; exit 0; fi
	echo "credentials not found in native keychain"
	exit 1 ;;
list)
	echo '{}' ;;
*)
	echo "unknown action $1" >&2
	exit 1 ;;
esac
`

// NewCredentialHelper installs docker-credential-NAME (name "" means
// "ecctest") in a temporary folder put first on PATH for the rest of the
// test, answering get/store/erase/list from creds (keyed by server address,
// e.g. "127.0.0.1:5000"). Tests using it cannot run in parallel.
func NewCredentialHelper(t testing.TB, name string, creds map[string]Auth) *CredentialHelper {
	t.Helper()
	if name == "" {
		name = "ecctest"
	}
	h := &CredentialHelper{Name: name, Dir: t.TempDir()}
	if err := os.Mkdir(filepath.Join(h.Dir, "store"), 0o700); err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(h.Dir, "docker-credential-"+name)
	if err := os.WriteFile(prog, []byte(helperScript), 0o755); err != nil {
		t.Fatal(err)
	}
	for server, a := range creds {
		h.put(t, server, a)
	}
	t.Setenv("PATH", h.Dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return h
}

func helperKey(server string) string { return hex.EncodeToString([]byte(server)) }

func (h *CredentialHelper) put(t testing.TB, server string, a Auth) {
	t.Helper()
	user, secret := a.Username, a.Password
	if a.IdentityToken != "" {
		user, secret = "<token>", a.IdentityToken
	}
	data, _ := json.Marshal(map[string]string{"ServerURL": server, "Username": user, "Secret": secret})
	if err := os.WriteFile(filepath.Join(h.Dir, "store", helperKey(server)), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Stored returns the credentials the helper holds for server.
func (h *CredentialHelper) Stored(server string) (Auth, bool) {
	data, err := os.ReadFile(filepath.Join(h.Dir, "store", helperKey(server)))
	if err != nil {
		return Auth{}, false
	}
	var c struct{ Username, Secret string }
	if json.Unmarshal(data, &c) != nil {
		return Auth{}, false
	}
	if c.Username == "<token>" {
		return Auth{IdentityToken: c.Secret}, true
	}
	return Auth{Username: c.Username, Password: c.Secret}, true
}

// Calls lists the helper's invocations as "ACTION SERVER", oldest first.
func (h *CredentialHelper) Calls() []string {
	data, err := os.ReadFile(filepath.Join(h.Dir, "calls.log"))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// NewLeakyCredentialHelper installs docker-credential-NAME (first on PATH
// for the rest of the test) that answers every action by printing secret on
// stdout and exiting with status 1, as a broken helper that echoes what it
// holds would. Errors must never show its output. Tests using it cannot run
// in parallel.
func NewLeakyCredentialHelper(t testing.TB, name, secret string) *CredentialHelper {
	t.Helper()
	h := &CredentialHelper{Name: name, Dir: t.TempDir()}
	script := "#!/bin/sh\ncat >/dev/null\necho \"$1\" >>\"$(dirname \"$0\")/calls.log\"\nprintf '%s\\n' '" + strings.ReplaceAll(secret, "'", "") + "'\nexit 1\n"
	if err := os.WriteFile(filepath.Join(h.Dir, "docker-credential-"+name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", h.Dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return h
}
