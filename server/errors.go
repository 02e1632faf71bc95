package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/ledger"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"
)

// This file is the RPC boundary: package errors become connect codes here
// and nowhere else. Clients get a message that says what to fix; internal
// detail stays in the node's log.

// pushbackRetry is the retry hint sent with Unavailable under backpressure.
const pushbackRetry = time.Second

// evidenceError maps an evidence.Verify / NewEntry error.
func evidenceError(err error) error {
	var code connect.Code
	switch {
	case errors.Is(err, evidence.ErrUntrustedKey), errors.Is(err, evidence.ErrNamespace):
		code = connect.CodePermissionDenied
	case errors.Is(err, evidence.ErrBadSignature):
		// The signature is the submitter's credential, and it is invalid.
		code = connect.CodeUnauthenticated
	case errors.Is(err, evidence.ErrMalformed):
		code = connect.CodeInvalidArgument
	default:
		code = connect.CodeInvalidArgument
	}
	ce := connect.NewError(code, err)
	var fe *evidence.FieldError
	if errors.As(err, &fe) {
		// The evidence package names the whole input "envelope", which is
		// the request field itself.
		field := "envelope"
		if fe.Field != "envelope" {
			field += "." + fe.Field
		}
		if d, derr := connect.NewErrorDetail(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: fe.Reason}},
		}); derr == nil {
			ce.AddDetail(d)
		}
	}
	return ce
}

func invalidField(field string, err error) error {
	ce := connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s: %w", field, err))
	if d, derr := connect.NewErrorDetail(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: err.Error()}},
	}); derr == nil {
		ce.AddDetail(d)
	}
	return ce
}

func tooLarge(n, max int) error {
	return connect.NewError(connect.CodeResourceExhausted,
		fmt.Errorf("the envelope is %d bytes; this node accepts at most %d", n, max))
}

// busy is the Unavailable error of a node under backpressure: what is
// full, and when to retry, also as a RetryInfo detail.
func busy(why string) error {
	ce := connect.NewError(connect.CodeUnavailable, fmt.Errorf("%s: retry in %v", why, pushbackRetry))
	if d, derr := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: durationpb.New(pushbackRetry)}); derr == nil {
		ce.AddDetail(d)
	}
	return ce
}

// ledgerError maps an Append error.
func (s *Handlers) ledgerError(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, ledger.ErrPushback):
		return busy("the node's log has too many entries waiting to be written")
	case errors.Is(err, ledger.ErrInvalidEntry):
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("the log entry for this envelope is not acceptable: %w", err))
	case errors.Is(err, ledger.ErrClosed):
		return connect.NewError(connect.CodeUnavailable, errors.New("the node is shutting down: retry against it later"))
	}
	return s.internal(ctx, "append to the log", err)
}

// internal logs err and returns an Internal error that leaks nothing.
func (s *Handlers) internal(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return connect.NewError(connect.CodeCanceled, ctx.Err())
	}
	s.log.ErrorContext(ctx, "request failed", "op", what, "err", err)
	return connect.NewError(connect.CodeInternal, fmt.Errorf("couldn't %s: internal error (logged on the node)", what))
}

// statusOf turns an error into the per-item status of a batch response.
func statusOf(err error) *evidentv1.Status {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return &evidentv1.Status{Code: int32(ce.Code()), Message: ce.Message()}
	}
	return &evidentv1.Status{Code: int32(connect.CodeInternal), Message: "internal error"}
}
