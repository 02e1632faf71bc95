package monitor

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/evidence"
)

// QueryKind names a field of QueryEvidenceRequest's query: what a query
// looks for. The values are the proto field names.
type QueryKind string

const (
	// QueryRelease looks for a release: a canonical purl with a version and
	// without qualifiers or subpath (evidence.Entry.Releases).
	QueryRelease QueryKind = "release_purl"
	// QueryPackage looks for any version of a package: a canonical purl
	// without version, qualifiers or subpath (evidence.Entry.Packages).
	QueryPackage QueryKind = "package_purl"
	// QueryDigest looks for an artifact digest, "alg:value" in lowercase
	// (evidence.Entry.Digests).
	QueryDigest QueryKind = "artifact_digest"
	// QueryPredicate looks for a predicate type.
	QueryPredicate QueryKind = "predicate_type"
	// QueryDocument looks for a document digest, "sha256:<hex>".
	QueryDocument QueryKind = "document_digest"
)

var queryKinds = []QueryKind{QueryRelease, QueryPackage, QueryDigest, QueryPredicate, QueryDocument}

// Query is one question to a node's query API, as the monitor asks it: the
// key is already in the canonical form the node looks up (ENTRY.md,
// "Indexing").
type Query struct {
	Kind QueryKind
	Key  string
}

func (q Query) String() string { return string(q.Kind) + " " + q.Key }

// Matches reports whether entry e is about what q asks for, by the rules a
// node indexes entries with (ENTRY.md, "Indexing"): a node's answer to q
// must include e.
func (q Query) Matches(e *evidence.Entry) bool {
	switch q.Kind {
	case QueryRelease:
		// A release's answer includes evidence about its whole package.
		if slices.Contains(e.Releases(), q.Key) {
			return true
		}
		p, err := evidence.ParsePurl(q.Key)
		return err == nil && slices.Contains(e.PackageLevel(), p.Package())
	case QueryPackage:
		return slices.Contains(e.Packages(), q.Key)
	case QueryDigest:
		for _, d := range e.Digests() {
			if strings.ToLower(d) == q.Key {
				return true
			}
		}
		return false
	case QueryPredicate:
		return e.PredicateType == q.Key
	case QueryDocument:
		return "sha256:"+hex.EncodeToString(e.Document.Digest[:]) == q.Key
	}
	return false
}

// Omission is a proof that a node's query answer left out an entry: the
// entry, a checkpoint signed by the log, the entry's inclusion proof in that
// checkpoint's tree, and the query the entry matches. OMISSION.md specifies
// its file encoding and what it proves.
type Omission struct {
	// Query is the query whose answer left the entry out.
	Query Query
	// Index is the entry's index in the log.
	Index uint64
	// Entry is the entry, as logged (the Merkle leaf's bytes).
	Entry []byte
	// Proof is the RFC 6962 inclusion proof of Entry at Index in the tree
	// of Checkpoint, leaf to root.
	Proof [][]byte
	// Checkpoint is a checkpoint signed by the log, as a signed note: the
	// one the node's answer came with, when the monitor had its tree.
	Checkpoint []byte
}

const omissionHeader = "evident.dev/omission/v1"

// Limits of ParseOmission.
const (
	// MaxOmissionSize bounds an omission file: the base64 of an entry of up
	// to 65535 bytes, 64 proof hashes and the checkpoint.
	MaxOmissionSize = 256 << 10
	// maxKeyLen bounds a query key: purls are at most 1024 bytes in the
	// query API, predicate types 512.
	maxKeyLen = 1024
	// maxNoteSize bounds the checkpoint note (its text, up to
	// checkpoint.MaxBodySize, and its signatures).
	maxNoteSize = 64 << 10
	// maxProof is the longest inclusion proof: one hash per level of a
	// tree of up to 2^64 leaves.
	maxProof = 64
)

// ErrMalformedOmission is wrapped by every ParseOmission error.
var ErrMalformedOmission = errors.New("malformed omission file")

// ErrNotOmission is wrapped by VerifyOmission errors saying that a well
// formed file doesn't prove what it claims.
var ErrNotOmission = errors.New("not a proof of omission")

// Marshal returns the file encoding of o (OMISSION.md), which
// ParseOmission reads back. It returns an error if o would not parse.
func (o *Omission) Marshal() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(omissionHeader + "\n")
	b.WriteString("query " + string(o.Query.Kind) + " " + o.Query.Key + "\n")
	b.WriteString("index " + strconv.FormatUint(o.Index, 10) + "\n")
	b.WriteString("entry " + base64.StdEncoding.EncodeToString(o.Entry) + "\n")
	for _, h := range o.Proof {
		b.WriteString("proof " + base64.StdEncoding.EncodeToString(h) + "\n")
	}
	b.WriteString("checkpoint " + strconv.Itoa(len(o.Checkpoint)) + "\n")
	b.Write(o.Checkpoint)
	if _, err := ParseOmission(b.Bytes()); err != nil {
		return nil, fmt.Errorf("couldn't encode omission: %w", err)
	}
	return b.Bytes(), nil
}

// ParseOmission parses an omission file (OMISSION.md). It is strict:
// what it accepts, Marshal encodes to the same bytes. It checks the
// file's form only, not signatures or proofs: that is VerifyOmission's job.
func ParseOmission(data []byte) (*Omission, error) {
	fail := func(line int, format string, args ...any) (*Omission, error) {
		msg := fmt.Sprintf(format, args...)
		if line > 0 {
			msg = fmt.Sprintf("line %d: %s", line, msg)
		}
		return nil, fmt.Errorf("%w: %s", ErrMalformedOmission, msg)
	}
	if len(data) > MaxOmissionSize {
		return fail(0, "file is %d bytes, more than %d", len(data), MaxOmissionSize)
	}
	rest, lineNo := data, 0
	next := func() (string, bool) {
		line, r, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			return "", false
		}
		rest = r
		lineNo++
		return string(line), true
	}
	// field reads a "<keyword> <value>" line.
	field := func(keyword string) (string, bool) {
		line, ok := next()
		v, found := strings.CutPrefix(line, keyword+" ")
		return v, ok && found
	}
	if line, ok := next(); !ok || line != omissionHeader {
		return fail(1, "want %q", omissionHeader)
	}
	o := new(Omission)

	v, ok := field("query")
	if !ok {
		return fail(lineNo, `want "query <kind> <key>"`)
	}
	kind, key, ok := strings.Cut(v, " ")
	if !ok || !slices.Contains(queryKinds, QueryKind(kind)) {
		return fail(lineNo, "query kind must be one of %q", queryKinds)
	}
	if !isToken(key) || len(key) > maxKeyLen {
		return fail(lineNo, "query key must be 1 to %d printable ASCII bytes without spaces", maxKeyLen)
	}
	o.Query = Query{Kind: QueryKind(kind), Key: key}

	if v, ok = field("index"); !ok {
		return fail(lineNo, `want "index <decimal>"`)
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || strconv.FormatUint(n, 10) != v {
		return fail(lineNo, "index must be a decimal number without leading zeros")
	}
	o.Index = n

	if v, ok = field("entry"); !ok {
		return fail(lineNo, `want "entry <base64>"`)
	}
	e, err := base64.StdEncoding.Strict().DecodeString(v)
	if err != nil || len(e) == 0 || len(e) > evidence.MaxEntrySize || base64.StdEncoding.EncodeToString(e) != v {
		return fail(lineNo, "entry must be the padded standard base64 of 1 to %d bytes", evidence.MaxEntrySize)
	}
	o.Entry = e

	for {
		line, ok := next()
		if !ok {
			return fail(lineNo+1, `want "proof <base64>" or "checkpoint <length>"`)
		}
		if v, found := strings.CutPrefix(line, "proof "); found {
			h, err := base64.StdEncoding.Strict().DecodeString(v)
			if err != nil || len(h) != sha256.Size || base64.StdEncoding.EncodeToString(h) != v {
				return fail(lineNo, "proof hash must be the padded standard base64 of 32 bytes")
			}
			if len(o.Proof) == maxProof {
				return fail(lineNo, "more than %d proof hashes", maxProof)
			}
			o.Proof = append(o.Proof, h)
			continue
		}
		v, found := strings.CutPrefix(line, "checkpoint ")
		if !found {
			return fail(lineNo, `want "proof <base64>" or "checkpoint <length>"`)
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxNoteSize || strconv.Itoa(n) != v {
			return fail(lineNo, "checkpoint length must be a decimal number from 1 to %d without leading zeros", maxNoteSize)
		}
		if n != len(rest) {
			return fail(lineNo, "checkpoint length is %d, but %d bytes follow", n, len(rest))
		}
		break
	}
	o.Checkpoint = bytes.Clone(rest)
	c, err := checkpoint.Peek(o.Checkpoint)
	if err != nil {
		return fail(lineNo+1, "checkpoint: %v", err)
	}
	if o.Index >= c.Size {
		return fail(0, "index %d is not in the checkpoint's tree of %d entries", o.Index, c.Size)
	}
	return o, nil
}

// VerifyOmission checks, offline, the omission file data against the log's
// public key: that its checkpoint is signed by logKey (and its origin is
// the key's name), that the entry is the leaf at its index in that
// checkpoint's tree (the inclusion proof), and that the entry is about what
// the query asks for (Query.Matches). It returns the parsed omission if all
// hold: then the node's answer to that query at that checkpoint, or any
// later one, should have included the entry.
func VerifyOmission(data []byte, logKey note.Verifier) (*Omission, error) {
	o, err := ParseOmission(data)
	if err != nil {
		return nil, err
	}
	// ParseOmission has read the checkpoint (checkpoint.Peek), so only its
	// signature can fail here.
	c, err := checkpoint.Open(o.Checkpoint, note.VerifierList(logKey))
	if err != nil {
		return nil, fmt.Errorf("%w: the checkpoint isn't signed by %s: %v", ErrNotOmission, logKey.Name(), err)
	}
	if c.Origin != logKey.Name() {
		return nil, fmt.Errorf("%w: the checkpoint's origin %q is not the log key's name %q", ErrNotOmission, c.Origin, logKey.Name())
	}
	leaf := rfc6962.DefaultHasher.HashLeaf(o.Entry)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, o.Index, c.Size, leaf, o.Proof, c.Hash[:]); err != nil {
		return nil, fmt.Errorf("%w: the entry isn't at index %d of the checkpoint's tree: %v", ErrNotOmission, o.Index, err)
	}
	e, err := evidence.ParseEntry(o.Entry)
	if err != nil {
		return nil, fmt.Errorf("%w: the logged entry isn't an Evident entry, so no query finds it: %v", ErrNotOmission, err)
	}
	if !o.Query.Matches(e) {
		return nil, fmt.Errorf("%w: the entry isn't about %s", ErrNotOmission, o.Query)
	}
	return o, nil
}

// isToken reports whether s is 1 or more printable ASCII bytes, no spaces.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
