package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/credentials/trace"
)

// Environment variables read by CredentialsFromEnv.
const (
	EnvUsername = "ECC_REGISTRY_USERNAME"
	EnvPassword = "ECC_REGISTRY_PASSWORD"
)

// CredentialsFromEnv returns $ECC_REGISTRY_USERNAME and
// $ECC_REGISTRY_PASSWORD. The CLI puts them in Options when -u and
// --password-stdin are absent, so secrets never have to be command-line
// arguments (which other users can read in /proc).
func CredentialsFromEnv() (username, password string) {
	return os.Getenv(EnvUsername), os.Getenv(EnvPassword)
}

// ConfigPath returns the docker config file used for credentials:
// opts.RegistryConfig, else $DOCKER_CONFIG/config.json, else
// ~/.docker/config.json. The file need not exist.
func ConfigPath(opts *Options) (string, error) {
	opts = opts.orDefault()
	if opts.RegistryConfig != "" {
		return opts.RegistryConfig, nil
	}
	if dir := os.Getenv("DOCKER_CONFIG"); dir != "" {
		return filepath.Join(dir, "config.json"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the docker config: %w (pass --registry-config FILE)", err)
	}
	return filepath.Join(home, ".docker", "config.json"), nil
}

// credentialStore opens the docker config with oras-go: credHelpers, then
// credsStore, then a detected platform helper when the file configures no
// credentials at all, then "auths". forWrite allows storing base64
// credentials in the file when no helper applies (as docker does).
func credentialStore(opts *Options, forWrite bool) (*credentials.DynamicStore, string, error) {
	path, err := ConfigPath(opts)
	if err != nil {
		return nil, "", err
	}
	store, err := credentials.NewStore(path, credentials.StoreOptions{
		AllowPlaintextPut:        forWrite,
		DetectDefaultNativeStore: true,
	})
	if err != nil {
		return nil, path, fmt.Errorf("read registry credentials: %w (fix or move the file, or pass --registry-config FILE)", err)
	}
	return store, path, nil
}

// credentialHost is the name auth.Client asks credentials for.
func credentialHost(registry string) string {
	if registry == "docker.io" {
		return "registry-1.docker.io"
	}
	return registry
}

// credentialFunc returns the credential resolution for a client talking to
// registry: explicit Options.Username/Password (for that registry only), else
// the docker config and its helpers.
func credentialFunc(registry string, opts *Options) (auth.CredentialFunc, error) {
	if opts.Username != "" || opts.Password != "" {
		if opts.Username == "" {
			return nil, fmt.Errorf("a password was given without a username: pass -u USER or set %s", EnvUsername)
		}
		if opts.Password == "" {
			return nil, fmt.Errorf("username %q was given without a password: pass --password-stdin or set %s", opts.Username, EnvPassword)
		}
		return auth.StaticCredential(registry, auth.Credential{Username: opts.Username, Password: opts.Password}), nil
	}
	store, path, err := credentialStore(opts, false)
	if err != nil {
		return nil, err
	}
	get := credentials.Credential(store)
	return func(ctx context.Context, hostport string) (auth.Credential, error) {
		ctx, helpers := traceHelpers(ctx)
		cred, err := get(ctx, hostport)
		if err != nil {
			return auth.EmptyCredential, fmt.Errorf("get credentials for %s (config %s): %w", hostport, path, helpers.redactGet(err, hostport))
		}
		return cred, nil
	}, nil
}

// helperRuns records the credential helpers (docker-credential-NAME) run
// under a context, so that a failure is reported by the helper's name and
// exit status only: the docker protocol has helpers print their error on
// stdout, where a secret may be, and oras-go turns that output into the
// error text.
type helperRuns struct {
	mu     sync.Mutex
	ran    *HelperError // the last helper run, whatever its end
	failed *HelperError
}

// HelperError is a credential helper that failed. Its text never includes
// the helper's output.
type HelperError struct {
	// Helper is the program (docker-credential-NAME), Action get, store,
	// erase or list.
	Helper, Action string
	// Status is how it ended: "exit status 1", or why it did not run.
	Status string
}

func (e *HelperError) Error() string {
	return fmt.Sprintf("credential helper %s %s failed (%s; its output is not shown, as it may hold a secret)", e.Helper, e.Action, e.Status)
}

// AuthEntryError is an "auths" entry of the docker config that does not
// decode: its "auth" is not base64 of user:password. It does not wrap
// oras-go's error, whose text quotes the decoded value, a secret.
type AuthEntryError struct {
	// Host is the server the entry is for.
	Host string
}

func (e *AuthEntryError) Error() string {
	return fmt.Sprintf("the \"auths\" entry for %s is malformed: its \"auth\" is not base64 of user:password", e.Host)
}

func traceHelpers(ctx context.Context) (context.Context, *helperRuns) {
	h := &helperRuns{}
	return trace.WithExecutableTrace(ctx, &trace.ExecutableTrace{
		ExecuteStart: func(name, action string) {
			h.mu.Lock()
			h.ran = &HelperError{Helper: name, Action: action}
			h.mu.Unlock()
		},
		ExecuteDone: func(name, action string, err error) {
			if err == nil {
				return
			}
			status := "it did not run"
			var exit *exec.ExitError
			var notRun *exec.Error
			switch {
			case errors.As(err, &exit):
				status = exit.ProcessState.String()
			case errors.As(err, &notRun):
				status = notRun.Err.Error()
			}
			h.mu.Lock()
			h.failed = &HelperError{Helper: name, Action: action, Status: status}
			h.mu.Unlock()
		},
	}), h
}

// redact replaces an error of storing or erasing credentials by the
// failure of the helper that caused it, if one failed. Those operations
// decode no stored secret, so their other errors (writing the config
// file) are kept.
func (h *helperRuns) redact(err error) error {
	if err == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failed != nil {
		return h.failed
	}
	return err
}

// redactGet replaces an error of looking up host's credentials, whose
// text may quote a secret, by where it came from: a helper that failed,
// a helper whose answer did not decode, or else the config file's
// "auths" entry for host, the one thing a lookup in the file decodes.
func (h *helperRuns) redactGet(err error, host string) error {
	if err == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.failed != nil:
		return h.failed
	case h.ran != nil:
		return &HelperError{Helper: h.ran.Helper, Action: h.ran.Action, Status: "its answer is not credentials"}
	}
	return &AuthEntryError{Host: host}
}

// Credential returns the credential a registry operation on host would use,
// following the order in the package documentation. An empty credential
// (auth.EmptyCredential) means anonymous access.
func Credential(ctx context.Context, host string, opts *Options) (auth.Credential, error) {
	opts = opts.orDefault()
	fn, err := credentialFunc(host, opts)
	if err != nil {
		return auth.EmptyCredential, err
	}
	return fn(ctx, credentialHost(host))
}

// normalizeHost accepts what docker login accepts: host[:port], optionally
// as a URL (https://host/...).
func normalizeHost(host string) string {
	h := strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://")
	if i := strings.IndexByte(h, '/'); i >= 0 {
		h = h[:i]
	}
	if h == "index.docker.io" || h == "registry-1.docker.io" {
		h = "docker.io"
	}
	return h
}

// putRecorder remembers whether storing failed, to tell a storage failure
// from a rejected login in credentials.Login's error.
type putRecorder struct {
	credentials.Store
	putErr error
}

func (p *putRecorder) Put(ctx context.Context, server string, cred auth.Credential) error {
	p.putErr = p.Store.Put(ctx, server, cred)
	return p.putErr
}

// Login checks username and password against the registry host (a GET /v2/
// with them, through the token exchange when the registry asks for it) and
// stores them as docker would: in the host's credential helper, the
// credsStore, or base64-encoded in the config file (a notice then says so).
// A rejected login gives "login to HOST: wrong username or password"
// wrapping ErrUnauthorized. For ghcr.io a GitHub token works as the password.
func Login(ctx context.Context, host, username, password string, opts *Options) error {
	opts = opts.orDefault()
	host = normalizeHost(host)
	if err := validHost(host); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	if username == "" {
		return fmt.Errorf("login to %s: a username is required (-u USER)", host)
	}
	if password == "" {
		return fmt.Errorf("login to %s: empty password: pass it on stdin with --password-stdin or in %s", host, EnvPassword)
	}
	store, path, err := credentialStore(opts, true)
	if err != nil {
		return fmt.Errorf("login to %s: %w", host, err)
	}
	// The client carries the credentials being checked, not Options' own.
	copts := *opts
	copts.Username, copts.Password = username, password
	c, err := newRegistryClient(host, &copts)
	if err != nil {
		return fmt.Errorf("login to %s: %w", host, err)
	}
	defer c.close()
	reg, err := remote.NewRegistry(host)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	reg.PlainHTTP = c.plainHTTP
	reg.Client = c.auth
	rec := &putRecorder{Store: store}
	ctx, helpers := traceHelpers(ctx)
	err = withRetries(ctx, 0, func() error {
		return credentials.Login(ctx, rec, reg, auth.Credential{Username: username, Password: password})
	})
	switch {
	case err == nil:
	case rec.putErr != nil:
		return fmt.Errorf("login to %s: the credentials are valid but storing them failed (config %s): %w", host, path, helpers.redact(rec.putErr))
	case errStatusCode(err) == http.StatusUnauthorized:
		return &Error{Kind: ErrWrongCredentials, Host: host, Ref: host, Err: err,
			msg: fmt.Sprintf("login to %s: wrong username or password", host)}
	default:
		return fmt.Errorf("login to %s: %w", host, classify(err, host, ""))
	}
	if plain, _ := storedInFile(path, credentials.ServerAddressFromRegistry(host)); plain {
		opts.notice("credentials for %s are stored unencrypted (base64) in %s; set a credsStore (docker-credential-*) helper to avoid it", host, path)
	}
	return nil
}

// storedInFile reports whether the config at path keeps server's credentials
// itself ("auths") rather than in a helper.
func storedInFile(path, server string) (bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	var cfg struct {
		Auths       map[string]json.RawMessage `json:"auths"`
		CredsStore  string                     `json:"credsStore"`
		CredHelpers map[string]string          `json:"credHelpers"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return false, err
	}
	if cfg.CredHelpers[server] != "" || cfg.CredsStore != "" {
		return false, nil
	}
	_, ok := cfg.Auths[server]
	return ok, nil
}

// Logout removes the stored credentials of host from the helper or config
// file that holds them. Logging out when not logged in prints a notice and
// succeeds.
func Logout(ctx context.Context, host string, opts *Options) error {
	opts = opts.orDefault()
	host = normalizeHost(host)
	if err := validHost(host); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	store, path, err := credentialStore(opts, true)
	if err != nil {
		return fmt.Errorf("logout from %s: %w", host, err)
	}
	server := credentials.ServerAddressFromRegistry(host)
	ctx, helpers := traceHelpers(ctx)
	if cred, err := store.Get(ctx, server); err == nil && cred == auth.EmptyCredential {
		opts.notice("not logged in to %s", host)
		return nil
	}
	if err := credentials.Logout(ctx, store, host); err != nil {
		return fmt.Errorf("logout from %s (config %s): %w", host, path, helpers.redact(err))
	}
	return nil
}
