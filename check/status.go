package check

import (
	"fmt"
	"time"

	"github.com/evident-dev/evident/evidence"
)

// Document is a verified item's document, as a [StatusResolver] reads it:
// the envelope's signatures, the entry's inclusion and the statement have
// all been checked.
type Document struct {
	// Item is the report's item: node, log index, signers, time logged.
	Item *Item
	// Envelope is the verified envelope the document is in.
	Envelope []byte
}

// Content returns the document and its media type, out of the envelope.
func (d Document) Content() ([]byte, string, error) {
	return evidence.DocumentOfEnvelope(d.Envelope)
}

// A StatusResolver says what a component's verified documents of the kinds
// that change over time say now: the current status of each vulnerability
// named by VEX documents, whether a support period covers a date, and the
// OSPS Baseline level claimed. It is pure: it reads only the documents.
type StatusResolver interface {
	VEX(purl string, docs []Document) KindStatus
	// SupportPeriod answers for today and, when until is not zero, for
	// until.
	SupportPeriod(purl string, docs []Document, today, until time.Time) KindStatus
	OSPSBaseline(purl string, docs []Document) KindStatus
}

// FoundOnly is the StatusResolver of this version: it says how many
// verified documents were found and that their current status is not
// resolved. Evident's status model (supersession, withdrawal, VEX
// resolution across OpenVEX, CSAF and CycloneDX, support questions) is a
// resolver of its own; a report made with FoundOnly claims nothing that
// one would decide.
type FoundOnly struct{}

func (FoundOnly) VEX(_ string, docs []Document) KindStatus {
	return KindStatus{Summary: fmt.Sprintf("%s found; current status not resolved", documents(len(docs)))}
}

func (FoundOnly) SupportPeriod(_ string, docs []Document, _, until time.Time) KindStatus {
	s := fmt.Sprintf("%s found; whether it covers today", documents(len(docs)))
	if !until.IsZero() {
		s += " or " + until.Format(time.DateOnly)
	}
	return KindStatus{Summary: s + " not resolved"}
}

func (FoundOnly) OSPSBaseline(_ string, docs []Document) KindStatus {
	return KindStatus{Summary: fmt.Sprintf("%s found; level not resolved", documents(len(docs)))}
}

func documents(n int) string {
	if n == 1 {
		return "1 document"
	}
	return fmt.Sprintf("%d documents", n)
}
