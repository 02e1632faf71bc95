package client

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/evident-dev/evident/evidence/sigstore"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/policy"
)

// BundleFormat is the format member of a version 1 bundle.
const BundleFormat = "https://evident.dev/bundle/v2"

// MaxBundleSize bounds what [ParseBundle] reads: a few dozen large SBOMs.
const MaxBundleSize = 1 << 30

// Bundle is evidence kept for offline verification: for each item the
// envelope, its log entry, a c2sp.org/tlog-proof that the entry is in the
// log, and the public keys of the envelope's signers. BUNDLE.md specifies
// the file format, which [Bundle.Marshal] writes and [ParseBundle] reads.
type Bundle struct {
	Items []BundleItem
}

// BundleItem is one evidence item of a [Bundle].
type BundleItem struct {
	// Envelope is the DSSE envelope, exactly as logged.
	Envelope []byte
	// Entry is the log entry, exactly the bytes of the Merkle leaf.
	Entry []byte
	// Proof is a c2sp.org/tlog-proof@v1 of Entry (see [ParseProof]).
	Proof []byte
	// Signers are the public keys of the entry's key signers (Ed25519,
	// ECDSA or RSA). A Sigstore bundle carries its own certificate.
	Signers []crypto.PublicKey
}

// bundleJSON is the file form of a bundle.
type bundleJSON struct {
	Format string           `json:"format"`
	Items  []bundleItemJSON `json:"items"`
}

type bundleItemJSON struct {
	Envelope []byte   `json:"envelope"` // standard base64 of the exact bytes
	Entry    string   `json:"entry"`    // the entry text (ASCII)
	Proof    string   `json:"proof"`    // the tlog-proof text (UTF-8)
	Signers  []string `json:"signers"`  // "<algorithm>:<base64>"
}

// Marshal returns the file form of b (JSON, see BUNDLE.md).
func (b *Bundle) Marshal() ([]byte, error) {
	out := bundleJSON{Format: BundleFormat, Items: make([]bundleItemJSON, 0, len(b.Items))}
	for i, it := range b.Items {
		if !isText(it.Entry) || !isText(it.Proof) {
			return nil, fmt.Errorf("couldn't encode bundle item %d: entry and proof must be UTF-8 text", i)
		}
		j := bundleItemJSON{Envelope: it.Envelope, Entry: string(it.Entry), Proof: string(it.Proof), Signers: []string{}}
		for _, k := range it.Signers {
			text, err := evidence.FormatSignerKey(k)
			if err != nil {
				return nil, fmt.Errorf("couldn't encode bundle item %d: %w", i, err)
			}
			j.Signers = append(j.Signers, text)
		}
		out.Items = append(out.Items, j)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("couldn't encode bundle: %w", err)
	}
	return buf.Bytes(), nil
}

// isText reports whether b survives a round trip through a JSON string.
func isText(b []byte) bool { return utf8.Valid(b) }

// ErrMalformedBundle is wrapped by every [ParseBundle] error.
var ErrMalformedBundle = errors.New("malformed bundle")

// ParseBundle parses a bundle file. It checks the form only: [VerifyBundle]
// checks what the bundle claims.
func ParseBundle(data []byte) (*Bundle, error) {
	if len(data) > MaxBundleSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformedBundle, len(data), MaxBundleSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var j bundleJSON
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedBundle, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the bundle", ErrMalformedBundle)
	}
	if j.Format != BundleFormat {
		return nil, fmt.Errorf("%w: format is %q, want %q", ErrMalformedBundle, truncate(j.Format), BundleFormat)
	}
	b := &Bundle{Items: make([]BundleItem, 0, len(j.Items))}
	for i, it := range j.Items {
		item := BundleItem{Envelope: it.Envelope, Entry: []byte(it.Entry), Proof: []byte(it.Proof)}
		for k, s := range it.Signers {
			pub, err := evidence.ParseSignerKey(s)
			if err != nil {
				return nil, fmt.Errorf("%w: items[%d].signers[%d]: %v", ErrMalformedBundle, i, k, err)
			}
			item.Signers = append(item.Signers, pub)
		}
		b.Items = append(b.Items, item)
	}
	return b, nil
}

// VerifyOptions say whom [VerifyBundle] trusts.
type VerifyOptions struct {
	// LogKeys are the public keys of the logs you trust. Required: a
	// bundle's own say-so about its log is not evidence.
	LogKeys []note.Verifier
	// Policy, when not nil, must accept each checkpoint's witness
	// cosignatures. Default: a log signature suffices.
	Policy *policy.WitnessPolicy
	// TrustedSigners, when not empty, are the evidence signers you trust:
	// every item must be signed by at least one of them. Default: any
	// signer the log accepted, whose key the bundle carries.
	TrustedSigners []crypto.PublicKey
	// SigstoreTrustedRoot is the Sigstore trusted root (trusted_root.json)
	// that items logged as Sigstore bundles are verified against, offline.
	// Required for such items; others do not need it.
	SigstoreTrustedRoot []byte
}

// ItemResult is the outcome of verifying one item of a bundle.
type ItemResult struct {
	// Item is the item's position in the bundle, from 0.
	Item int
	// Index is the entry's log index, as its proof says.
	Index uint64
	// Checkpoint is the verified checkpoint of the item's proof; nil if it
	// didn't verify.
	Checkpoint *VerifiedCheckpoint
	// Entry is the parsed entry, nil if it didn't parse.
	Entry *evidence.Entry
	// Statement is the envelope's in-toto statement, nil if the item failed
	// before it was read.
	Statement *evidence.Statement
	// Err is nil if the item verified, else why not (a [*VerificationError]).
	Err error
}

// VerifyBundle verifies every item of b, with no network access. For each
// item it checks, in order:
//
//  1. the proof parses (c2sp.org/tlog-proof@v1);
//  2. its checkpoint is signed by one of opts.LogKeys and meets
//     opts.Policy's quorum ([VerifyCheckpoint]);
//  3. the entry is included at the proof's index in the checkpoint's tree,
//     and parses ([VerifyEvidence]);
//  4. the envelope's SHA-256 and size are those the entry commits to;
//  5. for every signer the entry names, the bundle carries the public key
//     with that key id, and a DSSE signature by it verifies;
//  6. the envelope is an in-toto statement whose predicate type, subjects
//     (filed under the purls the entry records, by the rules of ENTRY.md),
//     digests and document are those the entry records;
//  7. with opts.TrustedSigners, one of the signers is trusted.
//
// It returns one result per item, and an error if the bundle is empty or
// any item failed.
func VerifyBundle(b *Bundle, opts VerifyOptions) ([]ItemResult, error) {
	if b == nil || len(b.Items) == 0 {
		return nil, errors.New("the bundle holds no evidence")
	}
	results := make([]ItemResult, len(b.Items))
	cps := make(map[string]checkpointResult)
	var errs []error
	for i := range b.Items {
		results[i] = verifyItem(i, &b.Items[i], opts, cps)
		if err := results[i].Err; err != nil {
			errs = append(errs, fmt.Errorf("item %d: %w", i, err))
		}
	}
	return results, errors.Join(errs...)
}

func verifyItem(i int, it *BundleItem, opts VerifyOptions, cps map[string]checkpointResult) ItemResult {
	r := ItemResult{Item: i}
	p, err := ParseProof(it.Proof)
	if err != nil {
		r.Err = &VerificationError{Part: PartProof, Err: err}
		return r
	}
	r.Index = p.Index
	// Items of one bundle share a few checkpoints: each is verified once.
	res, ok := cps[string(p.Checkpoint)]
	if !ok {
		res.cp, res.err = VerifyCheckpoint(p.Checkpoint, opts.LogKeys, opts.Policy)
		if cps != nil {
			cps[string(p.Checkpoint)] = res
		}
	}
	if res.err != nil {
		r.Err = res.err
		return r
	}
	r.Checkpoint = res.cp
	e, err := VerifyEvidence(res.cp, &Evidence{Index: p.Index, Entry: it.Entry, Proof: p.Hashes, Envelope: it.Envelope})
	if err != nil {
		r.Err = err
		return r
	}
	r.Entry = e
	r.Statement, r.Err = VerifyEnvelope(e, it.Envelope, it.Signers, opts)
	return r
}

type checkpointResult struct {
	cp  *VerifiedCheckpoint
	err error
}

// VerifyEnvelope checks the envelope of an entry that verified (its
// inclusion and its envelope digest, as [VerifyEvidence] checks them):
// steps 5 to 7 of [VerifyBundle]. The envelope's signatures must verify as
// the entry says it was signed: DSSE signatures by every key signer the
// entry names, whose keys are among signers, or a Sigstore bundle against
// opts.SigstoreTrustedRoot; the signed statement must be the one the
// entry records; with opts.TrustedSigners, one of the signers must be
// trusted. opts.LogKeys and opts.Policy are not used. It returns the
// statement. Errors are [*VerificationError]s.
func VerifyEnvelope(e *evidence.Entry, envelope []byte, signers []crypto.PublicKey, opts VerifyOptions) (*evidence.Statement, error) {
	payload, err := verifySignatures(e, envelope, signers, opts)
	if err != nil {
		return nil, err
	}
	st, err := evidence.ParseStatement(payload)
	if err != nil {
		return nil, &VerificationError{Part: PartStatement, Err: err}
	}
	if err := matchStatement(e, payload, st); err != nil {
		return st, err
	}
	if len(opts.TrustedSigners) > 0 {
		trusted := slices.ContainsFunc(opts.TrustedSigners, func(k crypto.PublicKey) bool {
			id, err := evidence.SignerKeyID(k)
			return err == nil && slices.Contains(e.Signers, id)
		})
		if !trusted {
			return st, verr(PartSigner, "signed by %s, none of which you trust", strings.Join(e.Signers, ", "))
		}
	}
	return st, nil
}

// verifySignatures checks the signatures on an item's envelope, as its entry
// says it was signed, and returns the signed statement's bytes. Signatures
// come before reading the payload (DSSE protocol.md).
func verifySignatures(e *evidence.Entry, envelope []byte, signers []crypto.PublicKey, opts VerifyOptions) ([]byte, error) {
	switch e.Encoding {
	case evidence.EncodingDSSE:
		env, err := evidence.ParseEnvelope(envelope)
		if err != nil {
			return nil, &VerificationError{Part: PartEnvelope, Err: err}
		}
		if env.PayloadType != evidence.PayloadTypeInToto {
			return nil, verr(PartEnvelope, "payloadType is %q, not %q", truncate(env.PayloadType), evidence.PayloadTypeInToto)
		}
		keys := make(map[string]crypto.PublicKey)
		for _, k := range signers {
			if id, err := evidence.SignerKeyID(k); err == nil {
				keys[id] = k
			}
		}
		for _, id := range e.Signers {
			pub, ok := keys[id]
			if !ok {
				return nil, verr(PartSignature, "the bundle has no public key for signer %s", truncate(id))
			}
			if err := env.Verify(pub); err != nil {
				return nil, verr(PartSignature, "signer %s: %v", id, err)
			}
		}
		return env.Payload, nil
	case evidence.EncodingSigstoreBundle:
		if len(opts.SigstoreTrustedRoot) == 0 {
			return nil, verr(PartSignature, "the item is a Sigstore bundle: give the Sigstore trusted root (trusted_root.json) to verify it")
		}
		if len(e.Signers) != 1 {
			return nil, verr(PartSigner, "a Sigstore bundle has one signer, the entry names %d", len(e.Signers))
		}
		issuer, ok := sigstoreIssuer(e.Signers[0])
		if !ok {
			return nil, verr(PartSigner, "%s is not a Sigstore identity", truncate(e.Signers[0]))
		}
		// Any identity of the entry's issuer verifies; then it must be the
		// one the entry names.
		v, err := sigstore.NewVerifier(opts.SigstoreTrustedRoot, []sigstore.Rule{{Issuer: issuer, SANRegexp: ".*"}})
		if err != nil {
			return nil, verr(PartSignature, "%v", err)
		}
		res, err := v.Verify(envelope)
		if err != nil {
			return nil, verr(PartSignature, "%v", err)
		}
		if res.SignerID != e.Signers[0] {
			return nil, verr(PartSigner, "the bundle is signed by %s, the entry says %s", res.SignerID, truncate(e.Signers[0]))
		}
		return res.Payload, nil
	}
	return nil, verr(PartEnvelope, "the entry's encoding %q is one this version can't verify", truncate(string(e.Encoding)))
}

// sigstoreIssuer returns the OIDC issuer a Sigstore signer id names.
func sigstoreIssuer(id string) (string, bool) {
	rest, ok := strings.CutPrefix(id, "sigstore:")
	if !ok {
		return "", false
	}
	enc, _, ok := strings.Cut(rest, ":")
	if !ok {
		return "", false
	}
	issuer, err := url.PathUnescape(enc)
	return issuer, err == nil && issuer != ""
}

// matchStatement checks that the entry records what the statement (encoded
// as payload) says: the node derived the entry from it, and a reader of the
// log relies on that.
func matchStatement(e *evidence.Entry, payload []byte, st *evidence.Statement) error {
	if st.PredicateType != e.PredicateType {
		return verr(PartStatement, "predicate type %q differs from the entry's %q", truncate(st.PredicateType), e.PredicateType)
	}
	if len(st.Subject) != len(e.Subjects) {
		return verr(PartStatement, "has %d subjects, the entry %d", len(st.Subject), len(e.Subjects))
	}
	for i, sub := range st.Subject {
		es := e.Subjects[i]
		// A subject named by file was filed under the entry's purl only if
		// the file name carries it: the same rule again.
		p, err := evidence.BindSubject(sub.Name, es.Purl, fmt.Sprintf("subject[%d].name", i))
		if err != nil {
			return verr(PartStatement, "subject %d: %v", i, err)
		}
		if p.String() != es.Purl {
			return verr(PartStatement, "subject %d is %s, the entry says %s", i, p, es.Purl)
		}
		if len(sub.Digest) != len(es.Digests) {
			return verr(PartStatement, "subject %d has %d digests, the entry %d", i, len(sub.Digest), len(es.Digests))
		}
		for _, d := range es.Digests {
			if sub.Digest[d.Alg] != d.Value {
				return verr(PartStatement, "subject %d digest %s differs from the entry's", i, d.Alg)
			}
		}
	}
	ref, _, _, _, err := evidence.DescribeStatement(payload, st)
	if err != nil {
		return &VerificationError{Part: PartStatement, Err: err}
	}
	if ref != e.Document {
		return verr(PartStatement, "its document (SHA-256 %x, %d bytes, %s) is not the one the entry records (%x, %d bytes, %s)",
			ref.Digest, ref.Size, truncate(ref.MediaType), e.Document.Digest, e.Document.Size, e.Document.MediaType)
	}
	return nil
}

// BundleOptions configure [Client.Bundle].
type BundleOptions struct {
	// SigstoreTrustedRoot is the Sigstore trusted root that items logged
	// as Sigstore bundles are checked against before they go into the
	// bundle; required for such items.
	SigstoreTrustedRoot []byte
	// SignerKeys are public keys of evidence signers. Each item's signers'
	// keys must be among them, so that the bundle can carry them: a node
	// names signers by key id only.
	SignerKeys []crypto.PublicKey
}

// Bundle fetches and verifies evidence and assembles a bundle of it. what is
// a purl (every item [Client.Query] returns for it) or a log index in
// decimal. Each item is verified, its envelope fetched and checked against
// its entry and its signers' keys, before it goes into the bundle; the
// returned bundle also passes [VerifyBundle] with this client's log key.
// Items that fail are left out and reported in the error, which is then an
// errors.Join of their failures; the bundle holds the others.
func (c *Client) Bundle(ctx context.Context, what string, opts BundleOptions) (*Bundle, error) {
	var results []Result
	if idx, err := strconv.ParseUint(what, 10, 63); err == nil {
		r, _, err := c.Get(ctx, idx, false)
		if err != nil {
			return nil, err
		}
		results = []Result{r}
	} else {
		rs, err := c.Query(ctx, what)
		if err != nil {
			return nil, err
		}
		if len(rs) == 0 {
			return nil, fmt.Errorf("%s has no evidence about %s", c.name, what)
		}
		results = rs
	}
	keys := make(map[string]crypto.PublicKey)
	for _, k := range opts.SignerKeys {
		if id, err := evidence.SignerKeyID(k); err == nil {
			keys[id] = k
		}
	}
	b := new(Bundle)
	var errs []error
	for _, r := range results {
		if !r.Verified {
			errs = append(errs, fmt.Errorf("entry %d: %w", r.Index, r.Err))
			continue
		}
		item := BundleItem{Entry: r.RawEntry}
		missing := false
		for _, id := range r.Entry.Signers {
			if r.Entry.Encoding == evidence.EncodingSigstoreBundle {
				break // the Sigstore bundle carries its certificate
			}
			k, ok := keys[id]
			if !ok {
				errs = append(errs, fmt.Errorf("entry %d: no public key for its signer %s: give the signer's public key", r.Index, id))
				missing = true
				break
			}
			item.Signers = append(item.Signers, k)
		}
		if missing {
			continue
		}
		env, err := c.Envelope(ctx, r.Entry)
		if err != nil {
			var ve *VerificationError
			if !errors.As(err, &ve) {
				return nil, err
			}
			errs = append(errs, fmt.Errorf("entry %d: %w", r.Index, err))
			continue
		}
		item.Envelope = env
		item.Proof = (&Proof{Index: r.Index, Hashes: r.Proof, Checkpoint: r.Checkpoint.Note}).Marshal()
		// Check the item as a verifier of the bundle will.
		res := verifyItem(len(b.Items), &item, VerifyOptions{LogKeys: []note.Verifier{c.logKey}, Policy: c.pol, SigstoreTrustedRoot: opts.SigstoreTrustedRoot}, nil)
		if res.Err != nil {
			errs = append(errs, fmt.Errorf("entry %d: %w", r.Index, res.Err))
			continue
		}
		b.Items = append(b.Items, item)
	}
	return b, errors.Join(errs...)
}
