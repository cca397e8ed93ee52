package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Algorithms GenerateKey makes.
const (
	ECDSAP256 = "ecdsa-p256"
	Ed25519   = "ed25519"
)

// MaxKeyFileSize bounds a key file read.
const MaxKeyFileSize = 64 << 10

// ErrPasswordNeeded is returned for an encrypted key without a password.
var ErrPasswordNeeded = errors.New("the key is encrypted and no password was given (set COSIGN_PASSWORD)")

// Signer signs payloads with a private key.
type Signer struct {
	sv signature.SignerVerifier
	// KeyID is the SHA-256 of the public key's PKIX DER form, "sha256:HEX".
	KeyID string
}

// Key is a public key that signatures are verified with.
type Key struct {
	v signature.Verifier
	// ID is the SHA-256 of the key's PKIX DER form, "sha256:HEX".
	ID string
	// Name is where the key came from (a file name), for messages.
	Name string
}

// keyID returns "sha256:HEX" of pub's PKIX DER form.
func keyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// checkKeyType accepts ECDSA P-256 and Ed25519 keys: what cosign's keys
// are and what ecc makes.
func checkKeyType(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("ECDSA key on %s: only P-256 is accepted", k.Curve.Params().Name)
		}
		return nil
	case ed25519.PublicKey:
		return nil
	}
	return fmt.Errorf("a %T key: only ECDSA P-256 and Ed25519 keys are accepted", pub)
}

// ParsePrivateKey reads a PEM private key: PKCS#8 ("PRIVATE KEY"), SEC 1
// ("EC PRIVATE KEY"), or cosign's encrypted key file ("ENCRYPTED SIGSTORE
// PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY"), decrypted with password.
func ParsePrivateKey(data, password []byte) (*Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not a PEM private key")
	}
	encrypted := block.Type == "ENCRYPTED SIGSTORE PRIVATE KEY" || block.Type == "ENCRYPTED COSIGN PRIVATE KEY"
	if encrypted && password == nil {
		return nil, ErrPasswordNeeded
	}
	priv, err := cryptoutils.UnmarshalPEMToPrivateKey(data, func(bool) ([]byte, error) { return password, nil })
	if err != nil {
		if encrypted {
			return nil, fmt.Errorf("decrypt the key (is the password right?): %w", err)
		}
		return nil, err
	}
	sv, err := signature.LoadSignerVerifier(priv, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	pub, err := sv.PublicKey()
	if err != nil {
		return nil, err
	}
	if err := checkKeyType(pub); err != nil {
		return nil, err
	}
	id, err := keyID(pub)
	if err != nil {
		return nil, err
	}
	return &Signer{sv: sv, KeyID: id}, nil
}

// ParsePublicKey reads a PEM public key ("PUBLIC KEY", PKIX); name says
// where it came from.
func ParsePublicKey(data []byte, name string) (*Key, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", name, err)
	}
	if err := checkKeyType(pub); err != nil {
		return nil, fmt.Errorf("public key %s: %w", name, err)
	}
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", name, err)
	}
	id, err := keyID(pub)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", name, err)
	}
	return &Key{v: v, ID: id, Name: name}, nil
}

// readCapped reads name, refusing a file over max bytes; what says what
// it should be, for the message.
func readCapped(name string, max int64, what string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes: not %s", name, max, what)
	}
	return data, nil
}

// LoadPublicKey reads a PEM public key file.
func LoadPublicKey(name string) (*Key, error) {
	data, err := readCapped(name, MaxKeyFileSize, "a key file")
	if err != nil {
		return nil, err
	}
	return ParsePublicKey(data, name)
}

// LoadPublicKeys reads PEM public key files.
func LoadPublicKeys(names []string) ([]*Key, error) {
	var keys []*Key
	for _, f := range names {
		k, err := LoadPublicKey(f)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// LoadPrivateKey reads a PEM private key file; password decrypts cosign's
// encrypted key files (nil: none given).
func LoadPrivateKey(name string, password []byte) (*Signer, error) {
	data, err := readCapped(name, MaxKeyFileSize, "a key file")
	if err != nil {
		return nil, err
	}
	s, err := ParsePrivateKey(data, password)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", name, err)
	}
	return s, nil
}

// GenerateKey makes a key pair of algorithm (ECDSAP256, Ed25519) and
// returns the private key as PKCS#8 PEM and the public key as PKIX PEM.
func GenerateKey(algorithm string) (privPEM, pubPEM []byte, err error) {
	var priv crypto.PrivateKey
	var pub crypto.PublicKey
	switch algorithm {
	case ECDSAP256, "":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		priv, pub = k, k.Public()
	case Ed25519:
		p, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		priv, pub = k, p
	default:
		return nil, nil, fmt.Errorf("unknown key algorithm %q (want %s or %s)", algorithm, ECDSAP256, Ed25519)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	pubPEM, err = cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), pubPEM, nil
}

// WriteKeyPair generates a key pair and writes PREFIX.key (mode 0600) and
// PREFIX.pub, refusing to overwrite either. It returns the two file names.
func WriteKeyPair(prefix, algorithm string) (keyFile, pubFile string, err error) {
	keyFile, pubFile = prefix+".key", prefix+".pub"
	for _, f := range []string{keyFile, pubFile} {
		if _, err := os.Lstat(f); err == nil {
			return "", "", fmt.Errorf("%s exists: %w", f, os.ErrExist)
		}
	}
	privPEM, pubPEM, err := GenerateKey(algorithm)
	if err != nil {
		return "", "", err
	}
	if err := writeNew(keyFile, privPEM, 0o600); err != nil {
		return "", "", err
	}
	if err := writeNew(pubFile, pubPEM, 0o644); err != nil {
		os.Remove(keyFile)
		return "", "", err
	}
	return keyFile, pubFile, nil
}

// writeNew creates name, failing if it exists.
func writeNew(name string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(name)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return err
	}
	return nil
}
