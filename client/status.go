package client

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/evidence/support"
	"github.com/evident-dev/evident/evidence/vex"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
)

// Status is a node's answer to "what holds now for this release?"
// (EvidenceService.GetStatus), checked by the client: the evidence the
// answer cites verified (checkpoint, inclusion proofs, envelopes against
// their entries), and the client resolved the cited documents itself, with
// packages evidence/vex and evidence/support, to the same decisions.
type Status struct {
	// Node is the node's name.
	Node string
	// Release is the release asked about; Day the day support was judged
	// on.
	Release string
	Day     time.Time
	// Vulnerabilities and Support are the client's own resolution of the
	// cited documents. Believe them only if Verified.
	Vulnerabilities []vex.VulnerabilityStatus
	Support         support.Answer
	// Evidence are the cited items, each verified like a query's.
	Evidence []Result
	// Unread are the current items the node could not read, by log index,
	// with its reason.
	Unread map[uint64]string
	// Verified is true when every cited item verified and the client's
	// resolution agrees with the node's; otherwise Err says why.
	Verified bool
	Err      error
}

// Status asks the node what holds for release (a purl with a version) on
// day (zero: the node's today), and checks the answer as [Status] says.
// The error is for failures to ask.
//
// What the client cannot check from one answer is that the node cited
// every current item: that is what the log's monitors and audits are for
// (monitor/OMISSION.md).
func (c *Client) Status(ctx context.Context, release string, day time.Time) (*Status, error) {
	p, err := evidence.ParsePurl(release)
	if err != nil || !p.HasVersion() {
		return nil, fmt.Errorf("couldn't ask for status: %q is not the purl of a release", release)
	}
	req := &evidentv1.GetStatusRequest{ReleasePurl: p.Release()}
	if !day.IsZero() {
		req.Date = day.UTC().Format(time.DateOnly)
	}
	resp, err := c.evidence.GetStatus(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, fmt.Errorf("couldn't ask %s for status: %w", c.name, err)
	}
	m := resp.Msg
	st := &Status{Node: c.name, Release: p.Release(), Unread: make(map[uint64]string)}
	if st.Day, err = time.Parse(time.DateOnly, m.GetSupport().GetDate()); err != nil {
		st.Err = verr(PartStatement, "the answer's date %q is not a date", m.GetSupport().GetDate())
		return st, nil
	}
	for _, u := range m.GetUnread() {
		st.Unread[u.GetLogIndex()] = u.GetReason()
	}
	st.Evidence = c.verifyPage(m.GetCheckpoint(), m.GetEvidence(), p)
	byIndex := make(map[uint64]*Result)
	for i := range st.Evidence {
		r := &st.Evidence[i]
		if !r.Verified {
			st.Err = fmt.Errorf("cited entry %d: %w", r.Index, r.Err)
			return st, nil
		}
		byIndex[r.Index] = r
	}
	// Resolve the cited documents again, here.
	var vexSts []vex.Statement
	var supSts []support.Statement
	for _, r := range st.Evidence {
		env, err := c.Envelope(ctx, r.Entry)
		if err != nil {
			st.Err = fmt.Errorf("cited entry %d: %w", r.Index, err)
			return st, nil
		}
		doc, mediaType, docType, err := evidence.ReadDocument(env)
		if err != nil {
			st.Err = verr(PartEnvelope, "cited entry %d: %v", r.Index, err)
			return st, nil
		}
		signers := r.Entry.Signers
		if r.Entry.Kind == evidence.KindSupportPeriod {
			s, err := support.Parse(doc, docType, p.Release(), r.PackageLevel, support.Source{LogIndex: r.Index, Signers: signers})
			if err != nil {
				st.Err = verr(PartStatement, "cited entry %d: %v", r.Index, err)
				return st, nil
			}
			supSts = append(supSts, s...)
			continue
		}
		s, err := vex.Parse(doc, docType, mediaType, p.Release(), vex.Source{LogIndex: r.Index, Signers: signers})
		if err != nil {
			st.Err = verr(PartStatement, "cited entry %d: %v", r.Index, err)
			return st, nil
		}
		vexSts = append(vexSts, s...)
	}
	st.Vulnerabilities = vex.Resolve(vexSts)
	st.Support = support.Resolve(supSts, st.Day)
	if err := agree(m, st); err != nil {
		st.Err = err
		return st, nil
	}
	st.Verified = true
	return st, nil
}

// agree checks the node's decisions against the client's: the same
// vulnerabilities with the same statuses, decided by the same items, and
// the same support state decided by the same item.
func agree(m *evidentv1.GetStatusResponse, st *Status) error {
	if len(m.GetVulnerabilities()) != len(st.Vulnerabilities) {
		return verr(PartStatement, "the node names %d vulnerabilities; its cited documents name %d", len(m.GetVulnerabilities()), len(st.Vulnerabilities))
	}
	for i, nv := range m.GetVulnerabilities() {
		cv := st.Vulnerabilities[i]
		if nv.GetVulnerability() != cv.Vulnerability || nv.GetStatus().String() != vexStatusName(cv.Status) ||
			nv.GetDecidedBy().GetLogIndex() != cv.Decided.Source.LogIndex || nv.GetConflict() != cv.Conflict {
			return verr(PartStatement, "the node says %s is %s (entry %d); its cited documents say %s is %s (entry %d)",
				nv.GetVulnerability(), nv.GetStatus(), nv.GetDecidedBy().GetLogIndex(), cv.Vulnerability, cv.Status, cv.Decided.Source.LogIndex)
		}
	}
	ns := m.GetSupport()
	if want := supportStateName(st.Support.State); ns.GetState().String() != want {
		return verr(PartStatement, "the node says support is %s; its cited documents say %s", ns.GetState(), st.Support.State)
	}
	if st.Support.Decided != nil && ns.GetDecidedBy().GetLogIndex() != st.Support.Decided.Source.LogIndex {
		return verr(PartStatement, "the node's support answer is decided by entry %d; its cited documents, by %d", ns.GetDecidedBy().GetLogIndex(), st.Support.Decided.Source.LogIndex)
	}
	return nil
}

func vexStatusName(s vex.Status) string {
	names := map[vex.Status]evidentv1.VexStatus{
		vex.NotAffected:        evidentv1.VexStatus_VEX_STATUS_NOT_AFFECTED,
		vex.Affected:           evidentv1.VexStatus_VEX_STATUS_AFFECTED,
		vex.Fixed:              evidentv1.VexStatus_VEX_STATUS_FIXED,
		vex.UnderInvestigation: evidentv1.VexStatus_VEX_STATUS_UNDER_INVESTIGATION,
	}
	return names[s].String()
}

func supportStateName(s support.State) string {
	names := map[support.State]evidentv1.SupportState{
		support.Supported: evidentv1.SupportState_SUPPORT_STATE_SUPPORTED,
		support.Ended:     evidentv1.SupportState_SUPPORT_STATE_ENDED,
		support.Unknown:   evidentv1.SupportState_SUPPORT_STATE_UNKNOWN,
	}
	return names[s].String()
}
