package server

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"connectrpc.com/connect"
	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/ledger"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
)

// A judge decides which items are current, superseded or withdrawn
// (evidence/STATUS.md) in the tree of one size, for one answer. It reads
// only the ledger's indexes and the entries it is asked about: a lineage
// (the items of one kind by one set of signers about one subject, newest
// first) is one index scan, and the withdrawals about a subject are
// another, so an answer costs the same whatever the history behind it,
// apart from those scans. What it reads it keeps for the rest of the
// answer. The indexes are the ledger's, written in the same transaction as
// the entries, so the status is derived from the log itself and holds after
// any crash.
type judge struct {
	s    *Handlers
	size uint64
	// entries caches parsed entries by log index.
	entries map[uint64]*evidence.Entry
	// withdrawn maps a status subject to the items about it that are
	// withdrawn, each to the (earliest) withdrawal's index.
	withdrawn map[string]map[uint64]uint64
	// verdicts caches each lineage's verdicts: by status subject, then by
	// log index.
	verdicts map[string]map[uint64]verdict
	resolved map[string]bool // lineage keys resolved into verdicts
}

// verdict is an item's status about one subject.
type verdict struct {
	status evidentv1.EvidenceStatus
	by     uint64 // the superseding item, or the withdrawal
}

func (s *Handlers) newJudge(size uint64) *judge {
	return &judge{
		s:         s,
		size:      size,
		entries:   make(map[uint64]*evidence.Entry),
		withdrawn: make(map[string]map[uint64]uint64),
		verdicts:  make(map[string]map[uint64]verdict),
		resolved:  make(map[string]bool),
	}
}

// entry returns the parsed entry at idx.
func (j *judge) entry(ctx context.Context, idx uint64) (*evidence.Entry, error) {
	if e, ok := j.entries[idx]; ok {
		return e, nil
	}
	b, err := j.s.ledger.Entry(ctx, idx)
	if err != nil {
		return nil, j.s.internal(ctx, "read entry", err)
	}
	e, err := evidence.ParseEntry(b)
	if err != nil {
		return nil, j.s.internal(ctx, "parse logged entry", fmt.Errorf("entry %d: %w", idx, err))
	}
	j.entries[idx] = e
	return e, nil
}

// withdrawals returns the items about subject withdrawn in the tree, each
// with the index of the earliest withdrawal of it. A withdrawal names its
// target by envelope digest, which the dedup index turns into the target's
// index.
func (j *judge) withdrawals(ctx context.Context, subject string) (map[uint64]uint64, error) {
	if w, ok := j.withdrawn[subject]; ok {
		return w, nil
	}
	idxs, err := j.s.scan(ctx, evidence.IndexWithdrawal, subject, j.size, int(^uint(0)>>1))
	if err != nil {
		return nil, err
	}
	w := make(map[uint64]uint64, len(idxs))
	for _, wi := range idxs {
		e, err := j.entry(ctx, wi)
		if err != nil {
			return nil, err
		}
		d, ok := e.WithdrawnEnvelope()
		if !ok {
			continue
		}
		t, err := j.s.ledger.IndexOfIdentity(ctx, d)
		if errors.Is(err, ledger.ErrNotFound) {
			continue // never logged: a node refuses such a withdrawal
		}
		if err != nil {
			return nil, j.s.internal(ctx, "look up withdrawn envelope", err)
		}
		if t >= wi {
			continue // a withdrawal withdraws only what came before it
		}
		if prev, ok := w[t]; !ok || wi < prev {
			w[t] = wi
		}
	}
	j.withdrawn[subject] = w
	return w, nil
}

// resolve judges every item of the lineage of (kind, series, signers,
// subject):
// newest first, the first item not withdrawn is current, and each later
// one is superseded by the nearest newer item not withdrawn.
func (j *judge) resolve(ctx context.Context, kind evidence.Kind, series string, signers []string, subject string) error {
	key := evidence.LineageKey(kind, series, signers, subject)
	if j.resolved[key] {
		return nil
	}
	w, err := j.withdrawals(ctx, subject)
	if err != nil {
		return err
	}
	chain, err := j.s.scan(ctx, evidence.IndexLineage, key, j.size, int(^uint(0)>>1))
	if err != nil {
		return err
	}
	v := j.verdicts[subject]
	if v == nil {
		v = make(map[uint64]verdict, len(chain))
		j.verdicts[subject] = v
	}
	var succ uint64
	have := false
	for _, idx := range chain {
		switch by, ok := w[idx]; {
		case ok:
			v[idx] = verdict{evidentv1.EvidenceStatus_EVIDENCE_STATUS_WITHDRAWN, by}
		case !have:
			v[idx] = verdict{status: evidentv1.EvidenceStatus_EVIDENCE_STATUS_CURRENT}
			succ, have = idx, true
		default:
			v[idx] = verdict{evidentv1.EvidenceStatus_EVIDENCE_STATUS_SUPERSEDED, succ}
			succ = idx
		}
	}
	j.resolved[key] = true
	return nil
}

// known returns the verdict on idx about subject if a lineage resolved so
// far holds it: an answer skips superseded items without reading them.
func (j *judge) known(subject string, idx uint64) (verdict, bool) {
	v, ok := j.verdicts[subject][idx]
	return v, ok
}

// about judges the item e at idx about subject, one of its status subjects.
func (j *judge) about(ctx context.Context, idx uint64, e *evidence.Entry, subject string) (verdict, error) {
	if _, ok := e.WithdrawnEnvelope(); ok {
		// Withdrawals stand: nothing supersedes or withdraws them.
		return verdict{status: evidentv1.EvidenceStatus_EVIDENCE_STATUS_CURRENT}, nil
	}
	if v, ok := j.known(subject, idx); ok {
		return v, nil
	}
	if err := j.resolve(ctx, e.Kind, e.Series(), e.Signers, subject); err != nil {
		return verdict{}, err
	}
	if v, ok := j.known(subject, idx); ok {
		return v, nil
	}
	// Not in its own lineage: an entry logged before the lineage index
	// existed cannot be in this ledger (LedgerSchema), so this is a bug.
	return verdict{}, j.s.internal(ctx, "judge status", fmt.Errorf("entry %d is missing from lineage %q", idx, evidence.LineageKey(e.Kind, e.Series(), e.Signers, subject)))
}

// item judges e at idx as a whole, for answers not about one subject: it is
// withdrawn if withdrawn, current if current about any of its subjects, and
// otherwise superseded, by the earliest item that superseded it.
func (j *judge) item(ctx context.Context, idx uint64, e *evidence.Entry) (verdict, error) {
	var out verdict
	for _, subj := range e.StatusSubjects() {
		v, err := j.about(ctx, idx, e, subj)
		if err != nil {
			return verdict{}, err
		}
		switch {
		case v.status != evidentv1.EvidenceStatus_EVIDENCE_STATUS_SUPERSEDED:
			return v, nil
		case out.status == evidentv1.EvidenceStatus_EVIDENCE_STATUS_UNSPECIFIED || v.by < out.by:
			out = v
		}
	}
	return out, nil
}

// mark writes v into ev, with the withdrawal's reason for a withdrawn item.
func (j *judge) mark(ctx context.Context, ev *evidentv1.Evidence, v verdict) error {
	ev.Status = v.status
	switch v.status {
	case evidentv1.EvidenceStatus_EVIDENCE_STATUS_SUPERSEDED:
		ev.SupersededBy = &v.by
	case evidentv1.EvidenceStatus_EVIDENCE_STATUS_WITHDRAWN:
		ev.WithdrawnBy = &v.by
		reason, err := j.reason(ctx, v.by)
		if err != nil {
			return err
		}
		ev.WithdrawalReason = reason
	}
	return nil
}

// reason reads the reason a withdrawal gives, from its envelope.
func (j *judge) reason(ctx context.Context, idx uint64) (string, error) {
	e, err := j.entry(ctx, idx)
	if err != nil {
		return "", err
	}
	env, err := envelope(ctx, j.s.ledger, e.EnvelopeDigest)
	if err != nil {
		return "", j.s.internal(ctx, "read envelope", err)
	}
	doc, _, err := evidence.DocumentOfEnvelope(env)
	if err != nil {
		return "", j.s.internal(ctx, "read withdrawal", fmt.Errorf("entry %d: %w", idx, err))
	}
	w, err := evidence.ParseWithdrawal(doc)
	if err != nil {
		return "", j.s.internal(ctx, "read withdrawal", fmt.Errorf("entry %d: %w", idx, err))
	}
	return w.Reason, nil
}

// checkWithdrawal applies the rules of STATUS.md that need the log to a
// verified withdrawal before it is logged: the withdrawn envelope is in
// this log, is not itself a withdrawal, has the same status subjects, and
// was signed by one of the withdrawal's signers, or a signer trusted for
// withdrawals signed the withdrawal.
func (s *Handlers) checkWithdrawal(ctx context.Context, v *evidence.Verified, policy *evidence.TrustedSigners) error {
	w, err := evidence.ParseWithdrawal(v.Statement.Predicate)
	if err != nil {
		return evidenceError(err)
	}
	t, err := s.ledger.IndexOfIdentity(ctx, w.EnvelopeDigest)
	if errors.Is(err, ledger.ErrNotFound) {
		return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("the withdrawn envelope %x is not in this log: submit the withdrawal to the node that logged it", w.EnvelopeDigest))
	}
	if err != nil {
		return s.internal(ctx, "look up withdrawn envelope", err)
	}
	if w.HasLogIndex && (w.Log == "" || w.Log == s.ledger.Origin()) && w.LogIndex != t {
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("predicate.withdrawn.log_index is %d, but envelope %x is at index %d of this log", w.LogIndex, w.EnvelopeDigest, t))
	}
	b, err := s.ledger.Entry(ctx, t)
	if err != nil {
		return s.internal(ctx, "read entry", err)
	}
	target, err := evidence.ParseEntry(b)
	if err != nil {
		return s.internal(ctx, "parse logged entry", fmt.Errorf("entry %d: %w", t, err))
	}
	if _, ok := target.WithdrawnEnvelope(); ok {
		return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("entry %d is a withdrawal, and withdrawals cannot be withdrawn: submit the withdrawn evidence again, newly signed, to restore it", t))
	}
	var subjects []string
	for _, p := range v.SubjectPurls {
		pp, err := evidence.ParsePurl(p)
		if err != nil {
			return evidenceError(err)
		}
		s := pp.Release()
		if !pp.HasVersion() {
			s = pp.Package()
		}
		if !slices.Contains(subjects, s) {
			subjects = append(subjects, s)
		}
	}
	want := target.StatusSubjects()
	if !sameSet(subjects, want) {
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("the withdrawal's subjects are %v, and entry %d is about %v: name every subject of the withdrawn evidence, and nothing else", subjects, t, want))
	}
	for _, id := range v.SignerIDs {
		if slices.Contains(target.Signers, id) {
			return nil
		}
	}
	for _, id := range v.SignerIDs {
		ok := true
		for _, subj := range subjects {
			p, _ := evidence.ParsePurl(subj)
			ok = ok && policy.MayWithdraw(id, p)
		}
		if ok {
			return nil
		}
	}
	return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("entry %d was signed by %v; a withdrawal must be signed by one of them, or by a key the node's operator trusts for withdrawals", t, target.Signers))
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
