package witness

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
)

// MaxBodySize bounds an add-checkpoint request body. The old size and proof
// lines take under 3 KiB (c2sp.org/tlog-witness: at most 63 proof lines) and
// checkpoint.MaxBodySize bounds the note text; the rest is room for
// signatures. c2sp.org/signed-note: verifiers MUST accept at least 16
// signatures, and post-quantum ones can be nearly 5 kB; 1 MiB leaves ample
// room for that while keeping a hostile body cheap to hold in memory.
const MaxBodySize = 1 << 20

// MaxProofLines is the most consistency proof lines a request may carry.
// c2sp.org/tlog-witness: the client MUST NOT send more than 63 consistency
// proof lines.
const MaxProofLines = 63

// ErrMalformed is wrapped by every error about a request that doesn't follow
// c2sp.org/tlog-witness. HTTP: 400 Bad Request.
var ErrMalformed = errors.New("malformed add-checkpoint request")

// AddCheckpointRequest is the body of a c2sp.org/tlog-witness add-checkpoint
// request.
type AddCheckpointRequest struct {
	// OldSize is the size of the checkpoint the client believes the witness
	// last cosigned, 0 if none.
	OldSize uint64
	// Proof is the RFC 6962 consistency proof from OldSize to the size of
	// Checkpoint: 32-byte hashes, empty when OldSize is 0.
	Proof [][]byte
	// Checkpoint is the signed checkpoint note, not yet verified.
	Checkpoint []byte
}

// ParseAddCheckpoint parses an add-checkpoint request body. It checks the
// framing only; the witness verifies the note and the proof. What it accepts
// marshals back to the same bytes.
func ParseAddCheckpoint(body []byte) (AddCheckpointRequest, error) {
	fail := func(format string, args ...any) (AddCheckpointRequest, error) {
		return AddCheckpointRequest{}, fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	if len(body) > MaxBodySize {
		return fail("body is %d bytes, more than %d", len(body), MaxBodySize)
	}
	var r AddCheckpointRequest
	// c2sp.org/tlog-witness: each line MUST terminate in a newline; the old
	// size line is "old", a space, and an ASCII decimal with no leading
	// zeroes (unless it is 0).
	line, rest, ok := bytes.Cut(body, []byte("\n"))
	if !ok {
		return fail("missing old size line")
	}
	size, ok := bytes.CutPrefix(line, []byte("old "))
	if !ok {
		return fail("first line must be \"old <size>\"")
	}
	n, ok := parseDecimal(size)
	if !ok {
		return fail("old size %q is not a decimal number without leading zeroes", size)
	}
	r.OldSize = n
	for {
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		if !ok {
			return fail("missing empty line before the checkpoint")
		}
		if len(line) == 0 {
			break
		}
		if len(r.Proof) == MaxProofLines {
			return fail("more than %d consistency proof lines", MaxProofLines)
		}
		// c2sp.org/tlog-witness: each consistency proof line MUST encode a
		// single hash in base64.
		h, err := base64.StdEncoding.Strict().DecodeString(string(line))
		if err != nil || len(h) != 32 || base64.StdEncoding.EncodeToString(h) != string(line) {
			return fail("proof line %d is not the base64 of a 32-byte hash", len(r.Proof)+1)
		}
		r.Proof = append(r.Proof, h)
	}
	if len(rest) == 0 {
		return fail("missing checkpoint")
	}
	r.Checkpoint = rest
	return r, nil
}

// Marshal returns the request body of r.
func (r AddCheckpointRequest) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString("old ")
	b.WriteString(strconv.FormatUint(r.OldSize, 10))
	b.WriteByte('\n')
	for _, h := range r.Proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(r.Checkpoint)
	return b.Bytes()
}

// parseDecimal parses an ASCII decimal uint64 with no sign and no leading
// zeroes (except "0" itself), the form C2SP specs use for sizes.
func parseDecimal(s []byte) (uint64, bool) {
	if len(s) == 0 || len(s) > 20 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(string(s), 10, 64)
	return n, err == nil
}
