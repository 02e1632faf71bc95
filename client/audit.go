package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/internal/durable"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/witness"
)

// ErrInconsistent is wrapped by the error [Client.Audit] returns when the
// log could not show that its new checkpoint extends the one seen before.
// The concrete error is an [*InconsistencyError].
var ErrInconsistent = errors.New("log is inconsistent")

// InconsistencyError is a log failing an audit. It carries the evidence,
// which Audit also writes to File.
type InconsistencyError struct {
	// Origin is the log's origin.
	Origin string
	// Misbehaviour is the proof of misbehaviour, when the two checkpoints
	// provably conflict (same size and different roots, or a consistency
	// proof that reaches the new root but implies another old root). Anyone
	// with the log's key can check it offline with
	// witness.VerifyMisbehaviour. Nil when the conflict is not provable.
	Misbehaviour *witness.Misbehaviour
	// Old and New are the two signed checkpoints, and Proof the consistency
	// proof the log served between them (which did not verify).
	Old, New []byte
	Proof    [][]byte
	// File is where Audit wrote the evidence.
	File string
}

func (e *InconsistencyError) Error() string {
	var what string
	switch {
	case e.Misbehaviour != nil && e.Misbehaviour.Reason == witness.ReasonFork:
		what = "signed two different trees of the same size"
	case e.Misbehaviour != nil:
		what = "signed a tree that does not extend the one it signed before"
	default:
		what = "served a consistency proof that does not verify; this is not a proof of misbehaviour on its own: audit again, and keep the file"
	}
	msg := fmt.Sprintf("log %q %s", e.Origin, what)
	if e.File != "" {
		msg += " (evidence in " + e.File + ")"
	}
	return msg
}

// Unwrap returns [ErrInconsistent].
func (e *InconsistencyError) Unwrap() error { return ErrInconsistent }

// AuditResult is the outcome of an audit that found the log consistent.
type AuditResult struct {
	// Origin is the log's origin.
	Origin string
	// Old is the checkpoint remembered from the last audit; nil on the
	// first audit of this log (trust on first use).
	Old *VerifiedCheckpoint
	// New is the node's latest checkpoint, verified, and proven to extend
	// Old.
	New *VerifiedCheckpoint
	// Stale is true if New is smaller than Old: the node served an older
	// (consistent) checkpoint, e.g. from a cache. Old stays remembered.
	Stale bool
}

// Audit checks that the log has only grown since the last audit from
// stateDir. It fetches and verifies the latest checkpoint, fetches a
// consistency proof from the remembered checkpoint, verifies it, and
// remembers the new checkpoint (atomically: a crash leaves the old or the
// new one). The state is one file per log in stateDir, named after the
// origin, holding the signed note.
//
// When the log cannot show consistency, Audit writes the evidence next to
// the state, leaves the state unchanged, and returns an [*InconsistencyError]
// (wrapping [ErrInconsistent]). A provable conflict is written in the
// witness.Misbehaviour file format (witness.ParseMisbehaviour reads it,
// witness.VerifyMisbehaviour checks it). A proof that fails without proving
// anything (it could be corrupt rather than malicious) is fetched once more;
// if it fails again it is written in the same layout with the header line
// "evident/unproven-inconsistency/v1" and reason "unproven". Any other error
// means the audit could not be done.
func (c *Client) Audit(ctx context.Context, stateDir string) (*AuditResult, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("couldn't create the state directory: %w", err)
	}
	origin := c.logKey.Name()
	statePath := filepath.Join(stateDir, stateFileName(origin))
	newCP, err := c.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	res := &AuditResult{Origin: origin, New: newCP}
	oldNote, err := os.ReadFile(statePath)
	if errors.Is(err, os.ErrNotExist) {
		return res, writeAtomic(statePath, newCP.Note)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read the audit state: %w", err)
	}
	// The state was verified when stored; verify it again, in case the
	// file was changed. The policy may have changed since: the log's
	// signature is what matters here.
	old, err := VerifyCheckpoint(oldNote, []note.Verifier{c.logKey}, nil)
	if err != nil {
		return nil, fmt.Errorf("the audit state %s is not a checkpoint of this log: %w", statePath, err)
	}
	res.Old = old

	var served [][]byte
	prover := witness.ConsistencyProverFunc(func(ctx context.Context, _ string, oldSize, newSize uint64) ([][]byte, error) {
		resp, err := c.logs.GetConsistencyProof(ctx, connect.NewRequest(&evidentv1.GetConsistencyProofRequest{OldSize: oldSize, NewSize: newSize}))
		if err != nil {
			return nil, err
		}
		if resp.Msg.GetOldSize() != oldSize || resp.Msg.GetNewSize() != newSize {
			return nil, fmt.Errorf("asked for a proof from %d to %d, got one from %d to %d", oldSize, newSize, resp.Msg.GetOldSize(), resp.Msg.GetNewSize())
		}
		served = resp.Msg.GetHashes()
		return served, nil
	})
	err = witness.CheckGossip(ctx, []note.Verifier{c.logKey}, old.Note, newCP.Note, prover)
	if errors.Is(err, witness.ErrInconclusive) {
		c.log.WarnContext(ctx, "consistency proof did not verify; fetching it again", "origin", origin)
		err = witness.CheckGossip(ctx, []note.Verifier{c.logKey}, old.Note, newCP.Note, prover)
	}
	var mErr *witness.MisbehaviourError
	switch {
	case err == nil:
	case errors.As(err, &mErr):
		m := mErr.Misbehaviour
		ie := &InconsistencyError{Origin: origin, Misbehaviour: &m, Old: old.Note, New: newCP.Note, Proof: m.Proof}
		b, merr := m.Marshal()
		if merr != nil {
			return nil, fmt.Errorf("%w (and couldn't encode the evidence: %v)", ie, merr)
		}
		return nil, writeEvidence(stateDir, origin, "misbehaviour", b, ie)
	case errors.Is(err, witness.ErrInconclusive):
		ie := &InconsistencyError{Origin: origin, Old: old.Note, New: newCP.Note, Proof: served}
		return nil, writeEvidence(stateDir, origin, "unproven", marshalUnproven(ie), ie)
	case newCP.Size < old.Size:
		return nil, fmt.Errorf("couldn't audit %s: the node now serves a checkpoint of size %d, smaller than the %d seen before, and can't prove the two consistent: %w",
			origin, newCP.Size, old.Size, err)
	default:
		return nil, fmt.Errorf("couldn't audit %s: %w", origin, err)
	}
	if newCP.Size < old.Size {
		res.Stale = true
		return res, nil
	}
	if newCP.Size == old.Size {
		return res, nil
	}
	return res, writeAtomic(statePath, newCP.Note)
}

// stateFileName is a file name for an origin: its safe characters, and a
// hash so that distinct origins never share a file.
func stateFileName(origin string) string {
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, origin)
	if len(safe) > 64 {
		safe = safe[:64]
	}
	h := sha256.Sum256([]byte(origin))
	return safe + "-" + hex.EncodeToString(h[:4]) + ".checkpoint"
}

func writeEvidence(dir, origin, kind string, b []byte, ie *InconsistencyError) error {
	name := strings.TrimSuffix(stateFileName(origin), ".checkpoint") +
		"." + kind + "-" + time.Now().UTC().Format("20060102T150405Z") + ".txt"
	path := filepath.Join(dir, name)
	if err := writeAtomic(path, b); err != nil {
		return fmt.Errorf("%w (and couldn't write the evidence: %v)", ie, err)
	}
	ie.File = path
	return ie
}

// marshalUnproven writes an unproven inconsistency in the layout of
// witness.Misbehaviour files, so the same tools can read it by eye.
func marshalUnproven(ie *InconsistencyError) []byte {
	var b bytes.Buffer
	b.WriteString("evident/unproven-inconsistency/v1\n")
	b.WriteString("origin " + ie.Origin + "\n")
	b.WriteString("reason unproven\n")
	for _, h := range ie.Proof {
		b.WriteString("proof " + base64.StdEncoding.EncodeToString(h) + "\n")
	}
	for _, n := range [][]byte{ie.Old, ie.New} {
		b.WriteString("checkpoint " + strconv.Itoa(len(n)) + "\n")
		b.Write(n)
	}
	return b.Bytes()
}

// writeAtomic replaces path with b: a reader (or a crash) sees the old
// content or the new, never a mix. The state is private to the auditor.
func writeAtomic(path string, b []byte) error {
	if err := durable.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("couldn't write %s: %w", path, err)
	}
	return nil
}
