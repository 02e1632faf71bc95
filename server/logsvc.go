package server

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"github.com/evident-dev/evident/ledger"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
)

type logService struct{ s *Handlers }

func (l *logService) GetCheckpoint(ctx context.Context, _ *connect.Request[evidentv1.GetCheckpointRequest]) (*connect.Response[evidentv1.GetCheckpointResponse], error) {
	cp, size := l.s.checkpoint()
	return connect.NewResponse(&evidentv1.GetCheckpointResponse{
		Checkpoint: string(cp),
		TreeSize:   size,
		Origin:     l.s.ledger.Origin(),
	}), nil
}

// treeSize resolves a requested tree size (0: the latest checkpoint's) and
// returns the checkpoint text when it is the latest.
func (l *logService) treeSize(requested uint64) (uint64, string, error) {
	cp, size := l.s.checkpoint()
	if requested == 0 {
		return size, string(cp), nil
	}
	if requested > size {
		return 0, "", connect.NewError(connect.CodeOutOfRange, fmt.Errorf("tree size %d is beyond the latest checkpoint's %d", requested, size))
	}
	return requested, "", nil
}

func (l *logService) GetInclusionProof(ctx context.Context, req *connect.Request[evidentv1.GetInclusionProofRequest]) (*connect.Response[evidentv1.GetInclusionProofResponse], error) {
	size, cp, err := l.treeSize(req.Msg.GetTreeSize())
	if err != nil {
		return nil, err
	}
	var idx uint64
	switch leaf := req.Msg.GetLeaf().(type) {
	case *evidentv1.GetInclusionProofRequest_LogIndex:
		idx = leaf.LogIndex
	case *evidentv1.GetInclusionProofRequest_LeafHash:
		var h [32]byte
		copy(h[:], leaf.LeafHash)
		i, err := l.s.ledger.IndexOfLeaf(ctx, h)
		if errors.Is(err, ledger.ErrNotFound) {
			return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("no entry has leaf hash %x", h))
		}
		if err != nil {
			return nil, l.s.internal(ctx, "look up leaf hash", err)
		}
		idx = i
	}
	if idx >= size {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("log index %d is not in the tree of size %d", idx, size))
	}
	p, err := l.s.ledger.InclusionProof(ctx, idx, size)
	if err != nil {
		return nil, l.s.internal(ctx, "prove inclusion", err)
	}
	return connect.NewResponse(&evidentv1.GetInclusionProofResponse{
		Proof:      &evidentv1.InclusionProof{LogIndex: idx, TreeSize: size, Hashes: p},
		Checkpoint: cp,
	}), nil
}

func (l *logService) GetConsistencyProof(ctx context.Context, req *connect.Request[evidentv1.GetConsistencyProofRequest]) (*connect.Response[evidentv1.GetConsistencyProofResponse], error) {
	size, cp, err := l.treeSize(req.Msg.GetNewSize())
	if err != nil {
		return nil, err
	}
	old := req.Msg.GetOldSize()
	if old > size {
		return nil, connect.NewError(connect.CodeOutOfRange, fmt.Errorf("old_size %d is beyond the tree size %d", old, size))
	}
	p, err := l.s.ledger.ConsistencyProof(ctx, old, size)
	if err != nil {
		return nil, l.s.internal(ctx, "prove consistency", err)
	}
	return connect.NewResponse(&evidentv1.GetConsistencyProofResponse{OldSize: old, NewSize: size, Hashes: p, Checkpoint: cp}), nil
}

func (l *logService) GetEntries(ctx context.Context, req *connect.Request[evidentv1.GetEntriesRequest]) (*connect.Response[evidentv1.GetEntriesResponse], error) {
	_, size := l.s.checkpoint()
	start, count := req.Msg.GetStart(), uint64(req.Msg.GetCount())
	if start >= size {
		return nil, connect.NewError(connect.CodeOutOfRange, fmt.Errorf("start %d is beyond the tree size %d", start, size))
	}
	count = min(count, size-start)
	es, err := l.s.ledger.Entries(ctx, start, int(count))
	if err != nil {
		return nil, l.s.internal(ctx, "read entries", err)
	}
	// Fewer entries, never none, rather than an answer the client can't
	// receive; it asks again from where this one stopped.
	total := 0
	for i, e := range es {
		if total += len(e) + 8; i > 0 && total > l.s.opts.MaxResponseBytes {
			es = es[:i]
			break
		}
	}
	return connect.NewResponse(&evidentv1.GetEntriesResponse{Entries: es, Start: start}), nil
}
