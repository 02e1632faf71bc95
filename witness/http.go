package witness

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Handler returns the c2sp.org/tlog-witness HTTP API of w, with the
// submission and monitoring prefixes both at the handler's root:
//
//	POST /add-checkpoint          cosign a checkpoint
//	GET  /<origin hash>/checkpoint the latest cosigned checkpoint of a log
//
// Mount it under a prefix with http.StripPrefix.
//
// add-checkpoint answers, per c2sp.org/tlog-witness: 200 with the
// cosignature lines; 400 for a malformed request or an old size larger than
// the checkpoint's; 403 for a checkpoint without a valid signature by the
// log (and, Evident's choice, for a log the witness holds a proof of
// misbehaviour against); 404 for an unknown origin; 409 with the latest
// cosigned size as a text/x.tlog.size body when the old size is not that
// size; 422 when the checkpoint is not proven consistent. Beyond the spec:
// 405 for a method other than POST, 413 for a body over MaxBodySize, 500 for
// the witness's own failures.
func Handler(w *Witness) http.Handler {
	mux := http.NewServeMux()
	// c2sp.org/tlog-witness: the request MUST be an HTTP POST. ServeMux
	// answers other methods with 405 and an Allow header.
	mux.HandleFunc("POST /add-checkpoint", w.serveAddCheckpoint)
	// c2sp.org/tlog-witness: the request MUST be an HTTP GET (HEAD is GET
	// without a body).
	mux.HandleFunc("GET /{originhash}/checkpoint", w.serveCheckpoint)
	return mux
}

func (w *Witness) serveAddCheckpoint(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, MaxBodySize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(rw, fmt.Sprintf("request body is larger than %d bytes", MaxBodySize), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(rw, "couldn't read request body", http.StatusBadRequest)
		return
	}
	sigs, err := w.AddCheckpoint(ctx, body)
	if err != nil {
		status := addCheckpointStatus(err)
		var conflict *ConflictError
		switch {
		case status == http.StatusConflict && errors.As(err, &conflict):
			// c2sp.org/tlog-witness: the response body MUST consist of the
			// tree size of the latest cosigned checkpoint in decimal,
			// followed by a newline, with Content-Type text/x.tlog.size.
			rw.Header().Set("Content-Type", "text/x.tlog.size")
			rw.Header().Set("X-Content-Type-Options", "nosniff")
			rw.WriteHeader(http.StatusConflict)
			io.WriteString(rw, strconv.FormatUint(conflict.Size, 10)+"\n")
		case status == http.StatusInternalServerError:
			w.log.ErrorContext(ctx, "add-checkpoint failed", "error", err)
			http.Error(rw, "internal error", status)
		default:
			// Our error messages describe the request, never our internals.
			w.log.DebugContext(ctx, "add-checkpoint refused", "status", status, "error", err)
			http.Error(rw, err.Error(), status)
		}
		return
	}
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.Write(sigs)
}

// addCheckpointStatus maps an AddCheckpoint error to its c2sp.org/tlog-witness
// status code.
func addCheckpointStatus(err error) int {
	var conflict *ConflictError
	switch {
	case errors.Is(err, ErrMalformed):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnknownLog):
		return http.StatusNotFound
	case errors.Is(err, ErrBadSignature), errors.Is(err, ErrLogMisbehaved):
		return http.StatusForbidden
	case errors.As(err, &conflict):
		return http.StatusConflict
	case errors.Is(err, ErrInconsistent):
		return http.StatusUnprocessableEntity
	default:
		return http.StatusInternalServerError
	}
}

func (w *Witness) serveCheckpoint(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// c2sp.org/tlog-witness: the origin hash is the SHA-256 hash of the
	// log's origin, hex encoded, in lowercase.
	s := r.PathValue("originhash")
	var h [32]byte
	if len(s) != hex.EncodedLen(len(h)) {
		http.Error(rw, "not found", http.StatusNotFound)
		return
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil || hex.EncodeToString(h[:]) != s {
		http.Error(rw, "not found", http.StatusNotFound)
		return
	}
	origin, ok := w.originByHash(h)
	if !ok {
		http.Error(rw, "not found", http.StatusNotFound)
		return
	}
	signed, err := w.Latest(ctx, origin)
	switch {
	case errors.Is(err, ErrNotCosigned):
		// c2sp.org/tlog-witness: if the witness has never cosigned a
		// checkpoint for that log, it MUST respond with "404 Not Found".
		http.Error(rw, "no cosigned checkpoint for this log", http.StatusNotFound)
		return
	case err != nil:
		w.log.ErrorContext(ctx, "checkpoint read failed", "origin", origin, "error", err)
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	// c2sp.org/tlog-witness: the witness MAY delay updating the checkpoint.
	// A short cache lifetime lets a CDN absorb monitor traffic.
	rw.Header().Set("Cache-Control", "public, max-age=10")
	rw.Write(signed)
}
