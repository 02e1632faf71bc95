package server

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/ledger"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
)

// prepared is a verified envelope, ready to log.
type prepared struct {
	digest [32]byte
	entry  []byte
}

// prepare verifies one envelope and makes its log entry. It stores nothing.
func (s *Server) prepare(env []byte) (*prepared, error) {
	if len(env) > s.opts.MaxEnvelopeSize {
		return nil, tooLarge(len(env), s.opts.MaxEnvelopeSize)
	}
	v, err := evidence.Verify(env, s.trustPolicy())
	if err != nil {
		return nil, evidenceError(err)
	}
	e, err := evidence.NewEntry(v, s.opts.Now())
	if err != nil {
		return nil, evidenceError(err)
	}
	return &prepared{digest: v.EnvelopeDigest, entry: e.Marshal()}, nil
}

// submit logs one envelope: verify, store the envelope, append the entry.
// On any failure nothing stays stored.
func (s *Server) submit(ctx context.Context, env []byte, wait bool) (*evidentv1.SubmitResult, error) {
	p, err := s.prepare(env)
	if err != nil {
		return nil, err
	}
	results, err := s.logPrepared(ctx, []*prepared{p}, [][]byte{env})
	if err != nil {
		return nil, err
	}
	res := results[0]
	if wait {
		if err := s.waitAndProve(ctx, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// submitBatch logs many envelopes in one ledger batch; each succeeds or
// fails on its own.
func (s *Server) submitBatch(ctx context.Context, envs [][]byte, wait bool) ([]*evidentv1.SubmitBatchResult, error) {
	out := make([]*evidentv1.SubmitBatchResult, len(envs))
	var ps []*prepared
	var pEnvs [][]byte
	var pos []int
	for i, env := range envs {
		p, err := s.prepare(env)
		if err != nil {
			out[i] = &evidentv1.SubmitBatchResult{Outcome: &evidentv1.SubmitBatchResult_Error{Error: statusOf(err)}}
			continue
		}
		ps, pEnvs, pos = append(ps, p), append(pEnvs, env), append(pos, i)
	}
	if len(ps) > 0 {
		results, err := s.logPrepared(ctx, ps, pEnvs)
		for j, i := range pos {
			if err != nil {
				out[i] = &evidentv1.SubmitBatchResult{Outcome: &evidentv1.SubmitBatchResult_Error{Error: statusOf(err)}}
				continue
			}
			if wait {
				if err := s.waitAndProve(ctx, results[j]); err != nil {
					return nil, err
				}
			}
			out[i] = &evidentv1.SubmitBatchResult{Outcome: &evidentv1.SubmitBatchResult_Result{Result: results[j]}}
		}
	}
	return out, nil
}

// logPrepared stores the envelopes and appends their entries in one ledger
// call. Blobs it created are removed again if the append fails.
func (s *Server) logPrepared(ctx context.Context, ps []*prepared, envs [][]byte) ([]*evidentv1.SubmitResult, error) {
	entries := make([][]byte, len(ps))
	for i, p := range ps {
		s.hold(p.digest)
		entries[i] = p.entry
	}
	logged := false
	defer func() {
		for _, p := range ps {
			s.release(p.digest, logged)
		}
	}()
	for i, p := range ps {
		_, created, err := s.blobs.Put(envs[i])
		if err != nil {
			return nil, s.internal(ctx, "store envelope", err)
		}
		if created {
			s.markCreated(p.digest)
		}
	}
	// Append is not cancelled with the request: the node must learn whether
	// the entries were logged, to keep or remove their envelopes.
	app, err := s.ledger.Append(context.WithoutCancel(ctx), entries)
	if err != nil {
		return nil, s.ledgerError(ctx, err)
	}
	logged = true
	out := make([]*evidentv1.SubmitResult, len(ps))
	for i, a := range app {
		entry := ps[i].entry
		if a.Duplicate {
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

// waitAndProve waits for a checkpoint covering res and adds the inclusion
// proof against it.
func (s *Server) waitAndProve(ctx context.Context, res *evidentv1.SubmitResult) error {
	cp, size, err := s.ledger.WaitForCheckpoint(ctx, res.GetLogIndex()+1)
	if err != nil {
		if ctx.Err() != nil {
			return connect.NewError(connect.CodeDeadlineExceeded, fmt.Errorf("logged at index %d, but no checkpoint covered it before the deadline: fetch the proof later", res.GetLogIndex()))
		}
		return s.internal(ctx, "wait for checkpoint", err)
	}
	p, err := s.ledger.InclusionProof(ctx, res.GetLogIndex(), size)
	if err != nil {
		return s.internal(ctx, "prove inclusion", err)
	}
	res.InclusionProof = &evidentv1.InclusionProof{LogIndex: res.GetLogIndex(), TreeSize: size, Hashes: p}
	res.Checkpoint = string(cp)
	return nil
}

type inflightBlob struct {
	n       int
	created bool
}

func (s *Server) hold(d [32]byte) {
	s.inflightMu.Lock()
	defer s.inflightMu.Unlock()
	b := s.inflight[d]
	if b == nil {
		b = &inflightBlob{}
		s.inflight[d] = b
	}
	b.n++
}

func (s *Server) markCreated(d [32]byte) {
	s.inflightMu.Lock()
	defer s.inflightMu.Unlock()
	s.inflight[d].created = true
}

// release drops a hold on a blob. The last holder removes a blob that one of
// the holders created if no entry refers to it, so a failed submission
// leaves nothing stored while a concurrent one of the same envelope keeps it.
func (s *Server) release(d [32]byte, logged bool) {
	s.inflightMu.Lock()
	defer s.inflightMu.Unlock()
	b := s.inflight[d]
	b.n--
	if logged {
		b.created = false // referenced by an entry now: keep it
	}
	if b.n > 0 {
		return
	}
	delete(s.inflight, d)
	if !b.created {
		return
	}
	if _, err := s.ledger.IndexOfIdentity(context.Background(), d); err == nil {
		return
	} else if !errors.Is(err, ledger.ErrNotFound) {
		s.log.Error("couldn't check whether an envelope is logged; keeping its blob", "envelope", fmt.Sprintf("%x", d), "err", err)
		return
	}
	if err := s.blobs.Delete(d); err != nil {
		s.log.Error("couldn't remove the envelope of a failed submission", "envelope", fmt.Sprintf("%x", d), "err", err)
	}
}
