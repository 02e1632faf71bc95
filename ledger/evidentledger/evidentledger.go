// Package evidentledger configures a ledger to hold Evident log entries:
// deduplicated, indexed and checked as package evidence's index schema says
// (evidence/ENTRY.md, "Indexing").
//
// It is the one place that knows both packages. Package ledger stays a
// generic log of opaque entries, and package evidence, which clients and the
// CLI use, does not link the ledger's storage. It imports neither the node's
// RPC stack nor its handlers, so `evidentd verify` opens a ledger without
// them.
package evidentledger

import (
	"fmt"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/ledger"
)

// Options returns base with the hooks that make the ledger an Evident log,
// and its schema, the entry format's and index schema's version (so that a
// ledger of other entries, or indexed otherwise, is refused):
// entries are deduplicated by envelope digest (evidence.Identity), filed
// under their index keys (Keys), and Verify checks each stored envelope
// against its entry (evidence.CheckEnvelope). The other fields are left as
// base has them.
func Options(base ledger.Options) ledger.Options {
	base.Schema = evidence.LedgerSchema
	base.Identity = evidence.Identity
	base.Index = index
	base.CheckBlob = evidence.CheckEnvelope
	return base
}

// index is the ledger's Index hook: the keys of an encoded entry.
func index(entry []byte) ([]ledger.IndexKey, error) {
	e, err := evidence.ParseEntry(entry)
	if err != nil {
		return nil, fmt.Errorf("couldn't index entry: %w", err)
	}
	return Keys(e), nil
}

// Keys returns the ledger keys of e, the same as the Index hook computes from
// e's encoding. A node that has just made e passes them to
// Ledger.AppendIndexed rather than having the ledger parse the encoding back.
func Keys(e *evidence.Entry) []ledger.IndexKey {
	ks := e.IndexKeys()
	keys := make([]ledger.IndexKey, len(ks))
	for i, k := range ks {
		keys[i] = ledger.IndexKey{Name: k.Index, Key: []byte(k.Key)}
	}
	return keys
}
