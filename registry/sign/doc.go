// Package sign signs and verifies packages on registries, OCI layouts and
// archives in cosign's format, so that cosign and ecc accept each other's
// signatures (without a transparency log).
//
// A signature signs one digest — of an index for a multi-arch package —
// with cosign's simple-signing payload, stored as a layer of the manifest
// tagged sha256-HEX.sig; that manifest names the digest as its subject,
// so it is an OCI 1.1 referrer too (registry.Attach, registry.Referrers).
// Verify reads both, bounded and digest-checked, and accepts a signature
// only when it verifies with a key given and its payload names the digest
// verified. Policy says which keys must have signed what, per registry or
// repository; source.Open applies it to the digest it then pulls.
//
// Keys are ECDSA P-256 and Ed25519: PKCS#8 or SEC 1 PEM, and cosign's
// encrypted key files (github.com/sigstore/sigstore reads and signs).
// docs/security.md, "Signing and verifying", describes the format, the
// checks and the policy file.
package sign
