package commands

import "github.com/ecc-bpf/ecc/registry/store"

// OpenStore opens the local store ($ECC_STORE_DIR or the XDG data dir).
func OpenStore() (*store.Store, error) {
	return store.Open(store.DefaultDir())
}
