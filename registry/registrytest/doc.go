// Package registrytest provides test doubles for the registry package: an
// in-process OCI registry (go-containerregistry's pkg/registry) with optional
// basic or bearer-token authentication and a request log, a fault-injecting
// proxy, a hostile registry (Hostile: traversal titles, bad layer shapes,
// huge or generated layers, oversized manifests and indexes, no answer,
// dribbled bodies), a counting http.RoundTripper, docker config.json writers
// and fake docker-credential-* helpers (one that leaks a secret on failure).
//
// Only tests import it, so go-containerregistry never links into the ecc and
// ecli binaries.
package registrytest
