// Package store is ecc's local store: an OCI image layout shared by every
// ecc and ecli process of a user, safe across processes. A Store is an
// oras.GraphTarget whose tags are full references (ghcr.io/org/probe:v1);
// package registry pulls into it, ecli run and ecc inspect read from it.
//
// On disk (DIR is DefaultDir unless told otherwise):
//
//	DIR/oci-layout            {"imageLayoutVersion":"1.0.0"}
//	DIR/index.json            an OCI image index; each named image is one entry
//	                          whose org.opencontainers.image.ref.name annotation
//	                          holds the FULL reference (ghcr.io/org/probe:v1)
//	DIR/blobs/sha256/HEX      content, immutable once renamed into place
//	DIR/.lock                 the advisory flock(2) lock of the store
//	DIR/ingest/               blobs being written, index.json being rewritten,
//	                          and one session file per open Store that pinned
//	                          content (all removed on success / Close)
//
// Locking. Every file under blobs/ and index.json is replaced by rename and
// never modified in place, so a single-file read (Fetch, Resolve of a name)
// needs no lock. Operations that must see a consistent graph take the shared
// lock (List, Predecessors, Resolve by digest); operations that change
// index.json take the exclusive lock, re-read index.json under it and write it
// back atomically (temp file, fsync, rename, fsync DIR): Tag, TagRef, Remove
// and the garbage collection Remove runs, and Push of a manifest that has a
// subject (a referrer, e.g. a signature, is kept as an untagged index entry).
// Pushing a blob streams it to DIR/ingest without any lock, verifying size and
// digest; only the final rename takes the shared lock, so a large download
// never blocks other processes. Blobs are not fsynced (reads verify digests,
// so a blob torn by a crash is found and fetched again); index.json is.
//
// Pins. A pull pushes blobs before it names them, so a garbage collection run
// by another process in between must not delete them. Content a Store pushes,
// reports as existing (Exists) or resolves is therefore pinned: recorded in
// the Store's session file DIR/ingest/session-*, which the Store holds
// flock'ed while it is open. The collector treats the pins of live sessions as
// roots (a session file whose lock can be taken belongs to a dead process and
// is deleted, as are abandoned ingest files). Tagging a root releases the pins
// the tagging Store holds on everything reachable from it; Close releases the
// rest. Pinning happens under the shared lock, so it is atomic with respect to
// the collector, which holds the exclusive one.
//
// Staging. Push is Stage and Commit of one blob. A pull stages every blob it
// fetches (Stage: streamed into DIR/ingest, verified, flock'ed) and commits
// them together once all have arrived and the package reads (Commit, in an
// order that puts no manifest before its content), so a failed pull leaves
// the store as it was.
package store
