package client

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/policy"
)

// ErrVerification is wrapped by every error that says something a node or a
// bundle presented failed verification (as opposed to errors reaching the
// node). The concrete error is a [*VerificationError].
var ErrVerification = errors.New("verification failed")

// VerificationError says which part of an evidence item failed verification
// and why.
type VerificationError struct {
	// Part names what failed: one of the Part constants.
	Part string
	// Err is the reason.
	Err error
}

// Parts of an evidence item, as named in a [VerificationError].
const (
	PartCheckpoint = "checkpoint"      // the log's signature on the checkpoint
	PartQuorum     = "witness quorum"  // cosignatures required by the policy
	PartProof      = "inclusion proof" // the Merkle proof, or its form
	PartEntry      = "entry"           // the log entry's encoding
	PartEnvelope   = "envelope"        // the envelope's digest, size or form
	PartDocument   = "document"        // the document's digest or size
	PartSignature  = "signature"       // the DSSE signature of the signer
	PartStatement  = "statement"       // the statement doesn't match the entry
	PartSigner     = "signer"          // the signer isn't one the caller trusts
)

func (e *VerificationError) Error() string {
	return e.Part + ": " + e.Err.Error()
}

// Unwrap returns the reason and [ErrVerification], so that errors.Is works
// for both.
func (e *VerificationError) Unwrap() []error { return []error{ErrVerification, e.Err} }

func verr(part, format string, args ...any) *VerificationError {
	return &VerificationError{Part: part, Err: fmt.Errorf(format, args...)}
}

// VerifiedCheckpoint is a checkpoint whose log signature verified, and whose witness
// cosignatures met the quorum of the policy it was verified with, if any.
// Only [VerifyCheckpoint] makes one.
type VerifiedCheckpoint struct {
	// The checkpoint body: origin, tree size, root hash.
	checkpoint.Checkpoint
	// Note is the signed note exactly as the log served it, including any
	// witness cosignatures.
	Note []byte
}

// MaxNoteSize bounds a signed checkpoint note: a checkpoint body, the log's
// signature and the cosignatures of a few dozen witnesses.
const MaxNoteSize = checkpoint.MaxBodySize + 16<<10

// VerifyCheckpoint verifies a signed checkpoint note: it must be signed by
// one of logKeys under the name that is its origin line
// (c2sp.org/tlog-checkpoint: the key name is the origin), and, when pol is
// not nil, carry cosignatures meeting pol's quorum. Errors are
// [*VerificationError]s for [PartCheckpoint] or [PartQuorum].
func VerifyCheckpoint(signed []byte, logKeys []note.Verifier, pol *policy.WitnessPolicy) (*VerifiedCheckpoint, error) {
	if len(signed) > MaxNoteSize {
		return nil, verr(PartCheckpoint, "note is %d bytes, more than %d", len(signed), MaxNoteSize)
	}
	if len(logKeys) == 0 {
		return nil, verr(PartCheckpoint, "no log key to verify it with")
	}
	n, err := openNote(signed, logKeys)
	if err != nil {
		var unknown *note.UnverifiedNoteError
		if errors.As(err, &unknown) {
			origin, _, _ := bytes.Cut(signed, []byte("\n"))
			return nil, verr(PartCheckpoint, "not signed by a log key you trust (the note says it is from %q; "+
				"check the log key configured for this node)", truncate(string(origin)))
		}
		return nil, verr(PartCheckpoint, "bad signed note: %v", err)
	}
	c, err := checkpoint.Parse([]byte(n.Text))
	if err != nil {
		return nil, verr(PartCheckpoint, "%v", err)
	}
	signedByOrigin := false
	for _, s := range n.Sigs {
		for _, k := range logKeys {
			if s.Name == c.Origin && k.Name() == s.Name && k.KeyHash() == s.Hash {
				signedByOrigin = true
			}
		}
	}
	if !signedByOrigin {
		return nil, verr(PartCheckpoint, "origin %q is not the name of the log key that signed it", truncate(c.Origin))
	}
	if pol != nil {
		if err := checkQuorum(pol, signed); err != nil {
			return nil, &VerificationError{Part: PartQuorum, Err: err}
		}
	}
	return &VerifiedCheckpoint{Checkpoint: c, Note: bytes.Clone(signed)}, nil
}

// openNote opens a signed note with any of keys. The same key may be given
// twice (say, from a configuration and a policy), which note.Open calls
// ambiguous; keys sharing a name and key hash are tried in turn instead.
func openNote(signed []byte, keys []note.Verifier) (*note.Note, error) {
	type id struct {
		name string
		hash uint32
	}
	var lists [][]note.Verifier
	seen := make(map[id]int)
	for _, k := range keys {
		i := seen[id{k.Name(), k.KeyHash()}]
		seen[id{k.Name(), k.KeyHash()}]++
		if i == len(lists) {
			lists = append(lists, nil)
		}
		lists[i] = append(lists[i], k)
	}
	var first error
	for _, l := range lists {
		n, err := note.Open(signed, note.VerifierList(l...))
		if err == nil {
			return n, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// Evidence is one evidence item as a node or a bundle presents it.
type Evidence struct {
	// Index is the entry's position in the log.
	Index uint64
	// Entry is the log entry, exactly the bytes of the Merkle leaf.
	Entry []byte
	// Proof is the RFC 6962 inclusion proof of the entry in the checkpoint's
	// tree, leaf to root.
	Proof [][]byte
	// Envelope is the DSSE envelope, or nil if it was not fetched.
	Envelope []byte
}

// VerifyEvidence checks that ev is included in the tree of cp and that its
// entry is well formed; if ev.Envelope is set, also that the envelope is the
// one the entry commits to (its SHA-256 and size). It does not check the
// envelope's signatures: that needs the signers' public keys, which
// [VerifyBundle] has. It returns the parsed entry. Errors are
// [*VerificationError]s.
func VerifyEvidence(cp *VerifiedCheckpoint, ev *Evidence) (*evidence.Entry, error) {
	if cp == nil {
		return nil, verr(PartCheckpoint, "no verified checkpoint")
	}
	if ev.Index >= cp.Size {
		return nil, verr(PartProof, "index %d is not below the tree size %d of checkpoint %s", ev.Index, cp.Size, cp.Checkpoint)
	}
	if len(ev.Entry) > evidence.MaxEntrySize {
		return nil, verr(PartEntry, "is %d bytes, over the %d-byte limit", len(ev.Entry), evidence.MaxEntrySize)
	}
	for i, h := range ev.Proof {
		if len(h) != sha256.Size {
			return nil, verr(PartProof, "hash %d is %d bytes, not 32", i, len(h))
		}
	}
	leaf := rfc6962.DefaultHasher.HashLeaf(ev.Entry)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, ev.Index, cp.Size, leaf, ev.Proof, cp.Hash[:]); err != nil {
		return nil, verr(PartProof, "entry %d is not in the tree of checkpoint %s: the entry, the proof hashes or the index differ from what the log signed (%v)",
			ev.Index, cp.Checkpoint, err)
	}
	e, err := evidence.ParseEntry(ev.Entry)
	if err != nil {
		return nil, &VerificationError{Part: PartEntry, Err: err}
	}
	if ev.Envelope != nil {
		if err := checkEnvelopeDigest(e, ev.Envelope); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func checkEnvelopeDigest(e *evidence.Entry, env []byte) error {
	if got := sha256.Sum256(env); got != e.EnvelopeDigest {
		return verr(PartEnvelope, "SHA-256 is %x, but the entry commits to %x", got, e.EnvelopeDigest)
	}
	if int64(len(env)) != e.EnvelopeSize {
		return verr(PartEnvelope, "is %d bytes, but the entry says %d", len(env), e.EnvelopeSize)
	}
	return nil
}

// truncate shortens untrusted text for error messages.
func truncate(s string) string {
	const max = 100
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
