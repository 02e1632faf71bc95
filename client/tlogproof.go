package client

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// proofHeader is the first line of a c2sp.org/tlog-proof.
const proofHeader = "c2sp.org/tlog-proof@v1"

// maxProofHashes bounds the inclusion proof: one hash per level of a tree
// of up to 2^64 leaves.
const maxProofHashes = 64

// ErrMalformedProof is wrapped by every [ParseProof] error.
var ErrMalformedProof = errors.New("malformed tlog-proof")

// Proof is a c2sp.org/tlog-proof@v1: an entry's index, its RFC 6962
// inclusion proof, and the checkpoint the proof is against, signed by the
// log and possibly cosigned by witnesses. It proves that the entry was
// logged, offline, to anyone who trusts the log's key (and witness policy).
type Proof struct {
	// Extra is opaque, unauthenticated application data; nil if absent.
	// c2sp.org/tlog-proof: applications MUST NOT implicitly trust it.
	// Evident writes none.
	Extra []byte
	// Index is the entry's zero-based index in the log.
	Index uint64
	// Hashes is the inclusion proof, from the leaf's sibling up to the
	// root's child (RFC 6962, section 2.1.1).
	Hashes [][]byte
	// Checkpoint is the signed checkpoint note, verbatim.
	Checkpoint []byte
}

// Marshal returns the text form of p:
//
//	c2sp.org/tlog-proof@v1
//	extra <base64>          (only if Extra is set)
//	index <decimal>
//	<base64 hash>           (zero or more lines)
//	<empty line>
//	<signed checkpoint note>
func (p *Proof) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(proofHeader + "\n")
	if p.Extra != nil {
		b.WriteString("extra " + base64.StdEncoding.EncodeToString(p.Extra) + "\n")
	}
	b.WriteString("index " + strconv.FormatUint(p.Index, 10) + "\n")
	for _, h := range p.Hashes {
		b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
	}
	b.WriteString("\n")
	b.Write(p.Checkpoint)
	return b.Bytes()
}

// ParseProof parses a c2sp.org/tlog-proof@v1. It checks the form only; the
// checkpoint's signatures and the proof itself are checked by
// [VerifyBundle] (or [VerifyCheckpoint] and [VerifyEvidence]). Parsing is
// strict: what it accepts, Marshal writes back byte for byte.
func ParseProof(b []byte) (*Proof, error) {
	fail := func(line int, format string, args ...any) (*Proof, error) {
		return nil, fmt.Errorf("%w: line %d: %s", ErrMalformedProof, line, fmt.Sprintf(format, args...))
	}
	if len(b) > MaxNoteSize+(maxProofHashes+4)*64+(4<<10) {
		return nil, fmt.Errorf("%w: %d bytes is too large for a proof", ErrMalformedProof, len(b))
	}
	rest := b
	lineNo := 0
	next := func() (string, bool) {
		line, r, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			return "", false
		}
		rest = r
		lineNo++
		return string(line), true
	}
	// c2sp.org/tlog-proof: the first line MUST be the string c2sp.org/tlog-proof@v1.
	if l, ok := next(); !ok || l != proofHeader {
		return fail(1, "want %q", proofHeader)
	}
	p := new(Proof)
	l, ok := next()
	if !ok {
		return fail(lineNo+1, "want an index line")
	}
	// c2sp.org/tlog-proof: the second line MAY start with "extra" followed
	// by a space and base64-encoded opaque extra data.
	if v, found := strings.CutPrefix(l, "extra "); found {
		e, err := base64.StdEncoding.Strict().DecodeString(v)
		if err != nil || base64.StdEncoding.EncodeToString(e) != v {
			return fail(lineNo, "extra data is not standard base64")
		}
		p.Extra = e
		if l, ok = next(); !ok {
			return fail(lineNo+1, "want an index line")
		}
	}
	// c2sp.org/tlog-proof: "index", a space, and the index as ASCII decimal
	// with no leading zeroes (unless the index is 0).
	v, found := strings.CutPrefix(l, "index ")
	if !found {
		return fail(lineNo, "want \"index <decimal>\"")
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || strconv.FormatUint(n, 10) != v {
		return fail(lineNo, "index %q is not a decimal number without leading zeroes", truncate(v))
	}
	p.Index = n
	// The inclusion proof, one base64 SHA-256 hash per line, then an empty
	// line.
	for {
		l, ok := next()
		if !ok {
			return fail(lineNo+1, "want an empty line before the checkpoint")
		}
		if l == "" {
			break
		}
		h, err := base64.StdEncoding.Strict().DecodeString(l)
		if err != nil || len(h) != 32 || base64.StdEncoding.EncodeToString(h) != l {
			return fail(lineNo, "proof hash %q is not the base64 of 32 bytes", truncate(l))
		}
		if len(p.Hashes) == maxProofHashes {
			return fail(lineNo, "more than %d proof hashes", maxProofHashes)
		}
		p.Hashes = append(p.Hashes, h)
	}
	if len(rest) == 0 {
		return fail(lineNo+1, "the checkpoint is missing")
	}
	p.Checkpoint = bytes.Clone(rest)
	return p, nil
}
