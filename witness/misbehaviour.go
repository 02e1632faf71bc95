package witness

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/checkpoint"
)

// Reason says why the two checkpoints of a Misbehaviour can't both be true.
type Reason string

const (
	// ReasonFork: A and B have the same size and different root hashes. A
	// tree of a given size has one root hash, so a log that signs two has
	// shown different histories to different parties. Conclusive on its own.
	ReasonFork Reason = "fork"
	// ReasonInconsistent: A is smaller than B and B's tree doesn't start with
	// A's. Two checkpoints of different sizes can't show that on their own,
	// since a log may sign any number of different-sized trees: the claim
	// also carries Proof and PrefixRoot (see Misbehaviour).
	ReasonInconsistent Reason = "inconsistent"
)

// Misbehaviour is a proof that a log signed two checkpoints that can't both
// be true. Anyone with the log's public key can check it offline with
// VerifyMisbehaviour.
//
// What is provable, precisely. Both checkpoints carry valid signatures by
// the log, so the log stated both. For ReasonFork that suffices. For
// ReasonInconsistent, with m = size(A) < n = size(B), the file carries
// PrefixRoot, a root hash for the first m leaves, and Proof, an RFC 6962
// consistency proof from (m, PrefixRoot) to (n, root of B) that verifies.
// Proof hashes up to B's signed root along a path fixed by m and n, so
// unless SHA-256 collides, PrefixRoot is the root of the first m leaves of
// B's tree; PrefixRoot differing from A's root then shows that A is not a
// prefix of B. Proof needs no signature: B's signed root authenticates it.
//
// A consistency proof that simply fails to verify from A to B proves
// nothing: it may be corrupt, or made up by whoever sent it, and a
// checkpoint is public, so anyone can pair it with a garbage proof. Only a
// proof that reaches B's root while implying another root for size m is
// evidence. A log serving a wrong proof whose hashes still reach B's root
// has provided one (for m not a power of two, the proof itself holds the
// size-m root); for m a power of two RFC 6962 leaves the size-m root out of
// the proof, and the evidence must be built from B's tree (its tiles):
// PrefixRoot is then the hash of the first m leaves of B's tree.
type Misbehaviour struct {
	// Origin is the log's origin line.
	Origin string
	// Reason says how A and B conflict.
	Reason Reason
	// A and B are the two checkpoints, as signed notes. For
	// ReasonInconsistent, A is the smaller.
	A, B []byte
	// PrefixRoot is, for ReasonInconsistent, the root hash of the first
	// size(A) leaves of B's tree, as Proof shows. Zero for ReasonFork.
	PrefixRoot [32]byte
	// Proof is, for ReasonInconsistent, the RFC 6962 consistency proof from
	// (size(A), PrefixRoot) to B. Empty for ReasonFork.
	Proof [][]byte
}

// ErrNotMisbehaviour is wrapped by VerifyMisbehaviour errors that say the
// two checkpoints are not shown to conflict.
var ErrNotMisbehaviour = errors.New("not a proof of misbehaviour")

// ErrInconclusive is wrapped by errors about a consistency proof that
// doesn't verify and doesn't prove misbehaviour either.
var ErrInconclusive = errors.New("consistency proof doesn't verify, and doesn't prove misbehaviour")

// MisbehaviourError is the error of an operation that found a proof of log
// misbehaviour. It carries the proof.
type MisbehaviourError struct {
	Misbehaviour Misbehaviour
}

func (e *MisbehaviourError) Error() string {
	switch e.Misbehaviour.Reason {
	case ReasonFork:
		return fmt.Sprintf("log %q signed two different trees of the same size", e.Misbehaviour.Origin)
	default:
		return fmt.Sprintf("log %q signed a tree that doesn't extend one it signed before", e.Misbehaviour.Origin)
	}
}

// misbehaviourHeader is the first line of the file encoding.
const misbehaviourHeader = "evident/misbehaviour/v1"

// maxMisbehaviourProof bounds Proof: an RFC 6962 consistency proof between
// trees of at most 2^64-1 leaves has at most 64 hashes.
const maxMisbehaviourProof = 64

// Marshal returns the file encoding of m, which ParseMisbehaviour reads back.
// It is a text file, so a person can read the checkpoints in it:
//
//	evident/misbehaviour/v1
//	origin <origin line of both checkpoints>
//	reason fork|inconsistent
//	prefix-root <base64 of 32 bytes>    (reason inconsistent only)
//	proof <base64 of 32 bytes>          (reason inconsistent only, 1 to 64 lines)
//	checkpoint <length of A in bytes, decimal>
//	<A: a signed note, ending in a newline>
//	checkpoint <length of B in bytes, decimal>
//	<B: a signed note, ending in a newline>
//
// Every line ends in a newline; nothing follows B. Numbers are ASCII
// decimal without leading zeroes, base64 is standard and padded (RFC 4648
// section 4). Marshal returns an error if m would not parse.
func (m Misbehaviour) Marshal() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(misbehaviourHeader + "\n")
	b.WriteString("origin " + m.Origin + "\n")
	b.WriteString("reason " + string(m.Reason) + "\n")
	if m.Reason == ReasonInconsistent {
		b.WriteString("prefix-root " + base64.StdEncoding.EncodeToString(m.PrefixRoot[:]) + "\n")
	}
	for _, h := range m.Proof {
		b.WriteString("proof " + base64.StdEncoding.EncodeToString(h) + "\n")
	}
	for _, n := range [][]byte{m.A, m.B} {
		b.WriteString("checkpoint " + strconv.Itoa(len(n)) + "\n")
		b.Write(n)
	}
	if _, err := ParseMisbehaviour(b.Bytes()); err != nil {
		return nil, fmt.Errorf("couldn't encode misbehaviour: %w", err)
	}
	return b.Bytes(), nil
}

// ParseMisbehaviour parses the file encoding documented at Marshal. It checks
// that the file is well formed and that both notes are checkpoints of Origin,
// not the signatures or the conflict: that is VerifyMisbehaviour's job.
func ParseMisbehaviour(data []byte) (Misbehaviour, error) {
	var m Misbehaviour
	fail := func(format string, args ...any) (Misbehaviour, error) {
		return Misbehaviour{}, fmt.Errorf("%w: %s", ErrMalformedMisbehaviour, fmt.Sprintf(format, args...))
	}
	if len(data) > MaxMisbehaviourSize {
		return fail("file is %d bytes, more than %d", len(data), MaxMisbehaviourSize)
	}
	rest := data
	lineNo := 0
	next := func() (string, bool) {
		line, r, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			return "", false
		}
		rest = r
		lineNo++
		return string(line), true
	}
	field := func(key string) (string, bool) {
		save, saveNo := rest, lineNo
		line, ok := next()
		if v, found := cutPrefix(line, key+" "); ok && found {
			return v, true
		}
		rest, lineNo = save, saveNo
		return "", false
	}
	if line, ok := next(); !ok || line != misbehaviourHeader {
		return fail("first line must be %q", misbehaviourHeader)
	}
	origin, ok := field("origin")
	if !ok || origin == "" {
		return fail("line %d: want \"origin <origin>\"", lineNo+1)
	}
	m.Origin = origin
	reason, ok := field("reason")
	if !ok {
		return fail("line %d: want \"reason <reason>\"", lineNo+1)
	}
	m.Reason = Reason(reason)
	switch m.Reason {
	case ReasonFork:
	case ReasonInconsistent:
		v, ok := field("prefix-root")
		if !ok {
			return fail("line %d: want \"prefix-root <hash>\"", lineNo+1)
		}
		h, ok := parseHash(v)
		if !ok {
			return fail("line %d: prefix root is not the base64 of 32 bytes", lineNo)
		}
		m.PrefixRoot = h
		for {
			v, ok := field("proof")
			if !ok {
				break
			}
			h, ok := parseHash(v)
			if !ok {
				return fail("line %d: proof hash is not the base64 of 32 bytes", lineNo)
			}
			if len(m.Proof) == maxMisbehaviourProof {
				return fail("line %d: more than %d proof hashes", lineNo, maxMisbehaviourProof)
			}
			m.Proof = append(m.Proof, h[:])
		}
		if len(m.Proof) == 0 {
			return fail("line %d: reason %s needs a consistency proof", lineNo+1, m.Reason)
		}
	default:
		return fail("line %d: unknown reason %q", lineNo, reason)
	}
	for _, dst := range []*[]byte{&m.A, &m.B} {
		v, ok := field("checkpoint")
		if !ok {
			return fail("line %d: want \"checkpoint <length>\"", lineNo+1)
		}
		n, ok := parseDecimal([]byte(v))
		if !ok || n > uint64(len(rest)) {
			return fail("line %d: checkpoint length %q is not a decimal number within the file", lineNo, v)
		}
		signed := rest[:n]
		rest = rest[n:]
		c, err := checkpoint.Peek(signed)
		if err != nil {
			return fail("checkpoint on line %d: %v", lineNo+1, err)
		}
		if c.Origin != m.Origin {
			return fail("checkpoint on line %d has origin %q, not %q", lineNo+1, c.Origin, m.Origin)
		}
		lineNo += bytes.Count(signed, []byte("\n"))
		*dst = bytes.Clone(signed)
	}
	if len(rest) != 0 {
		return fail("data after the second checkpoint")
	}
	return m, nil
}

// ErrMalformedMisbehaviour is wrapped by every ParseMisbehaviour error.
var ErrMalformedMisbehaviour = errors.New("malformed misbehaviour file")

// MaxMisbehaviourSize bounds the file ParseMisbehaviour accepts: two notes of
// up to MaxBodySize each, and the proof.
const MaxMisbehaviourSize = 2*MaxBodySize + 8<<10

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return "", false
}

func parseHash(s string) ([32]byte, bool) {
	var h [32]byte
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != 32 || base64.StdEncoding.EncodeToString(b) != s {
		return h, false
	}
	copy(h[:], b)
	return h, true
}

// VerifyMisbehaviour checks, offline, that m proves misbehaviour by the log
// whose public keys are logKeys: that A and B are both validly signed by one
// of logKeys, are checkpoints of m.Origin, and conflict as m.Reason says
// (see Misbehaviour for what each reason proves). It returns nil only if
// they do.
func VerifyMisbehaviour(m Misbehaviour, logKeys ...note.Verifier) error {
	if len(logKeys) == 0 {
		return errors.New("couldn't verify misbehaviour: no log key given")
	}
	keys := note.VerifierList(logKeys...)
	a, err := checkpoint.Open(m.A, keys)
	if err != nil {
		return fmt.Errorf("couldn't verify checkpoint A: %w", err)
	}
	b, err := checkpoint.Open(m.B, keys)
	if err != nil {
		return fmt.Errorf("couldn't verify checkpoint B: %w", err)
	}
	if a.Origin != m.Origin || b.Origin != m.Origin {
		return fmt.Errorf("%w: checkpoints of %q and %q, not both of %q", ErrNotMisbehaviour, a.Origin, b.Origin, m.Origin)
	}
	switch m.Reason {
	case ReasonFork:
		if len(m.Proof) != 0 || m.PrefixRoot != ([32]byte{}) {
			return fmt.Errorf("%w: reason %s carries no proof", ErrNotMisbehaviour, m.Reason)
		}
		if a.Size != b.Size {
			return fmt.Errorf("%w: sizes %d and %d differ, so different roots are expected", ErrNotMisbehaviour, a.Size, b.Size)
		}
		if a.Hash == b.Hash {
			return fmt.Errorf("%w: both checkpoints have the same root", ErrNotMisbehaviour)
		}
		return nil
	case ReasonInconsistent:
		if a.Size == 0 || a.Size >= b.Size {
			return fmt.Errorf("%w: sizes %d and %d: A must be smaller than B and not empty", ErrNotMisbehaviour, a.Size, b.Size)
		}
		if m.PrefixRoot == a.Hash {
			return fmt.Errorf("%w: the proof agrees with A's root", ErrNotMisbehaviour)
		}
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, a.Size, b.Size, m.Proof, m.PrefixRoot[:], b.Hash[:]); err != nil {
			return fmt.Errorf("%w: the proof doesn't lead to B's root: %v", ErrNotMisbehaviour, err)
		}
		return nil
	default:
		return fmt.Errorf("%w: unknown reason %q", ErrNotMisbehaviour, m.Reason)
	}
}

// consistencyRoots runs the consistency proof verification of RFC 9162,
// section 2.1.4.2, on a proof from size1 to size2 (0 < size1 < size2) and
// returns the two roots it computes instead of comparing them. root1 is
// used only when size1 is a power of two, where the proof leaves the old
// root out. ok is false if the proof has the wrong shape.
//
// The witness uses it on a proof that failed to verify: if the proof still
// reaches the new root, the old root it implies is evidence (see
// Misbehaviour).
func consistencyRoots(size1, size2 uint64, p [][]byte, root1 [32]byte) (r1, r2 [32]byte, ok bool) {
	if size1 == 0 || size1 >= size2 || len(p) == 0 {
		return r1, r2, false
	}
	for _, h := range p {
		if len(h) != 32 {
			return r1, r2, false
		}
	}
	// Step 2: if first is an exact power of 2, prepend first_hash.
	if size1&(size1-1) == 0 {
		p = append([][]byte{root1[:]}, p...)
	}
	// Steps 3 and 4.
	fn, sn := size1-1, size2-1
	for fn&1 == 1 {
		fn, sn = fn>>1, sn>>1
	}
	// Steps 5 and 6.
	fr, sr := p[0], p[0]
	for _, c := range p[1:] {
		if sn == 0 {
			return r1, r2, false
		}
		if fn&1 == 1 || fn == sn {
			fr = rfc6962.DefaultHasher.HashChildren(c, fr)
			sr = rfc6962.DefaultHasher.HashChildren(c, sr)
			if fn&1 == 0 {
				for fn&1 == 0 && fn != 0 {
					fn, sn = fn>>1, sn>>1
				}
			}
		} else {
			sr = rfc6962.DefaultHasher.HashChildren(sr, c)
		}
		fn, sn = fn>>1, sn>>1
	}
	// Step 7 (the comparisons are the caller's).
	if sn != 0 {
		return r1, r2, false
	}
	copy(r1[:], fr)
	copy(r2[:], sr)
	return r1, r2, true
}

// inconsistencyEvidence returns the proof of misbehaviour that p is, if it
// is one: a consistency proof from a to b that reaches b's root but implies
// another root than a's for a's size. aNote and bNote are the signed notes.
func inconsistencyEvidence(aNote, bNote []byte, a, b checkpoint.Checkpoint, p [][]byte) (Misbehaviour, bool) {
	r1, r2, ok := consistencyRoots(a.Size, b.Size, p, a.Hash)
	if !ok || r2 != b.Hash || r1 == a.Hash {
		return Misbehaviour{}, false
	}
	return Misbehaviour{
		Origin:     a.Origin,
		Reason:     ReasonInconsistent,
		A:          aNote,
		B:          bNote,
		PrefixRoot: r1,
		Proof:      p,
	}, true
}

// ConsistencyProver fetches RFC 6962 consistency proofs from a log, for
// CheckGossip. The gossip loop implements it with the log's tiles or API.
type ConsistencyProver interface {
	ConsistencyProof(ctx context.Context, origin string, oldSize, newSize uint64) ([][]byte, error)
}

// ConsistencyProverFunc adapts a function to ConsistencyProver.
type ConsistencyProverFunc func(ctx context.Context, origin string, oldSize, newSize uint64) ([][]byte, error)

// ConsistencyProof calls f.
func (f ConsistencyProverFunc) ConsistencyProof(ctx context.Context, origin string, oldSize, newSize uint64) ([][]byte, error) {
	return f(ctx, origin, oldSize, newSize)
}

// CheckGossip compares two signed checkpoints of one log, one a node holds
// (stored) and one it has seen elsewhere (seen), both of which must be
// signed by one of logKeys. It returns nil if they are consistent: equal
// roots for equal sizes, or a consistency proof from the smaller to the
// larger, fetched with prover, that verifies.
//
// It returns a *MisbehaviourError carrying a Misbehaviour that
// VerifyMisbehaviour accepts if they provably conflict: same size and
// different roots, or a fetched proof that reaches the larger checkpoint's
// root but implies another root for the smaller size. A fetched proof that
// doesn't verify and proves nothing (see Misbehaviour) yields an error
// wrapping ErrInconclusive: retry, or fetch the tiles and build the evidence.
func CheckGossip(ctx context.Context, logKeys []note.Verifier, stored, seen []byte, prover ConsistencyProver) error {
	keys := note.VerifierList(logKeys...)
	a, err := checkpoint.Open(stored, keys)
	if err != nil {
		return fmt.Errorf("couldn't verify stored checkpoint: %w", err)
	}
	b, err := checkpoint.Open(seen, keys)
	if err != nil {
		return fmt.Errorf("couldn't verify seen checkpoint: %w", err)
	}
	if a.Origin != b.Origin {
		return fmt.Errorf("couldn't compare checkpoints: origins %q and %q differ", a.Origin, b.Origin)
	}
	aNote, bNote := stored, seen
	if a.Size > b.Size {
		a, b = b, a
		aNote, bNote = bNote, aNote
	}
	if a.Size == b.Size {
		if a.Hash == b.Hash {
			return nil
		}
		return &MisbehaviourError{Misbehaviour{Origin: a.Origin, Reason: ReasonFork, A: aNote, B: bNote}}
	}
	if a.Size == 0 {
		// The empty tree is a prefix of every tree.
		if a.Hash != emptyRoot {
			return fmt.Errorf("couldn't compare checkpoints: %s is empty but its root isn't the empty tree's", a)
		}
		return nil
	}
	p, err := prover.ConsistencyProof(ctx, a.Origin, a.Size, b.Size)
	if err != nil {
		return fmt.Errorf("couldn't fetch consistency proof from %d to %d: %w", a.Size, b.Size, err)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, a.Size, b.Size, p, a.Hash[:], b.Hash[:]); err == nil {
		return nil
	}
	if m, ok := inconsistencyEvidence(aNote, bNote, a, b, p); ok {
		return &MisbehaviourError{m}
	}
	return fmt.Errorf("couldn't check %s against %s: %w", a, b, ErrInconclusive)
}

// emptyRoot is the root hash of the empty tree. RFC 6962, section 2.1: the
// hash of an empty list is the hash of an empty string.
var emptyRoot = [32]byte(rfc6962.DefaultHasher.EmptyRoot())
