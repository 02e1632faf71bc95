package server

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"connectrpc.com/connect"
	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/ledger"
	"github.com/evident-dev/evident/ledger/evidentledger"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
)

// prepared is a verified envelope, ready to log.
type prepared struct {
	digest  [32]byte
	entry   []byte
	keys    []ledger.IndexKey // the entry's index keys (evidentledger.Keys)
	signers []string          // key ids, charged to their rate limits
}

// prepare verifies one envelope and makes its log entry. It stores nothing.
// release is the purl under which to file subjects named by file, or "".
func (s *Handlers) prepare(ctx context.Context, env []byte, release string) (*prepared, error) {
	ps, errs := s.prepareBatch(ctx, [][]byte{env}, []string{release})
	return ps[0], errs[0]
}

// prepareBatch is prepare of each envelope and releases[i] (ps[i] or
// errs[i] for envs[i]), verifying them together (evidence.VerifyBatch).
func (s *Handlers) prepareBatch(ctx context.Context, envs [][]byte, releases []string) (ps []*prepared, errs []error) {
	ps, errs = make([]*prepared, len(envs)), make([]error, len(envs))
	var (
		sized     [][]byte
		sizedRels []string
		at        []int
	)
	for i, env := range envs {
		if len(env) > s.opts.MaxEnvelopeSize {
			errs[i] = tooLarge(len(env), s.opts.MaxEnvelopeSize)
			continue
		}
		rel := ""
		if i < len(releases) {
			rel = releases[i]
		}
		sized, sizedRels, at = append(sized, env), append(sizedRels, rel), append(at, i)
	}
	policy := s.trustPolicy()
	vs, verrs := VerifyEnvelopes(ctx, sized, sizedRels, policy)
	now := s.opts.Now()
	for j, i := range at {
		if verrs[j] != nil {
			errs[i] = evidenceError(verrs[j])
			continue
		}
		e, err := vs[j].EntryAt(now)
		if err != nil {
			errs[i] = evidenceError(err)
			continue
		}
		if vs[j].PredicateType == evidence.PredicateWithdrawal {
			if err := s.checkWithdrawal(ctx, vs[j], policy); err != nil {
				errs[i] = err
				continue
			}
		}
		// Last, so that only envelopes the node would log count (and
		// logPrepared gives back what the ledger refuses or had already).
		if err := s.limits.take(policy, vs[j].SignerIDs, now); err != nil {
			errs[i] = err
			continue
		}
		ps[i] = &prepared{digest: vs[j].EnvelopeDigest, entry: e.Marshal(), keys: evidentledger.Keys(e), signers: vs[j].SignerIDs}
	}
	return ps, errs
}

// VerifyEnvelopes verifies envelopes, with the release each one's
// file-named subjects are filed under (or nil), as Submit does (evidence.VerifyBatch,
// on the node's verifier goroutines), for tools that measure the node's
// ceiling (cmd/evidentbench -ceiling). If ctx is done by the time a
// verifier is free, nothing is verified: under overload the queue holds
// calls whose clients have given up, and their work would only delay the
// others.
func VerifyEnvelopes(ctx context.Context, envs [][]byte, releases []string, policy *evidence.TrustedSigners) (vs []*evidence.Verified, errs []error) {
	verifiers.run(func() {
		if err := ctx.Err(); err != nil {
			code := connect.CodeCanceled
			if errors.Is(err, context.DeadlineExceeded) {
				code = connect.CodeDeadlineExceeded
			}
			vs, errs = make([]*evidence.Verified, len(envs)), make([]error, len(envs))
			for i := range errs {
				errs[i] = connect.NewError(code, fmt.Errorf("the call ended before a verifier was free: %w", err))
			}
			return
		}
		vs, errs = evidence.VerifyBatch(envs, releases, policy)
	})
	return vs, errs
}

// verifiers runs signature checks on a few long-lived goroutines. Each
// request has a goroutine of its own, born with a small stack, and Ed25519
// verification needs a deep one: growing it cost about 5% of the CPU per
// single Submit (runtime.newstack and copystack in evidentbench's
// profile). The workers keep their grown stacks from one request to the
// next. One per CPU: more could not verify faster.
var verifiers = newWorkerPool(runtime.GOMAXPROCS(0))

// workerPool runs functions on a fixed set of goroutines that live as long
// as the process.
type workerPool struct{ jobs chan func() }

func newWorkerPool(n int) *workerPool {
	p := &workerPool{jobs: make(chan func())}
	for range n {
		go func() {
			for f := range p.jobs {
				f()
			}
		}()
	}
	return p
}

// run runs f on one of the pool's goroutines and returns when it has. A
// panic in f is raised again here, in the caller's goroutine, so that it
// fails the one request (the HTTP server recovers it) and not the process.
func (p *workerPool) run(f func()) {
	done := make(chan struct{})
	var panicked any
	p.jobs <- func() {
		defer func() {
			panicked = recover()
			close(done)
		}()
		f()
	}
	<-done
	if panicked != nil {
		panic(panicked)
	}
}

// submit logs one envelope: verify, store the envelope, append the entry.
// On any failure nothing stays stored.
func (s *Handlers) submit(ctx context.Context, env []byte, release string, wait bool) (*evidentv1.SubmitResult, error) {
	p, err := s.prepare(ctx, env, release)
	if err != nil {
		return nil, err
	}
	results, err := s.logPrepared(ctx, []*prepared{p}, [][]byte{env})
	if err != nil {
		return nil, err
	}
	res := results[0]
	if wait {
		if err := s.waitAndProve(ctx, results); err != nil {
			// Logged whatever comes of the wait: the answer names the index.
			return nil, notCheckpointed(res.GetLogIndex(), err)
		}
	}
	return res, nil
}

// submitBatch logs many envelopes in one ledger batch; each succeeds or
// fails on its own.
func (s *Handlers) submitBatch(ctx context.Context, envs [][]byte, releases []string, wait bool) ([]*evidentv1.SubmitBatchResult, error) {
	out := make([]*evidentv1.SubmitBatchResult, len(envs))
	var ps []*prepared
	var pEnvs [][]byte
	var pos []int
	prepared, errs := s.prepareBatch(ctx, envs, releases)
	for i, env := range envs {
		if errs[i] != nil {
			out[i] = &evidentv1.SubmitBatchResult{Outcome: &evidentv1.SubmitBatchResult_Error{Error: statusOf(errs[i])}}
			continue
		}
		ps, pEnvs, pos = append(ps, prepared[i]), append(pEnvs, env), append(pos, i)
	}
	if len(ps) > 0 {
		results, err := s.logPrepared(ctx, ps, pEnvs)
		if err == nil && wait {
			// Logged whatever comes of the wait: a failure is each item's,
			// and its message names the item's index.
			err = s.waitAndProve(ctx, results)
		}
		for j, i := range pos {
			if err != nil {
				item := err
				if results != nil {
					item = notCheckpointed(results[j].GetLogIndex(), err)
				}
				out[i] = &evidentv1.SubmitBatchResult{Outcome: &evidentv1.SubmitBatchResult_Error{Error: statusOf(item)}}
				continue
			}
			out[i] = &evidentv1.SubmitBatchResult{Outcome: &evidentv1.SubmitBatchResult_Result{Result: results[j]}}
		}
	}
	return out, nil
}

// logPrepared appends the entries with their envelopes in one ledger call:
// each envelope is stored in its entry's transaction, so a failed append
// stores nothing and a logged entry always has its envelope.
func (s *Handlers) logPrepared(ctx context.Context, ps []*prepared, envs [][]byte) ([]*evidentv1.SubmitResult, error) {
	entries := make([][]byte, len(ps))
	keys := make([][]ledger.IndexKey, len(ps))
	for i, p := range ps {
		entries[i], keys[i] = p.entry, p.keys
	}
	// Append is not cancelled with the request: once queued the entries
	// may be logged, and the answer must say so.
	app, err := s.ledger.AppendIndexed(context.WithoutCancel(ctx), entries, envs, keys)
	policy := s.trustPolicy()
	if err != nil {
		for _, p := range ps {
			s.limits.refund(policy, p.signers)
		}
		return nil, s.ledgerError(ctx, err)
	}
	out := make([]*evidentv1.SubmitResult, len(ps))
	for i, a := range app {
		entry := ps[i].entry
		if a.Duplicate {
			s.limits.refund(policy, ps[i].signers) // nothing new was logged
			// The first submission's entry (its own time) is the logged one.
			if entry, err = s.ledger.Entry(ctx, a.Index); err != nil {
				return nil, s.internal(ctx, "read logged entry", err)
			}
		}
		out[i] = &evidentv1.SubmitResult{
			LogIndex:       a.Index,
			Duplicate:      a.Duplicate,
			EnvelopeSha256: append([]byte(nil), ps[i].digest[:]...),
			Entry:          entry,
		}
	}
	return out, nil
}

// waitAndProve waits for one checkpoint covering every result and adds
// each one's inclusion proof against it.
func (s *Handlers) waitAndProve(ctx context.Context, results []*evidentv1.SubmitResult) error {
	var size uint64
	for _, r := range results {
		size = max(size, r.GetLogIndex()+1)
	}
	// Stop waiting a little before the caller's deadline, so that the
	// answer saying what was logged reaches it before it gives up.
	wctx := ctx
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		wctx, cancel = context.WithDeadline(ctx, d.Add(-min(time.Until(d)/10, time.Second)))
		defer cancel()
	}
	cp, cpSize, err := s.ledger.WaitForCheckpoint(wctx, size)
	if err != nil {
		return s.waitError(wctx, err)
	}
	for _, r := range results {
		p, err := s.ledger.InclusionProof(ctx, r.GetLogIndex(), cpSize)
		if err != nil {
			return s.internal(ctx, "prove inclusion", err)
		}
		r.InclusionProof = &evidentv1.InclusionProof{LogIndex: r.GetLogIndex(), TreeSize: cpSize, Hashes: p}
		r.Checkpoint = string(cp)
	}
	return nil
}

// waitError maps a WaitForCheckpoint error.
func (s *Handlers) waitError(ctx context.Context, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("the call was cancelled before a checkpoint covered it"))
	case ctx.Err() != nil:
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("no checkpoint covered it before the deadline"))
	case errors.Is(err, ledger.ErrClosed):
		return s.ledgerError(ctx, err)
	}
	return s.internal(ctx, "wait for checkpoint", err)
}

// notCheckpointed says that the envelope at idx is logged, though err kept
// the answer from carrying its proof: the client must not submit it again
// as if it were lost, but fetch the proof later.
func notCheckpointed(idx uint64, err error) error {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return err
	}
	return connect.NewError(ce.Code(), fmt.Errorf("logged at index %d, but %s: fetch its proof later (GetEvidence)", idx, ce.Message()))
}
