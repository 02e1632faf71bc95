package evidence

import (
	"encoding/hex"
	"encoding/json"
	"strings"
)

// Withdrawal is the predicate of a withdrawal statement
// ([PredicateWithdrawal]): it withdraws one logged evidence item, named by
// its envelope's SHA-256, for a reason. STATUS.md specifies it and what a
// node does with it.
//
// The statement's subjects name the withdrawn item's subjects (their purls)
// and carry the envelope's SHA-256 as their sha256 digest, so that a node
// files the withdrawal under the same releases and finds it from the
// envelope digest in its indexes, without reading envelopes.
type Withdrawal struct {
	// EnvelopeDigest is the SHA-256 of the withdrawn envelope.
	EnvelopeDigest [32]byte
	// LogIndex is the withdrawn entry's index in Log, when the producer
	// gave it; HasLogIndex says whether it did.
	LogIndex    uint64
	HasLogIndex bool
	// Log is the origin of the log LogIndex is in; empty means the log the
	// withdrawal is submitted to.
	Log string
	// Reason says why, for people.
	Reason string
}

type withdrawalJSON struct {
	Withdrawn struct {
		EnvelopeSHA256 string  `json:"envelope_sha256"`
		LogIndex       *uint64 `json:"log_index,omitempty"`
		Log            string  `json:"log,omitempty"`
	} `json:"withdrawn"`
	Reason string `json:"reason"`
}

// Predicate returns w as a predicate, checked against its schema.
func (w *Withdrawal) Predicate() (json.RawMessage, error) {
	var j withdrawalJSON
	j.Withdrawn.EnvelopeSHA256 = hex.EncodeToString(w.EnvelopeDigest[:])
	if w.HasLogIndex {
		i := w.LogIndex
		j.Withdrawn.LogIndex = &i
	}
	j.Withdrawn.Log = w.Log
	j.Reason = w.Reason
	b, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	if err := CheckPredicate(PredicateWithdrawal, b, "predicate"); err != nil {
		return nil, err
	}
	return b, nil
}

// ParseWithdrawal parses and checks a withdrawal predicate.
func ParseWithdrawal(predicate []byte) (*Withdrawal, error) {
	if err := CheckPredicate(PredicateWithdrawal, predicate, "predicate"); err != nil {
		return nil, err
	}
	var j withdrawalJSON
	if err := json.Unmarshal(predicate, &j); err != nil {
		return nil, fieldErr("predicate", "%v", err)
	}
	w := &Withdrawal{Log: j.Withdrawn.Log, Reason: j.Reason}
	if _, err := hex.Decode(w.EnvelopeDigest[:], []byte(j.Withdrawn.EnvelopeSHA256)); err != nil {
		return nil, fieldErr("predicate.withdrawn.envelope_sha256", "%v", err)
	}
	if j.Withdrawn.LogIndex != nil {
		w.LogIndex, w.HasLogIndex = *j.Withdrawn.LogIndex, true
	}
	return w, nil
}

// checkWithdrawalSubjects checks the rule that ties a withdrawal's subjects
// to what it withdraws: each subject's digest set is exactly the withdrawn
// envelope's sha256.
func checkWithdrawalSubjects(st *Statement) error {
	w, err := ParseWithdrawal(st.Predicate)
	if err != nil {
		return err
	}
	want := hex.EncodeToString(w.EnvelopeDigest[:])
	for i, sub := range st.Subject {
		if len(sub.Digest) != 1 || sub.Digest["sha256"] != want {
			return fieldErr(subjectField(i, "digest"), "must be exactly {\"sha256\": %q}, the withdrawn envelope's digest (STATUS.md)", want)
		}
	}
	return nil
}

// WithdrawnEnvelope returns the envelope digest a withdrawal entry names:
// the sha256 digest its subjects carry. ok is false for an entry that is
// not a withdrawal, or whose subjects disagree (which a node never logs).
func (e *Entry) WithdrawnEnvelope() (d [32]byte, ok bool) {
	if e.Kind != KindWithdrawal || e.PredicateType != PredicateWithdrawal || len(e.Subjects) == 0 {
		return d, false
	}
	var first string
	for _, s := range e.Subjects {
		v := ""
		for _, dg := range s.Digests {
			if dg.Alg == "sha256" {
				v = dg.Value
			}
		}
		if v == "" || first != "" && v != first {
			return d, false
		}
		first = v
	}
	if _, err := hex.Decode(d[:], []byte(first)); err != nil {
		return d, false
	}
	return d, true
}

// StatusSubjects returns the subjects supersession and withdrawal are
// judged by (STATUS.md, "Same subject"): for each subject with a version,
// its release (purl without qualifiers and subpath); for each without, its
// package. Without duplicates, in subject order.
func (e *Entry) StatusSubjects() []string {
	return e.subjectKeys(func(p Purl) string {
		if p.HasVersion() {
			return p.Release()
		}
		return p.Package()
	})
}

// LineageKey is the key of the index that orders the evidence of one kind
// and series by one set of signers about one subject (IndexLineage,
// STATUS.md): its newest item that is not withdrawn is current. series is
// the entry's [Entry.Series]; signers are an entry's, sorted. The key is
// the kind, the series, the signers and the subject separated by single
// spaces, which none of them holds (ENTRY.md; Series has none), so it is
// unambiguous: the first word is the kind, the second the series, the last
// the subject.
func LineageKey(kind Kind, series string, signers []string, subject string) string {
	var b strings.Builder
	b.WriteString(string(kind))
	b.WriteByte(' ')
	b.WriteString(series)
	for _, s := range signers {
		b.WriteByte(' ')
		b.WriteString(s)
	}
	b.WriteByte(' ')
	b.WriteString(subject)
	return b.String()
}

// Series names the line of documents an entry's evidence continues, within
// its kind (STATUS.md, "Same kind, same series"), as one token:
//
//   - a VEX document or an advisory carried in a document attestation
//     continues only itself: its series is the document's own name (its
//     CSAF tracking id, OpenVEX @id or CycloneDX serial number, which a new
//     version of the document keeps), so that a project's advisory about
//     one vulnerability never replaces its advisory about another; a VEX
//     predicate signed elsewhere names no document, and is one series per
//     kind;
//   - an SBOM continues the SBOMs of its format: its series is the format's
//     name (the first word of the entry's format: "spdx", "cyclonedx"), so
//     that a release's SPDX and CycloneDX SBOMs are both current, and a new
//     SPDX SBOM replaces the old one;
//   - any other evidence is one series per kind: "-".
//
// The name is written as the entry's name line writes it, with "%20" for
// its spaces.
func (e *Entry) Series() string {
	switch e.Kind {
	case KindVEX, KindAdvisory:
		if e.PredicateType == PredicateDocument {
			return strings.ReplaceAll(string(appendText(nil, e.Name)), " ", "%20")
		}
	case KindSBOM:
		first, _, _ := strings.Cut(e.Format, " ")
		if first = strings.ToLower(string(appendText(nil, first))); first != "" {
			return first
		}
	}
	return "-"
}
