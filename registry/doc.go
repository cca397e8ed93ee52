// Package registry moves ecc packages between registries and local folders
// with oras-go/v2: it parses references, resolves credentials, builds
// authenticated registry clients and opens push/pull targets.
//
// # References
//
// ParseReference accepts three forms:
//
//	host[:port]/repo/path[:tag|@sha256:…]   a registry (ghcr.io/org/probe:v1, localhost:5000/x, [::1]:5000/x)
//	oci:DIR[:tag|@digest]                   an OCI image layout folder
//	oci-archive:FILE.tar[:tag|@digest]      the same layout as one tar file
//
// The registry host is required (there is no implicit docker.io; write
// docker.io/library/NAME). A missing tag means "latest". In the layout forms
// the text after the last ':' is a tag only when it is a valid tag and holds
// no '/', so oci:out:v1 is the folder "out" with tag v1; a folder whose name
// itself ends in ":word" needs an explicit tag (oci:dir:word:latest). The
// prefixes "oci:" and "oci-archive:" always mean a layout, never a registry
// host of that name.
//
// # Credentials
//
// For a registry operation the credential is, in this order:
//
//  1. Options.Username and Options.Password, when set. The CLI fills them from
//     -u with --password-stdin, or from ECC_REGISTRY_USERNAME and
//     ECC_REGISTRY_PASSWORD (see CredentialsFromEnv). They are sent only to the
//     registry named in the reference.
//  2. The docker config file: Options.RegistryConfig (--registry-config),
//     else $DOCKER_CONFIG/config.json, else ~/.docker/config.json. Its
//     credHelpers entry for the host wins over credsStore, which wins over the
//     "auths" entries (base64 user:password or an identitytoken). Helpers are
//     the docker-credential-NAME programs on PATH; secrets reach them on
//     stdin, never in arguments. oras-go's credentials package does the work.
//
// Login checks the credentials against the registry (GET /v2/) before
// storing them where docker would: the host's credential helper, the
// credsStore, an auto-detected platform helper when the file configures none,
// or else base64 in the config file (with a notice that they are unencrypted).
// Passwords never appear in errors, notices or process arguments.
//
// # Transport
//
// TLS is verified against the system roots plus Options.CAFile; Insecure
// skips verification. Plain HTTP is used when Options.PlainHTTP is set, and
// automatically (with a one-line notice) for loopback hosts — localhost,
// 127.0.0.0/8 and ::1 — unless RequireTLS (--plain-http=false), CAFile or
// Insecure asks for HTTPS. Requests go through a per-client token cache and
// carry the User-Agent ecc/VERSION. Options.WrapTransport lets tests and
// benchmarks observe every HTTP attempt.
//
// Every request fails with a TimeoutError (ErrTimeout) naming the host and
// what stalled once the registry has gone Options.Timeout (DefaultTimeout,
// --timeout) without accepting the connection, sending response headers, or
// moving another 1 KiB of a transfer; such failures are not retried.
//
// # Retries
//
// Push, Pull and Login retry, in one place (there is no retrying transport
// below them): what failed on the registry's side (5xx, 429) or was cut off
// (a connection reset, refused or closed, a body that ended early) is tried
// again, up to PushOptions.Retries or PullOptions.Retries (DefaultRetries)
// more times, after 200 ms, 400 ms, 600 ms…. A push sends again only the
// blobs the registry still lacks; a pull fetches again only what failed
// (the index and manifest, or one blob). Authentication, not-found, limit,
// timeout, certificate, digest and validation errors are final, and so is a
// registry name that does not resolve. The
// methods of a Target do not retry on their own.
//
// # Pulls
//
// Pull and PullTo fetch the index, the manifest of one platform and its
// blobs, nothing else, and check the manifest's shape and declared sizes
// (Limits: --max-bytes, --max-manifests; errors wrap ErrLimit) before any
// layer is fetched; what a reference may name, and what an index may list,
// is packager.CheckManifestType's to say, for pulls and Load alike. Blobs
// stream into the ingest folder of the local store (package registry/store),
// verified while written; the store changes only when all have arrived and
// the package reads. PullTo (and WriteFiles) write the package's files
// through an os.Root, named only by plain names (packager.ValidName), and
// never over a file already there unless PullOptions.Overwrite
// (*ExistsError, before the store changes).
//
// # Progress
//
// Push and Pull print nothing. PushOptions.Progress and
// PullOptions.Progress, when set, are told the bytes of the blobs to move
// and each step as it happens (uploads are counted below the auth layer, as
// the HTTP client sends them; downloads as the store takes them), every
// byte once however often a blob is retried; the command line draws that
// as a bar.
//
// # Copy engine
//
// Push and Pull move blobs with ecc's own engine (copy.go), not with
// oras.Copy and its hooks (MapRoot to choose the platform, PreCopy and
// OnCopySkipped for progress). oras.Copy would do the job in more requests
// and without what a pull needs. For a two-platform package it sends 18
// requests to push where ecc sends 15 (it HEADs each manifest before putting
// it), and 4 to pull one platform where ecc sends 3 (it fetches the metadata
// the manifest embeds); TestCopyRequests counts both and fails if oras.Copy
// catches up. It stores each blob as it arrives, where a pull leaves the
// store as it was until the package reads; with MapRoot the store would
// name the platform's manifest rather than the index; and a blob cut off
// midway would restart the whole copy. Against the oras CLI on a loopback
// docker-registry (go run ./bench -only oci -n 11, execsnoop; medians of
// eight runs on a shared two-core machine, where single runs move by ±10%),
// ecc takes 0.87× the CLI's time to push and 0.99× to pull, in as many
// requests (8 and 3); the same as before this engine moved into copy.go.
// Copies between targets (an oci-archive to a registry and back) are
// oras.Copy's on the targets OpenTarget returns.
//
// # Targets
//
// OpenTarget returns an oras.GraphTarget that must be closed:
//
//   - a registry repository (its Close only drops idle connections);
//   - oci:DIR, an oras-go content/oci store. Reading never creates DIR; the
//     layout is created on the first write. A non-empty folder without an
//     oci-layout file is refused rather than turned into a layout;
//   - oci-archive:FILE.tar. An existing archive is extracted into a private
//     temporary folder and served from there. Writes go to that folder, and
//     Close writes the whole layout back as a new tar (deterministic order
//     and timestamps) into a temporary file next to FILE that is then
//     renamed over it, so readers never see a half-written archive. Close
//     rewrites the archive only if a manifest was stored or a tag was set,
//     so a push that fails while uploading blobs leaves FILE untouched.
//     Extraction accepts only plain relative files and folders, at most
//     MaxArchiveEntries of them and Limits.MaxBytes in all.
//
// # Errors
//
// Failures are classified under the sentinel errors below (test them with
// errors.Is; the original oras-go error stays in the chain). Most are an
// *Error naming the registry host and the reference, from which a command
// line says what to do next ("run 'ecc login HOST'"); the messages of this
// package do not.
package registry
