package sign

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

func TestWriteKeyPair(t *testing.T) {
	for _, alg := range []string{ECDSAP256, Ed25519} {
		t.Run(alg, func(t *testing.T) {
			prefix := filepath.Join(t.TempDir(), "ecc")
			keyFile, pubFile, err := WriteKeyPair(prefix, alg)
			if err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("private key %s: %v %v", keyFile, fi.Mode(), err)
			}
			data, _ := os.ReadFile(keyFile)
			if !strings.HasPrefix(string(data), "-----BEGIN PRIVATE KEY-----") {
				t.Errorf("private key is not PKCS#8 PEM:\n%s", data)
			}
			loadPair(t, keyFile, pubFile)
			if _, _, err := WriteKeyPair(prefix, alg); !errors.Is(err, os.ErrExist) {
				t.Errorf("second WriteKeyPair: %v", err)
			}
			after, _ := os.ReadFile(keyFile)
			if string(after) != string(data) {
				t.Error("the private key was overwritten")
			}
		})
	}
	if _, _, err := WriteKeyPair(filepath.Join(t.TempDir(), "x"), "rsa"); err == nil {
		t.Error("an unknown algorithm was accepted")
	}
}

func TestEncryptedKey(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// cosign generate-key-pair writes this shape.
	der, err := cryptoutils.MarshalPrivateKeyToEncryptedDER(k, func(bool) ([]byte, error) { return []byte("pw"), nil })
	if err != nil {
		t.Fatal(err)
	}
	pemData := cryptoutils.PEMEncode(cryptoutils.PEMType("ENCRYPTED SIGSTORE PRIVATE KEY"), der)
	if _, err := ParsePrivateKey(pemData, nil); !errors.Is(err, ErrPasswordNeeded) {
		t.Errorf("no password: %v", err)
	}
	if _, err := ParsePrivateKey(pemData, []byte("wrong")); err == nil {
		t.Error("a wrong password decrypted the key")
	}
	s, err := ParsePrivateKey(pemData, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := keyID(k.Public()); id != s.KeyID {
		t.Errorf("key ID %s, want %s", s.KeyID, id)
	}
}

func TestRefusedKeys(t *testing.T) {
	priv, pub := opensslKey(t, "p384", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384")
	if _, err := LoadPrivateKey(priv, nil); err == nil || !strings.Contains(err.Error(), "P-256") {
		t.Errorf("P-384 private key: %v", err)
	}
	if _, err := LoadPublicKey(pub); err == nil {
		t.Error("a P-384 public key was accepted")
	}
	if _, err := ParsePublicKey([]byte("junk"), "junk"); err == nil {
		t.Error("junk was accepted as a public key")
	}
	if _, err := LoadPublicKey(priv); err == nil {
		t.Error("a private key was accepted as a public key")
	}
}
