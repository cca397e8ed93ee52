// Package commands holds what the CLIs ecc and ecli share: the verbs both
// have (one file each: login, logout, pull, images, tag, inspect, version,
// completion), the flags that turn into library Options (registryflags.go,
// source.go), progress and the local store (progress.go, store.go), and
// the error printing of both mains (advice.go): the error line, then the
// advice line that says what to do next.
package commands
