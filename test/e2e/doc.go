// Package e2e holds the end-to-end tests: they build the real ecc and ecli
// binaries once (TestMain) and drive them as a user would, from C source
// to events printed by a program running in the kernel, through ecc init
// projects and their Makefiles and workflows, registries (Debian's
// docker-registry with TLS, in-process and hostile ones), the local store
// and Wasm packages. Library calls appear only where a test needs to look
// inside (packager.ReadFile of what ecc pull wrote).
//
// The tests that need clang, root or BPF skip with the reason, and fail
// instead under ECC_REQUIRE_KERNEL=1 (make test), through internal/testenv.
// The package has no code of its own.
package e2e
