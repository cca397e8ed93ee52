// Package tlsconf builds the TLS client configuration that registries and
// package URLs share: the system roots plus --ca-file, or no verification
// with --insecure.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// Config trusts the system roots plus the PEM certificates in caFile (when
// set); insecure skips verification altogether. TLS 1.2 at least.
func Config(caFile string, insecure bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read --ca-file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", caFile)
		}
		cfg.RootCAs = pool
	}
	cfg.InsecureSkipVerify = insecure
	return cfg, nil
}

// IsCertError reports whether err is a failed certificate verification
// (unknown authority, expired or not yet valid, wrong host name).
func IsCertError(err error) bool {
	var verr *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var hostErr x509.HostnameError
	return errors.As(err, &verr) || errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &hostErr)
}
