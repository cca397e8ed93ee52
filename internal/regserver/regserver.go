// Package regserver starts Debian's docker-registry (distribution) for
// integration tests: TLS with a self-signed certificate for 127.0.0.1 and
// htpasswd (bcrypt) authentication, on a free loopback port.
package regserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

// Server is a running docker-registry.
type Server struct {
	// Host is 127.0.0.1:PORT.
	Host string
	// CAFile is the certificate to trust (it is self-signed).
	CAFile string
	// CertDir holds ca.crt, as skopeo's --cert-dir wants it.
	CertDir string
	// User and Password are the htpasswd credentials.
	User, Password string
	// Log is the registry's output file.
	Log string

	cmd *exec.Cmd
}

// Stop ends the registry before the test does (to test offline use).
func (s *Server) Stop() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// Start runs docker-registry until the test ends; it skips (or fails with
// ECC_REQUIRE_KERNEL=1) when the binary is missing.
func Start(t *testing.T) *Server {
	t.Helper()
	bin := testenv.Tool(t, "docker-registry")
	dir := t.TempDir()
	s := &Server{User: "ecc", Password: "s3cret-" + fmt.Sprint(time.Now().UnixNano()%100000), CertDir: filepath.Join(dir, "certs")}
	os.MkdirAll(s.CertDir, 0o755)
	certPEM, keyPEM, err := selfSigned()
	if err != nil {
		t.Fatal(err)
	}
	s.CAFile = filepath.Join(s.CertDir, "ca.crt")
	keyFile := filepath.Join(dir, "key.pem")
	os.WriteFile(s.CAFile, certPEM, 0o644)
	os.WriteFile(keyFile, keyPEM, 0o600)
	hash, err := bcrypt.GenerateFromPassword([]byte(s.Password), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	os.WriteFile(htpasswd, []byte(s.User+":"+string(hash)+"\n"), 0o600)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Host = l.Addr().String()
	l.Close()
	cfg := filepath.Join(dir, "config.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  tls:
    certificate: %s
    key: %s
auth:
  htpasswd:
    realm: ecc-test
    path: %s
`, filepath.Join(dir, "data"), s.Host, s.CAFile, keyFile, htpasswd)), 0o644)
	s.Log = filepath.Join(dir, "registry.log")
	logf, _ := os.Create(s.Log)
	cmd := exec.Command(bin, "serve", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd = cmd
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		logf.Close()
	})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	deadline := time.Now().Add(15 * time.Second)
	for {
		conn, err := tls.Dial("tcp", s.Host, &tls.Config{RootCAs: pool})
		if err == nil {
			conn.Close()
			return s
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(s.Log)
			t.Fatalf("docker-registry did not start on %s: %v\n%s", s.Host, err, tail(string(log)))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// selfSigned makes a certificate for 127.0.0.1 and localhost.
func selfSigned() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "ecc test registry"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}
