package federation

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"

	"connectrpc.com/connect"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/proto/evident/v1/evidentv1connect"
	"github.com/evident-dev/evident/witness"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
)

// Mount registers the federation's endpoints on mux: the WitnessService
// (Connect, gRPC, gRPC-Web), c2sp.org/tlog-witness POST /add-checkpoint, and
// GET /misbehaviour (every proof held, as witness misbehaviour files
// separated by blank lines).
func (f *Federation) Mount(mux interface {
	Handle(string, http.Handler)
}, opts ...connect.HandlerOption) {
	// A read limit that admits an add-checkpoint body, base64 in JSON for
	// Connect JSON clients: connect's default is none.
	opts = append(opts[:len(opts):len(opts)], connect.WithReadMaxBytes(witness.MaxBodySize/3*4+64<<10))
	mux.Handle(evidentv1connect.NewWitnessServiceHandler(&Service{f}, opts...))
	mux.Handle("POST /add-checkpoint", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		witness.Handler(f.Witness()).ServeHTTP(w, r)
	}))
	mux.Handle("GET /misbehaviour", http.HandlerFunc(f.serveMisbehaviour))
}

func (f *Federation) serveMisbehaviour(w http.ResponseWriter, r *http.Request) {
	ms, err := f.Misbehaviour(r.Context())
	if err != nil {
		f.log.Error("couldn't list misbehaviour", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	for i, m := range ms {
		b, err := m.Marshal()
		if err != nil {
			continue
		}
		if i > 0 {
			w.Write([]byte("\n"))
		}
		w.Write(b)
	}
}

// Service implements evidentv1connect.WitnessServiceHandler.
type Service struct{ f *Federation }

// AddCheckpoint is c2sp.org/tlog-witness add-checkpoint over RPC.
func (s *Service) AddCheckpoint(ctx context.Context, req *connect.Request[evidentv1.AddCheckpointRequest]) (*connect.Response[evidentv1.AddCheckpointResponse], error) {
	cosigs, err := s.f.Witness().AddCheckpoint(ctx, req.Msg.GetBody())
	if err != nil {
		return nil, witnessError(err)
	}
	return connect.NewResponse(&evidentv1.AddCheckpointResponse{Cosignatures: cosigs}), nil
}

// ListCheckpoints returns the latest checkpoint held for every known log.
func (s *Service) ListCheckpoints(ctx context.Context, _ *connect.Request[evidentv1.ListCheckpointsRequest]) (*connect.Response[evidentv1.ListCheckpointsResponse], error) {
	all, err := s.f.Checkpoints(ctx)
	if err != nil {
		s.f.log.Error("couldn't list checkpoints", "err", err)
		return nil, connect.NewError(connect.CodeInternal, errors.New("couldn't list checkpoints: internal error (logged on the node)"))
	}
	origins := make([]string, 0, len(all))
	for o := range all {
		origins = append(origins, o)
	}
	sort.Strings(origins)
	resp := &evidentv1.ListCheckpointsResponse{}
	for _, o := range origins {
		resp.Checkpoints = append(resp.Checkpoints, &evidentv1.LogCheckpoint{Origin: o, Checkpoint: string(all[o])})
	}
	return connect.NewResponse(resp), nil
}

// ListMisbehaviour returns every proof of misbehaviour held.
func (s *Service) ListMisbehaviour(ctx context.Context, _ *connect.Request[evidentv1.ListMisbehaviourRequest]) (*connect.Response[evidentv1.ListMisbehaviourResponse], error) {
	ms, err := s.f.Misbehaviour(ctx)
	if err != nil {
		s.f.log.Error("couldn't list misbehaviour", "err", err)
		return nil, connect.NewError(connect.CodeInternal, errors.New("couldn't list misbehaviour: internal error (logged on the node)"))
	}
	resp := &evidentv1.ListMisbehaviourResponse{}
	for _, m := range ms {
		b, err := m.Marshal()
		if err != nil {
			continue
		}
		resp.Proofs = append(resp.Proofs, b)
	}
	return connect.NewResponse(resp), nil
}

// witnessError maps witness errors to the codes the WitnessService
// documents, mirroring the tlog-witness HTTP status codes.
func witnessError(err error) error {
	var conflict *witness.ConflictError
	switch {
	case errors.As(err, &conflict):
		ce := connect.NewError(connect.CodeFailedPrecondition, err)
		if d, derr := connect.NewErrorDetail(&errdetails.ErrorInfo{
			Reason:   "old_size_mismatch",
			Domain:   "evident.dev",
			Metadata: map[string]string{"size": strconv.FormatUint(conflict.Size, 10)},
		}); derr == nil {
			ce.AddDetail(d)
		}
		return ce
	case errors.Is(err, witness.ErrUnknownLog):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, witness.ErrMalformed):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, witness.ErrBadSignature), errors.Is(err, witness.ErrLogMisbehaved):
		return connect.NewError(connect.CodePermissionDenied, err)
	case errors.Is(err, witness.ErrInconsistent):
		ce := connect.NewError(connect.CodeFailedPrecondition, err)
		if d, derr := connect.NewErrorDetail(&errdetails.ErrorInfo{Reason: "inconsistent", Domain: "evident.dev"}); derr == nil {
			ce.AddDetail(d)
		}
		return ce
	}
	return connect.NewError(connect.CodeInternal, errors.New("couldn't witness the checkpoint: internal error (logged on the node)"))
}
