package store

import "sync"

// Memo holds values sibling packages derive from this store's committed
// records (a calculator built from a service version, say). It lives and
// dies with the open store, so two stores in one process never answer for
// each other. Callers store only what a committed transaction read.
func (tx *Tx) Memo() *sync.Map { return &tx.s.memo }
