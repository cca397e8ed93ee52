package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/registry/registrytest"
	"oras.land/oras-go/v2/registry/remote/auth"
)

func TestCredentialsFromEnv(t *testing.T) {
	t.Setenv(EnvUsername, "envuser")
	t.Setenv(EnvPassword, "envpass")
	u, p := CredentialsFromEnv()
	if u != "envuser" || p != "envpass" {
		t.Fatalf("CredentialsFromEnv() = %q, %q", u, p)
	}
}

func TestConfigPath(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", "")
	if p, _ := ConfigPath(nil); p != filepath.Join(home, ".docker", "config.json") {
		t.Errorf("default config path = %q", p)
	}
	t.Setenv("DOCKER_CONFIG", "/etc/dockercfg")
	if p, _ := ConfigPath(&Options{}); p != "/etc/dockercfg/config.json" {
		t.Errorf("$DOCKER_CONFIG config path = %q", p)
	}
	if p, _ := ConfigPath(&Options{RegistryConfig: "/x/cfg.json"}); p != "/x/cfg.json" {
		t.Errorf("--registry-config path = %q", p)
	}
}

func mustCred(t *testing.T, host string, opts *Options) auth.Credential {
	t.Helper()
	c, err := Credential(context.Background(), host, opts)
	if err != nil {
		t.Fatalf("Credential(%s): %v", host, err)
	}
	return c
}

func TestCredentialOrder(t *testing.T) {
	const hostA, hostB = "a.example:5000", "b.example"
	// Keep platform helpers (pass, secretservice) of this machine out.
	t.Setenv("PATH", t.TempDir())
	t.Setenv("HOME", t.TempDir())

	// $DOCKER_CONFIG is read when --registry-config is absent.
	dockerDir := t.TempDir()
	registrytest.WriteDockerConfig(t, dockerDir, registrytest.DockerConfig{
		Auths: map[string]registrytest.Auth{hostA: {Username: "dockercfg", Password: "p1"}},
	})
	t.Setenv("DOCKER_CONFIG", dockerDir)
	if c := mustCred(t, hostA, &Options{}); c.Username != "dockercfg" || c.Password != "p1" {
		t.Errorf("from $DOCKER_CONFIG: %+v", c)
	}

	// --registry-config wins over $DOCKER_CONFIG; a "https://" key matches the host.
	cfg := registrytest.WriteDockerConfig(t, t.TempDir(), registrytest.DockerConfig{
		Auths: map[string]registrytest.Auth{
			"https://" + hostA: {Username: "filecfg", Password: "p2"},
			hostB:              {IdentityToken: "refresh-token"},
		},
	})
	opts := &Options{RegistryConfig: cfg}
	if c := mustCred(t, hostA, opts); c.Username != "filecfg" || c.Password != "p2" {
		t.Errorf("from --registry-config: %+v", c)
	}
	if c := mustCred(t, hostB, opts); c.RefreshToken != "refresh-token" || c.Username != "" {
		t.Errorf("identitytoken: %+v", c)
	}
	if c := mustCred(t, "c.example", opts); c != auth.EmptyCredential {
		t.Errorf("unknown host: %+v, want anonymous", c)
	}

	// Environment credentials (via Options) win over the config file.
	t.Setenv(EnvUsername, "envuser")
	t.Setenv(EnvPassword, "envpass")
	u, p := CredentialsFromEnv()
	envOpts := &Options{RegistryConfig: cfg, Username: u, Password: p}
	if c := mustCred(t, hostA, envOpts); c.Username != "envuser" || c.Password != "envpass" {
		t.Errorf("env over config: %+v", c)
	}
	// Half of a pair is an error that says what is missing.
	if _, err := Credential(context.Background(), hostA, &Options{Password: "secret-pw"}); err == nil ||
		!strings.Contains(err.Error(), "-u USER") || strings.Contains(err.Error(), "secret-pw") {
		t.Errorf("password without user: %v", err)
	}
	if _, err := Credential(context.Background(), hostA, &Options{Username: "u"}); err == nil ||
		!strings.Contains(err.Error(), "--password-stdin") {
		t.Errorf("user without password: %v", err)
	}
}

func TestCredentialHelpers(t *testing.T) {
	const hostA, hostB = "a.example:5000", "b.example"
	t.Setenv("HOME", t.TempDir())
	helper := registrytest.NewCredentialHelper(t, "ecctest", map[string]registrytest.Auth{
		hostA: {Username: "helperuser", Password: "helperpass"},
		hostB: {IdentityToken: "helper-token"},
	})

	// credHelpers for one host: that host asks the helper, others use "auths".
	cfg := registrytest.WriteDockerConfig(t, t.TempDir(), registrytest.DockerConfig{
		Auths: map[string]registrytest.Auth{
			hostA: {Username: "fileuser", Password: "filepass"},
			hostB: {Username: "fileuserB", Password: "filepassB"},
		},
		CredHelpers: map[string]string{hostA: helper.Name},
	})
	opts := &Options{RegistryConfig: cfg}
	if c := mustCred(t, hostA, opts); c.Username != "helperuser" || c.Password != "helperpass" {
		t.Errorf("credHelpers host: %+v", c)
	}
	if c := mustCred(t, hostB, opts); c.Username != "fileuserB" {
		t.Errorf("host without helper: %+v", c)
	}
	if calls := strings.Join(helper.Calls(), "|"); calls != "get "+hostA {
		t.Errorf("helper calls = %q, want only %q", calls, "get "+hostA)
	}

	// credsStore: every host asks the helper; "<token>" gives a refresh token.
	cfg2 := registrytest.WriteDockerConfig(t, t.TempDir(), registrytest.DockerConfig{CredsStore: helper.Name})
	opts2 := &Options{RegistryConfig: cfg2}
	if c := mustCred(t, hostA, opts2); c.Username != "helperuser" {
		t.Errorf("credsStore: %+v", c)
	}
	if c := mustCred(t, hostB, opts2); c.RefreshToken != "helper-token" {
		t.Errorf("credsStore identity token: %+v", c)
	}
	if c := mustCred(t, "c.example", opts2); c != auth.EmptyCredential {
		t.Errorf("helper without entry: %+v, want anonymous", c)
	}

	// A helper that is configured but missing is an error naming the config.
	cfg3 := registrytest.WriteDockerConfig(t, t.TempDir(), registrytest.DockerConfig{CredsStore: "nosuchhelper"})
	_, err := Credential(context.Background(), hostA, &Options{RegistryConfig: cfg3})
	if err == nil || !strings.Contains(err.Error(), cfg3) || !strings.Contains(err.Error(), "docker-credential-nosuchhelper") {
		t.Errorf("missing helper: %v", err)
	}
}

func TestCredentialBadConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte(`{"auths": {"h.example": {"auth": "`+base64.StdEncoding.EncodeToString([]byte("tokenwithoutcolon-s3cret"))+`"}}}`), 0o600)
	_, err := Credential(context.Background(), "h.example", &Options{RegistryConfig: cfg})
	var ae *AuthEntryError
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "user:password") ||
		!errors.As(err, &ae) || ae.Host != "h.example" {
		t.Errorf("malformed auth entry: %v", err)
	}
	os.WriteFile(cfg, []byte(`{not json`), 0o600)
	_, err = Credential(context.Background(), "h.example", &Options{RegistryConfig: cfg})
	if err == nil || !strings.Contains(err.Error(), cfg) || !strings.Contains(err.Error(), "--registry-config") {
		t.Errorf("invalid JSON: %v", err)
	}
}

// assertSecretOnlyIn fails if secret (or its base64 with the user) is in any
// file under dir except the allowed ones.
func assertSecretOnlyIn(t *testing.T, dir, user, secret string, allowed ...string) {
	t.Helper()
	b64 := base64.StdEncoding.EncodeToString([]byte(user + ":" + secret))
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		for _, a := range allowed {
			if p == a {
				return nil
			}
		}
		data, _ := os.ReadFile(p)
		if bytes.Contains(data, []byte(secret)) || bytes.Contains(data, []byte(b64)) {
			t.Errorf("%s holds the password", p)
		}
		return nil
	})
}

func TestLogin(t *testing.T) {
	for _, token := range []bool{false, true} {
		name := "basic"
		if token {
			name = "token"
		}
		t.Run(name, func(t *testing.T) {
			const user, pass = "alice", "c0rrect-h0rse"
			t.Setenv("PATH", t.TempDir()) // no platform credential helper
			t.Setenv("HOME", t.TempDir())
			srv := registrytest.NewServer(t, registrytest.ServerOptions{Username: user, Password: pass, Token: token})
			dir := t.TempDir()
			cfg := filepath.Join(dir, "docker", "config.json")
			var stderr bytes.Buffer
			opts := &Options{RegistryConfig: cfg, Stderr: &stderr}
			ctx := context.Background()

			// Wrong password: a clear message, ErrUnauthorized, nothing stored.
			const wrong = "wr0ng-pa55word"
			err := Login(ctx, srv.Host, user, wrong, opts)
			if err == nil {
				t.Fatal("login with a wrong password succeeded")
			}
			t.Logf("wrong password: %v", err)
			if want := "login to " + srv.Host + ": wrong username or password"; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error = %q, want prefix %q", err, want)
			}
			if !errors.Is(err, ErrUnauthorized) {
				t.Errorf("errors.Is(ErrUnauthorized) = false for %v", err)
			}
			if strings.Contains(err.Error(), wrong) || strings.Contains(stderr.String(), wrong) {
				t.Errorf("password leaked: %q / %q", err, stderr.String())
			}
			if _, err := os.Stat(cfg); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("failed login wrote %s (%v)", cfg, err)
			}

			// Right password: verified and stored base64 in the config, with a notice.
			if err := Login(ctx, srv.Host, user, pass, opts); err != nil {
				t.Fatalf("Login: %v", err)
			}
			data, err := os.ReadFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, []byte(base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))) {
				t.Errorf("config lacks the credentials:\n%s", data)
			}
			if !strings.Contains(stderr.String(), "notice: credentials for "+srv.Host+" are stored unencrypted (base64) in "+cfg) {
				t.Errorf("no plaintext notice: %q", stderr.String())
			}
			if strings.Contains(stderr.String(), pass) {
				t.Errorf("notice shows the password: %q", stderr.String())
			}
			assertSecretOnlyIn(t, dir, user, pass, cfg)
			if c := mustCred(t, srv.Host, &Options{RegistryConfig: cfg}); c.Username != user || c.Password != pass {
				t.Errorf("stored credential = %+v", c)
			}

			// Logout removes them; a second logout only notices.
			if err := Logout(ctx, srv.Host, opts); err != nil {
				t.Fatalf("Logout: %v", err)
			}
			if c := mustCred(t, srv.Host, &Options{RegistryConfig: cfg}); c != auth.EmptyCredential {
				t.Errorf("after logout: %+v", c)
			}
			stderr.Reset()
			if err := Logout(ctx, srv.Host, opts); err != nil {
				t.Fatalf("second Logout: %v", err)
			}
			if !strings.Contains(stderr.String(), "notice: not logged in to "+srv.Host) {
				t.Errorf("second logout notice: %q", stderr.String())
			}
		})
	}
}

func TestLoginCredentialHelper(t *testing.T) {
	const user, pass = "bob", "h3lper-secret"
	t.Setenv("HOME", t.TempDir())
	srv := registrytest.NewServer(t, registrytest.ServerOptions{Username: user, Password: pass})
	helper := registrytest.NewCredentialHelper(t, "", nil)
	dir := t.TempDir()
	cfg := registrytest.WriteDockerConfig(t, dir, registrytest.DockerConfig{CredsStore: helper.Name})
	var stderr bytes.Buffer
	opts := &Options{RegistryConfig: cfg, Stderr: &stderr}
	if err := Login(context.Background(), "https://"+srv.Host+"/", user, pass, opts); err != nil {
		t.Fatalf("Login: %v", err)
	}
	if got, ok := helper.Stored(srv.Host); !ok || got.Username != user || got.Password != pass {
		t.Errorf("helper holds %+v, %v", got, ok)
	}
	if strings.Contains(stderr.String(), "unencrypted") {
		t.Errorf("plaintext notice with a helper: %q", stderr.String())
	}
	assertSecretOnlyIn(t, dir, user, pass) // not even in the config
	if err := Logout(context.Background(), srv.Host, opts); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if _, ok := helper.Stored(srv.Host); ok {
		t.Error("logout left the credentials in the helper")
	}
}

func TestLoginArguments(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct{ host, user, pass, want string }{
		{"", "u", "p", `login: invalid registry host ""`},
		{"bad host", "u", "p", `login: invalid registry host "bad host"`},
		{"h.example", "", "p", "login to h.example: a username is required (-u USER)"},
		{"h.example", "u", "", "login to h.example: empty password: pass it on stdin with --password-stdin or in ECC_REGISTRY_PASSWORD"},
	} {
		err := Login(ctx, tt.host, tt.user, tt.pass, &Options{RegistryConfig: filepath.Join(t.TempDir(), "c.json")})
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Login(%q, %q): %v, want prefix %q", tt.host, tt.user, err, tt.want)
		}
	}
}

// A credential helper that prints a secret and fails: no error quotes it,
// whether getting (a pull), storing (login) or erasing (logout).
func TestCredentialHelperOutputNotQuoted(t *testing.T) {
	const secret = "hunter2-leaked-secret"
	t.Setenv("HOME", t.TempDir())
	helper := registrytest.NewLeakyCredentialHelper(t, "leaky", secret)
	reg := registrytest.NewServer(t, registrytest.ServerOptions{Username: "u", Password: "p"})
	cfg := registrytest.WriteDockerConfig(t, t.TempDir(), registrytest.DockerConfig{CredsStore: helper.Name})
	opts := &Options{RegistryConfig: cfg}
	check := func(what string, err error, action string) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		want := "credential helper docker-credential-leaky " + action + " failed (exit status 1; its output is not shown, as it may hold a secret)"
		if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", what, err)
		}
		var he *HelperError
		if !errors.As(err, &he) || he.Action != action {
			t.Errorf("%s: not a HelperError: %#v", what, err)
		}
	}
	_, err := Credential(context.Background(), reg.Host, opts)
	check("credential", err, "get")

	ref := mustRef(t, reg.Host+"/probes/x:v1")
	src, err := OpenTarget(context.Background(), ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	_, err = Pull(context.Background(), src, ref, openStore(t), nil)
	check("pull", err, "get")

	err = Login(context.Background(), reg.Host, "u", "p", opts)
	check("login", err, "store")
	err = Logout(context.Background(), reg.Host, opts)
	check("logout", err, "erase")
}
