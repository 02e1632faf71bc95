package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/evidence/support"
	"github.com/evident-dev/evident/evidence/vex"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
)

// GetStatus resolves the current VEX and support-period evidence about a
// release with packages evidence/vex and evidence/support, the same code a
// client runs on the documents it verifies itself.
func (e *evidenceService) GetStatus(ctx context.Context, req *connect.Request[evidentv1.GetStatusRequest]) (*connect.Response[evidentv1.GetStatusResponse], error) {
	s := e.s
	rel, err := evidence.ParsePurl(req.Msg.GetReleasePurl())
	if err != nil {
		return nil, invalidField("release_purl", err)
	}
	if !rel.HasVersion() {
		return nil, invalidField("release_purl", errors.New("has no version: name one release"))
	}
	day := s.opts.Now().UTC()
	if d := req.Msg.GetDate(); d != "" {
		if day, err = time.Parse(time.DateOnly, d); err != nil {
			return nil, invalidField("date", fmt.Errorf("%q is not a date, YYYY-MM-DD", d))
		}
	}
	cp, size := s.checkpoint()
	release, pkg := rel.Release(), rel.Package()
	all := int(^uint(0) >> 1)
	idxs, err := s.scan(ctx, evidence.IndexRelease, release, size, all)
	if err != nil {
		return nil, err
	}
	pidxs, err := s.scan(ctx, evidence.IndexPackageLevel, pkg, size, all)
	if err != nil {
		return nil, err
	}
	fromPackage := make(map[uint64]bool, len(pidxs))
	for _, i := range pidxs {
		fromPackage[i] = true
	}
	for _, i := range idxs {
		delete(fromPackage, i)
	}
	j := s.newJudge(size)
	resp := &evidentv1.GetStatusResponse{Checkpoint: string(cp)}
	var (
		vexStatements []vex.Statement
		supStatements []support.Statement
		verdicts      = make(map[uint64]verdict)
	)
	for _, i := range mergeNewestFirst(idxs, pidxs) {
		subj := release
		if fromPackage[i] {
			subj = pkg
		}
		if v, ok := j.known(subj, i); ok && v.status != evidentv1.EvidenceStatus_EVIDENCE_STATUS_CURRENT {
			continue
		}
		ent, err := j.entry(ctx, i)
		if err != nil {
			return nil, err
		}
		if !statusKind(ent) {
			continue
		}
		v, err := j.about(ctx, i, ent, subj)
		if err != nil {
			return nil, err
		}
		if v.status != evidentv1.EvidenceStatus_EVIDENCE_STATUS_CURRENT {
			continue
		}
		verdicts[i] = v
		env, err := envelope(ctx, s.ledger, ent.EnvelopeDigest)
		if err != nil {
			return nil, s.internal(ctx, "read envelope", err)
		}
		doc, mediaType, docType, err := evidence.ReadDocument(env)
		if err != nil {
			resp.Unread = append(resp.Unread, &evidentv1.UnreadEvidence{LogIndex: i, Reason: err.Error()})
			continue
		}
		if ent.Kind == evidence.KindSupportPeriod {
			sts, err := support.Parse(doc, docType, release, fromPackage[i], support.Source{LogIndex: i, Signers: ent.Signers})
			if err != nil {
				resp.Unread = append(resp.Unread, &evidentv1.UnreadEvidence{LogIndex: i, Reason: err.Error()})
				continue
			}
			supStatements = append(supStatements, sts...)
			continue
		}
		sts, err := vex.Parse(doc, docType, mediaType, release, vex.Source{LogIndex: i, Signers: ent.Signers})
		if errors.Is(err, vex.ErrNotVEX) {
			continue // an advisory in a format without statuses (OSV, CVE)
		}
		if err != nil {
			resp.Unread = append(resp.Unread, &evidentv1.UnreadEvidence{LogIndex: i, Reason: err.Error()})
			continue
		}
		vexStatements = append(vexStatements, sts...)
	}
	// Every document that made a statement is cited, not only those whose
	// statements decide or stand beside a decision: a replaced statement
	// may still join two ids as aliases, and a client resolving the cited
	// documents must see what the node saw.
	cited := make(map[uint64]bool)
	for _, st := range vexStatements {
		cited[st.Source.LogIndex] = true
	}
	for _, vs := range vex.Resolve(vexStatements) {
		out := &evidentv1.VulnerabilityStatus{
			Vulnerability: vs.Vulnerability,
			Aliases:       vs.Aliases,
			Status:        vexStatusProto(vs.Status),
			Justification: vs.Justification,
			DecidedBy:     vexStatementProto(vs.Decided),
			Conflict:      vs.Conflict,
		}
		for _, st := range vs.Statements {
			out.Statements = append(out.Statements, vexStatementProto(st))
		}
		resp.Vulnerabilities = append(resp.Vulnerabilities, out)
	}
	ans := support.Resolve(supStatements, day)
	resp.Support = supportStatusProto(ans)
	for _, st := range ans.Statements {
		cited[st.Source.LogIndex] = true
	}
	order := make([]uint64, 0, len(cited))
	for i := range cited {
		order = append(order, i)
	}
	slices.SortFunc(order, func(a, b uint64) int { return compareDesc(a, b) })
	for _, i := range order {
		ev, err := s.evidenceAt(ctx, i, size)
		if err != nil {
			return nil, err
		}
		ev.PackageLevel = fromPackage[i]
		if err := j.mark(ctx, ev, verdicts[i]); err != nil {
			return nil, err
		}
		resp.Evidence = append(resp.Evidence, ev)
	}
	return connect.NewResponse(resp), nil
}

func compareDesc(a, b uint64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// statusKind reports whether GetStatus reads e: VEX documents, CSAF
// advisories (which carry product statuses too) and support periods.
func statusKind(e *evidence.Entry) bool {
	switch e.Kind {
	case evidence.KindVEX, evidence.KindSupportPeriod:
		return true
	case evidence.KindAdvisory:
		return strings.HasPrefix(e.PredicateType, "https://docs.oasis-open.org/csaf/csaf") || e.PredicateType == evidence.PredicateDocument
	}
	return false
}

// vexStatusProto converts a vex.Status.
func vexStatusProto(s vex.Status) evidentv1.VexStatus {
	switch s {
	case vex.NotAffected:
		return evidentv1.VexStatus_VEX_STATUS_NOT_AFFECTED
	case vex.Affected:
		return evidentv1.VexStatus_VEX_STATUS_AFFECTED
	case vex.Fixed:
		return evidentv1.VexStatus_VEX_STATUS_FIXED
	case vex.UnderInvestigation:
		return evidentv1.VexStatus_VEX_STATUS_UNDER_INVESTIGATION
	}
	return evidentv1.VexStatus_VEX_STATUS_UNSPECIFIED
}

// vexStatementProto converts a vex.Statement.
func vexStatementProto(st vex.Statement) *evidentv1.VexStatement {
	out := &evidentv1.VexStatement{
		LogIndex:        st.Source.LogIndex,
		Signers:         st.Source.Signers,
		Format:          st.Source.Format,
		Vulnerability:   st.Vulnerability,
		Product:         st.Product,
		Status:          vexStatusProto(st.Status),
		Justification:   st.Justification,
		ImpactStatement: st.ImpactStatement,
		ActionStatement: st.ActionStatement,
		PackageLevel:    st.PackageLevel,
	}
	if !st.Timestamp.IsZero() {
		out.Timestamp = timestamppb.New(st.Timestamp)
	}
	return out
}

// supportStateProto converts a support.State.
func supportStateProto(s support.State) evidentv1.SupportState {
	switch s {
	case support.Supported:
		return evidentv1.SupportState_SUPPORT_STATE_SUPPORTED
	case support.Ended:
		return evidentv1.SupportState_SUPPORT_STATE_ENDED
	case support.Unknown:
		return evidentv1.SupportState_SUPPORT_STATE_UNKNOWN
	}
	return evidentv1.SupportState_SUPPORT_STATE_UNSPECIFIED
}

// supportStatusProto converts a support.Answer.
func supportStatusProto(a support.Answer) *evidentv1.SupportStatus {
	out := &evidentv1.SupportStatus{Date: a.Day.Format(time.DateOnly), State: supportStateProto(a.State)}
	for i, st := range a.Statements {
		p := &evidentv1.SupportStatement{
			LogIndex:     st.Source.LogIndex,
			Signers:      st.Source.Signers,
			Format:       st.Source.Format,
			Covers:       st.Covers,
			ReleaseLine:  st.ReleaseLine,
			State:        supportStateProto(st.On(a.Day)),
			PackageLevel: st.PackageLevel,
		}
		if !st.TBA {
			p.EndOfSecuritySupport = timestamppb.New(st.EndOfSecuritySupport)
		}
		if !st.EndOfLife.IsZero() {
			p.EndOfLife = timestamppb.New(st.EndOfLife)
		}
		out.Statements = append(out.Statements, p)
		if i == 0 {
			out.DecidedBy = p
		}
	}
	return out
}
