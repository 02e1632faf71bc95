// Package witness lets a node witness other logs: it cosigns their
// checkpoints (c2sp.org/tlog-witness, c2sp.org/tlog-cosignature), never a
// rollback or a fork, and it turns conflicting checkpoints into proofs of
// misbehaviour that anyone can check offline.
//
// The parts: Cosigner and CosignatureVerifier make and check cosignature/v1
// signatures; Witness decides what to cosign and remembers it in a Store
// (witness/boltstore is the durable one); Handler serves the
// c2sp.org/tlog-witness HTTP API; Misbehaviour, VerifyMisbehaviour and
// CheckGossip deal with logs caught lying.
package witness

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/checkpoint"
)

// Errors of AddCheckpoint. Each maps to one c2sp.org/tlog-witness status
// code; Handler does the mapping. ErrMalformed (400) is declared with the
// request parser.
var (
	// ErrUnknownLog: the checkpoint's origin is not a log the witness
	// cosigns for. HTTP: 404 Not Found.
	ErrUnknownLog = errors.New("unknown log origin")
	// ErrBadSignature: no signature by a key the witness trusts for the
	// origin, or one that fails to verify. HTTP: 403 Forbidden.
	ErrBadSignature = errors.New("checkpoint not validly signed by the log")
	// ErrLogMisbehaved: the witness holds a proof that this log misbehaved
	// and no longer cosigns for it. HTTP: 403 Forbidden.
	ErrLogMisbehaved = errors.New("log has misbehaved; this witness no longer cosigns its checkpoints")
	// ErrInconsistent: the checkpoint is not proven consistent with the one
	// the witness last cosigned. HTTP: 422 Unprocessable Entity.
	ErrInconsistent = errors.New("checkpoint not proven consistent with the latest cosigned checkpoint")
)

// ConflictError is the AddCheckpoint error when the request's old size is
// not the size of the checkpoint the witness last cosigned. HTTP: 409
// Conflict, with Size in the body.
type ConflictError struct {
	// Size is the size of the latest cosigned checkpoint, 0 if none.
	Size uint64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("old size doesn't match the latest cosigned checkpoint, of size %d", e.Size)
}

// Options configure a Witness.
type Options struct {
	// Store remembers what the witness cosigned. Required.
	Store Store
	// Cosigner signs the checkpoints the witness accepts, normally a
	// *Cosigner. Required.
	Cosigner note.Signer
	// Logs maps the origin of each log the witness cosigns for to the log's
	// public keys; a checkpoint needs a valid signature by one of them. The
	// map is copied by New. Default: no logs, every request is refused.
	Logs map[string][]note.Verifier
	// Logger receives the witness's logs. Default: discard.
	Logger *slog.Logger
}

// Witness cosigns checkpoints of known logs that are consistent with what it
// cosigned before. It is safe for concurrent use.
type Witness struct {
	store    Store
	cosigner note.Signer
	logs     map[string]*knownLog
	byHash   map[[32]byte]string
	log      *slog.Logger
}

type knownLog struct {
	keys note.Verifiers
	// mu serializes the requests for one log in this process, so that
	// concurrent requests don't all sign and then lose the Store.Update
	// race. Store.Update's compare-and-swap is what keeps the state
	// correct; mu only saves work.
	mu sync.Mutex
}

// New returns a Witness.
func New(opts Options) (*Witness, error) {
	if opts.Store == nil {
		return nil, errors.New("witness: Options.Store is required")
	}
	if opts.Cosigner == nil {
		return nil, errors.New("witness: Options.Cosigner is required")
	}
	w := &Witness{
		store:    opts.Store,
		cosigner: opts.Cosigner,
		logs:     make(map[string]*knownLog, len(opts.Logs)),
		byHash:   make(map[[32]byte]string, len(opts.Logs)),
		log:      opts.Logger,
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	for origin, keys := range opts.Logs {
		if len(keys) == 0 {
			return nil, fmt.Errorf("witness: log %q has no keys", origin)
		}
		seen := make(map[string]bool)
		for _, k := range keys {
			id := fmt.Sprintf("%s+%08x", k.Name(), k.KeyHash())
			if seen[id] {
				return nil, fmt.Errorf("witness: log %q has two keys %s", origin, id)
			}
			seen[id] = true
		}
		w.logs[origin] = &knownLog{keys: note.VerifierList(keys...)}
		w.byHash[sha256.Sum256([]byte(origin))] = origin
	}
	return w, nil
}

// AddCheckpoint processes the body of a c2sp.org/tlog-witness add-checkpoint
// request. On success it returns the note signature lines of its
// cosignature, after persisting the checkpoint. Its errors wrap
// ErrMalformed, ErrUnknownLog, ErrBadSignature, ErrLogMisbehaved or
// ErrInconsistent, or are a *ConflictError; any other error is the
// witness's own failure. An error that proves the log misbehaved also
// wraps a *MisbehaviourError, which the witness has recorded in its Store.
func (w *Witness) AddCheckpoint(ctx context.Context, body []byte) ([]byte, error) {
	req, err := ParseAddCheckpoint(body)
	if err != nil {
		return nil, err
	}
	// Read the origin before verifying, to know which keys to verify with.
	c, err := checkpoint.Peek(req.Checkpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: checkpoint: %v", ErrMalformed, err)
	}
	log := w.log.With("origin", c.Origin, "old", req.OldSize, "size", c.Size)
	// c2sp.org/tlog-witness: if the checkpoint origin is unknown, the
	// witness MUST respond with a "404 Not Found".
	kl, ok := w.logs[c.Origin]
	if !ok {
		return nil, ErrUnknownLog
	}
	// c2sp.org/tlog-witness: the witness MUST verify the checkpoint signature
	// against the public key(s) it trusts for the checkpoint origin, and it
	// MUST ignore signatures from unknown keys. 403 if no signature from a
	// trusted key is present or one fails to verify. note.Open does both.
	n, err := note.Open(req.Checkpoint, kl.keys)
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
		}
		return nil, fmt.Errorf("%w: checkpoint: %v", ErrMalformed, err)
	}
	// c2sp.org/tlog-witness: the old size MUST be equal to or lower than the
	// checkpoint size. Otherwise, 400 Bad Request.
	if req.OldSize > c.Size {
		return nil, fmt.Errorf("%w: old size %d is larger than the checkpoint size %d", ErrMalformed, req.OldSize, c.Size)
	}
	// The note as the witness keeps and proves things with it: the text
	// and the log signatures it verified, no one else's.
	signed := trimNote(n)

	kl.mu.Lock()
	defer kl.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// A log caught misbehaving gets no more cosignatures, even on its
		// own branch: the witness would lend credibility to a log that has
		// shown different histories. Reviving it is an operator decision
		// (in practice, a new log key and origin).
		bad, err := w.store.ListMisbehaviour(ctx, c.Origin)
		if err != nil {
			return nil, fmt.Errorf("couldn't read misbehaviour records: %w", err)
		}
		if len(bad) > 0 {
			return nil, ErrLogMisbehaved
		}
		st, err := w.store.Get(ctx, c.Origin)
		if err != nil {
			return nil, fmt.Errorf("couldn't read witness state: %w", err)
		}
		if err := w.check(ctx, log, req, c, signed, st); err != nil {
			return nil, err
		}
		sigLine, err := w.cosign(n.Text)
		if err != nil {
			return nil, err
		}
		next := State{Size: c.Size, Hash: c.Hash, Checkpoint: append(bytes.Clone(signed), sigLine...)}
		// c2sp.org/tlog-witness: the witness MUST persist the new checkpoint
		// before responding, and checking the old size and persisting MUST
		// be atomic: Update is a compare-and-swap on the state checked.
		err = w.store.Update(ctx, c.Origin, st, next)
		if errors.Is(err, ErrStateChanged) {
			log.DebugContext(ctx, "witness state changed concurrently; retrying")
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("couldn't persist witness state: %w", err)
		}
		log.DebugContext(ctx, "cosigned checkpoint")
		return sigLine, nil
	}
}

// check applies the consistency rules of c2sp.org/tlog-witness to a request
// whose signature verified, against the stored state st.
func (w *Witness) check(ctx context.Context, log *slog.Logger, req AddCheckpointRequest, c checkpoint.Checkpoint, signed []byte, st State) error {
	// Same size as the cosigned checkpoint and another root: the log signed
	// two trees of one size. That is misbehaviour whatever the request's old
	// size says, so record it before the old size check below.
	fork := !st.IsZero() && c.Size == st.Size && c.Hash != st.Hash
	var forkErr error
	if fork {
		forkErr = w.recordMisbehaviour(ctx, log, Misbehaviour{Origin: c.Origin, Reason: ReasonFork, A: st.Checkpoint, B: signed})
	}
	// c2sp.org/tlog-witness: the witness MUST check that the old size
	// matches the size of the latest checkpoint it cosigned for the
	// checkpoint's origin (or zero if it never cosigned a checkpoint for
	// that origin). If it doesn't match, 409 Conflict.
	if req.OldSize != st.Size {
		return errors.Join(&ConflictError{Size: st.Size}, forkErr)
	}
	// c2sp.org/tlog-witness: if the old size matches the checkpoint size,
	// the witness MUST check that the root hashes are also identical. If
	// they don't match, 422.
	if fork {
		return fmt.Errorf("%w: same size as the latest cosigned checkpoint, different root hash: %w", ErrInconsistent, forkErr)
	}
	// c2sp.org/tlog-witness: a checkpoint of size zero MUST have the root
	// hash of the empty tree. Otherwise, 422.
	if c.Size == 0 && c.Hash != emptyRoot {
		return fmt.Errorf("%w: a checkpoint of size 0 must have the root hash of the empty tree", ErrInconsistent)
	}
	// c2sp.org/tlog-witness: if the old size is zero, the consistency proof
	// MUST be empty. If it is not, or if a Merkle Consistency Proof doesn't
	// verify, 422.
	if req.OldSize == 0 {
		if len(req.Proof) != 0 {
			return fmt.Errorf("%w: old size is 0, so the consistency proof must be empty", ErrInconsistent)
		}
		return nil
	}
	// Old size = stored size > 0: the proof must lead from the root the
	// witness cosigned (not one the client claims) to the new root. RFC
	// 6962's proof between equal sizes is empty.
	err := proof.VerifyConsistency(rfc6962.DefaultHasher, st.Size, c.Size, req.Proof, st.Hash[:], c.Hash[:])
	if err == nil {
		return nil
	}
	// c2sp.org/tlog-witness: the witness MAY log the request even if the
	// checkpoint fails one of the consistency checks (but MUST NOT cosign
	// it), as it might be proof of log misbehavior. Only a proof that
	// reaches the new root is evidence; anyone can replay a checkpoint with
	// a corrupt proof, so that alone is just logged.
	if m, ok := inconsistencyEvidence(st.Checkpoint, signed, checkpointOf(c.Origin, st), c, req.Proof); ok {
		if err := w.recordMisbehaviour(ctx, log, m); err != nil {
			return fmt.Errorf("%w: %w", ErrInconsistent, err)
		}
	}
	log.WarnContext(ctx, "consistency proof doesn't verify", "error", err)
	return fmt.Errorf("%w: consistency proof from %d to %d doesn't verify", ErrInconsistent, st.Size, c.Size)
}

// recordMisbehaviour stores m, logs it loudly, and returns the
// *MisbehaviourError to wrap in the request's error.
func (w *Witness) recordMisbehaviour(ctx context.Context, log *slog.Logger, m Misbehaviour) error {
	log.ErrorContext(ctx, "log misbehaviour detected", "reason", m.Reason)
	if err := w.store.RecordMisbehaviour(ctx, m); err != nil {
		// The request fails either way; the evidence is in this error and
		// the log line.
		log.ErrorContext(ctx, "couldn't record misbehaviour", "error", err)
		return fmt.Errorf("couldn't record misbehaviour: %w", err)
	}
	return &MisbehaviourError{m}
}

// cosign returns the cosignature line of the witness on the note text.
func (w *Witness) cosign(text string) ([]byte, error) {
	sig, err := w.cosigner.Sign([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("couldn't cosign: %w", err)
	}
	var b bytes.Buffer
	b.WriteString("— ")
	b.WriteString(w.cosigner.Name())
	b.WriteByte(' ')
	raw := binary.BigEndian.AppendUint32(nil, w.cosigner.KeyHash())
	b.WriteString(base64.StdEncoding.EncodeToString(append(raw, sig...)))
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// trimNote returns the signed note with only its verified signatures.
func trimNote(n *note.Note) []byte {
	var b bytes.Buffer
	b.WriteString(n.Text)
	b.WriteByte('\n')
	for _, s := range n.Sigs {
		b.WriteString("— " + s.Name + " " + s.Base64 + "\n")
	}
	return b.Bytes()
}

func checkpointOf(origin string, st State) checkpoint.Checkpoint {
	return checkpoint.Checkpoint{Origin: origin, Size: st.Size, Hash: st.Hash}
}

// ErrNotCosigned is returned by Latest for a log the witness never cosigned
// a checkpoint of.
var ErrNotCosigned = errors.New("no cosigned checkpoint for this log")

// Latest returns the latest checkpoint the witness cosigned for origin: the
// note with the log signatures the witness verified and its cosignature.
func (w *Witness) Latest(ctx context.Context, origin string) ([]byte, error) {
	if _, ok := w.logs[origin]; !ok {
		return nil, ErrUnknownLog
	}
	st, err := w.store.Get(ctx, origin)
	if err != nil {
		return nil, fmt.Errorf("couldn't read witness state: %w", err)
	}
	if st.IsZero() {
		return nil, ErrNotCosigned
	}
	return st.Checkpoint, nil
}

// LatestAll returns Latest for every log the witness has cosigned, by
// origin.
func (w *Witness) LatestAll(ctx context.Context) (map[string][]byte, error) {
	all, err := w.store.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("couldn't list witness state: %w", err)
	}
	m := make(map[string][]byte, len(all))
	for origin, st := range all {
		if _, ok := w.logs[origin]; ok {
			m[origin] = st.Checkpoint
		}
	}
	return m, nil
}

// Misbehaviour returns the proofs of misbehaviour recorded for origin, or for
// every log if origin is "".
func (w *Witness) Misbehaviour(ctx context.Context, origin string) ([]Misbehaviour, error) {
	ms, err := w.store.ListMisbehaviour(ctx, origin)
	if err != nil {
		return nil, fmt.Errorf("couldn't list misbehaviour: %w", err)
	}
	return ms, nil
}

// originByHash returns the known origin whose SHA-256 is h.
func (w *Witness) originByHash(h [32]byte) (string, bool) {
	o, ok := w.byHash[h]
	return o, ok
}
