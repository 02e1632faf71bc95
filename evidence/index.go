package evidence

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// A node's ledger deduplicates entries by Identity, files them under
// IndexKeys and checks each stored envelope with CheckEnvelope: the schema
// of its indexes, ENTRY.md's "Indexing". They are here, beside the entry
// format, rather than in the node, so that whatever opens a ledger (the node,
// `evidentd verify`) reads it the same way. Package ledger/evidentledger
// hands them to package ledger, which knows nothing of entries.

// Index names: the node's secondary indexes (ENTRY.md, "Indexing").
const (
	IndexRelease   = "release"   // each subject's canonical purl without qualifiers and subpath
	IndexPackage   = "package"   // each subject's canonical purl without version, qualifiers and subpath
	IndexDigest    = "digest"    // each subject digest, alg:value, lowercased
	IndexPredicate = "predicate" // the predicate type, as written
	// IndexPackageLevel files evidence about a whole package (a subject
	// without a version) under the package's canonical purl, so that a
	// query for any release of it finds the evidence too.
	IndexPackageLevel = "package-level"
	// IndexDocument files an entry under its document's digest,
	// "sha256:<hex>".
	IndexDocument = "document"
	// IndexLineage files an entry that is not a withdrawal under
	// LineageKey(kind, series, signers, subject) for each of its status subjects
	// (STATUS.md): newest first, the lineage's first item that is not
	// withdrawn is current, and the rest are superseded.
	IndexLineage = "lineage"
	// IndexWithdrawal files a withdrawal under each of its status subjects,
	// so that an answer about a release reads the few withdrawals about it
	// rather than asking of every item whether it was withdrawn.
	IndexWithdrawal = "withdrawal"
)

// LedgerSchema names the entry format and the index schema of a node's
// ledger (ledger.Options.Schema): a ledger indexed by an earlier schema is
// refused rather than answered from incomplete indexes. Index 2 added the
// lineage and withdrawal indexes.
const LedgerSchema = EntryHeader + " index/3"

// IndexKey is one key an entry is filed under: Key in the index Index.
type IndexKey struct {
	Index string
	Key   string
}

// IndexKeys returns the keys a node files e under, each once.
func (e *Entry) IndexKeys() []IndexKey {
	// An entry has a handful of keys: a linear search finds repeats
	// sooner than a map.
	keys := make([]IndexKey, 0, 10)
	add := func(index, key string) {
		for _, k := range keys {
			if k.Index == index && k.Key == key {
				return
			}
		}
		keys = append(keys, IndexKey{Index: index, Key: key})
	}
	for _, r := range e.Releases() {
		add(IndexRelease, r)
	}
	for _, p := range e.Packages() {
		add(IndexPackage, p)
	}
	for _, p := range e.PackageLevel() {
		add(IndexPackageLevel, p)
	}
	for _, d := range e.Digests() {
		add(IndexDigest, strings.ToLower(d))
	}
	if _, ok := e.WithdrawnEnvelope(); ok {
		for _, s := range e.StatusSubjects() {
			add(IndexWithdrawal, s)
		}
	} else {
		for _, s := range e.StatusSubjects() {
			add(IndexLineage, LineageKey(e.Kind, e.Series(), e.Signers, s))
		}
	}
	add(IndexPredicate, e.PredicateType)
	add(IndexDocument, "sha256:"+hex.EncodeToString(e.Document.Digest[:]))
	return keys
}

// Identity returns the deduplication key of an encoded entry: its envelope
// digest, so that the same envelope submitted twice is logged once. ENTRY.md
// fixes where the digest is (the second line, after "envelope sha256:" and
// before a space), so it is read from there
// rather than by parsing the whole entry: the index keys are computed from a
// full parse on the same path. A node logs only entries it made, so a
// malformed one is a bug; it gets a key of its own, the SHA-256 of its bytes,
// rather than a key it would share with other malformed entries.
func Identity(entry []byte) [32]byte {
	const prefix = EntryHeader + "\nenvelope sha256:"
	var d [32]byte
	if len(entry) > len(prefix)+64 && string(entry[:len(prefix)]) == prefix && entry[len(prefix)+64] == ' ' {
		if _, err := hex.Decode(d[:], entry[len(prefix):len(prefix)+64]); err == nil {
			return d
		}
	}
	return sha256.Sum256(entry)
}

// CheckEnvelope checks that envelope is the one the encoded entry names: its
// SHA-256 digest and size.
func CheckEnvelope(entry, envelope []byte) error {
	e, err := ParseEntry(entry)
	if err != nil {
		return err
	}
	if sha256.Sum256(envelope) != e.EnvelopeDigest || int64(len(envelope)) != e.EnvelopeSize {
		return errors.New("the stored envelope is not the one its entry names")
	}
	return nil
}
