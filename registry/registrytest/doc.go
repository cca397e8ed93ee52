// Package registrytest provides test doubles for the registry package: an
// in-process OCI registry (go-containerregistry's pkg/registry) with optional
// basic or bearer-token authentication and a request log, a fault-injecting
// proxy, a counting http.RoundTripper, docker config.json writers and a fake
// docker-credential-* helper.
//
// Only tests import it, so go-containerregistry never links into the ecc and
// ecli binaries.
package registrytest
