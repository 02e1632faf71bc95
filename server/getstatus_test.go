package server_test

import (
	"context"
	"crypto/ed25519"
	"testing"

	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/server/servertest"
	"google.golang.org/grpc/codes"
)

// TestGetStatus: VEX from two signers in two formats about one release,
// the newer deciding with the other beside it as a conflict; a support
// period for the release's line; a CSAF advisory the node cannot read
// reported unread; superseded VEX not read at all; every cited item in
// the answer with its proof.
func TestGetStatus(t *testing.T) {
	n := startNode(t, servertest.Options{Trust: statusTrust(t)})
	c := dial(t, n)
	ctx := context.Background()
	const rel = "pkg:pypi/demo@1.0.3"
	sub := func(key []byte, purl, predicateType, predicate string) uint64 {
		t.Helper()
		st := servertest.NewStatement(purl, servertest.Digest(purl+predicate), predicateType, []byte(predicate))
		return submit(t, c, signAll(t, st.Marshal(), statusKeyOf(key))).GetLogIndex()
	}
	openVEX := func(status, ts string) string {
		return `{"@context":"https://openvex.dev/ns/v0.2.0","@id":"x","author":"a","timestamp":"` + ts + `","version":1,"statements":[{"vulnerability":{"name":"CVE-2026-1234"},"products":[{"@id":"` + rel + `"}],"status":"` + status + `"}]}`
	}
	old := sub([]byte("A"), rel, evidence.PredicateOpenVEX, openVEX("affected", "2026-01-01T00:00:00Z"))
	mine := sub([]byte("A"), rel, evidence.PredicateOpenVEX, openVEX("under_investigation", "2026-02-01T00:00:00Z"))
	theirs := sub([]byte("B"), rel, "https://cyclonedx.org/bom/v1.6",
		`{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"metadata":{"timestamp":"2026-03-01T00:00:00Z","component":{"type":"library","name":"demo","bom-ref":"d","purl":"`+rel+`"}},`+
			`"vulnerabilities":[{"id":"CVE-2026-1234","analysis":{"state":"not_affected","justification":"code_not_reachable"},"affects":[{"ref":"d"}]}]}`)
	line := sub([]byte("A"), "pkg:pypi/demo", evidence.PredicateSupportPeriod,
		`{"covers":"release-line","release_line":"1.0","end_of_security_support":"2028-06-30T23:59:59Z","last_updated":"2026-01-01T00:00:00Z"}`)
	broken := sub([]byte("B"), rel, evidence.PredicateCSAF, `{"document":{"category":"csaf_security_advisory","csaf_version":"2.0"},"vulnerabilities":[{"cve":"CVE-1"}]}`)
	sub([]byte("A"), "pkg:pypi/other@1", evidence.PredicateOpenVEX, openVEX("fixed", "2026-05-01T00:00:00Z"))
	waitCheckpoint(t, c, broken+2)

	res, err := c.ev.GetStatus(ctx, &evidentv1.GetStatusRequest{ReleasePurl: rel + "?foo=bar", Date: "2028-06-30"})
	if err != nil {
		t.Fatal(err)
	}
	if vs := res.GetVulnerabilities(); len(vs) != 1 {
		t.Fatalf("%d vulnerabilities, want 1: %v", len(vs), vs)
	}
	v := res.GetVulnerabilities()[0]
	if v.GetStatus() != evidentv1.VexStatus_VEX_STATUS_NOT_AFFECTED || v.GetDecidedBy().GetLogIndex() != theirs || !v.GetConflict() ||
		v.GetJustification() != "vulnerable_code_not_in_execute_path" || len(v.GetStatements()) != 2 ||
		v.GetStatements()[1].GetLogIndex() != mine || v.GetStatements()[1].GetStatus() != evidentv1.VexStatus_VEX_STATUS_UNDER_INVESTIGATION {
		t.Errorf("vulnerability = %v", v)
	}
	s := res.GetSupport()
	if s.GetState() != evidentv1.SupportState_SUPPORT_STATE_SUPPORTED || s.GetDecidedBy().GetLogIndex() != line || s.GetDate() != "2028-06-30" || !s.GetDecidedBy().GetPackageLevel() {
		t.Errorf("support = %v", s)
	}
	if u := res.GetUnread(); len(u) != 1 || u[0].GetLogIndex() != broken {
		t.Errorf("unread = %v, want entry %d", u, broken)
	}
	cp := openCheckpoint(t, n, res.GetCheckpoint())
	var cited []uint64
	for _, ev := range res.GetEvidence() {
		cited = append(cited, ev.GetLogIndex())
		verifyInclusion(t, cp, ev.GetEntry(), ev.GetInclusionProof())
		if ev.GetStatus() != evidentv1.EvidenceStatus_EVIDENCE_STATUS_CURRENT {
			t.Errorf("cited entry %d is %v", ev.GetLogIndex(), ev.GetStatus())
		}
	}
	if want := []uint64{line, theirs, mine}; !equalU64(cited, want) {
		t.Errorf("cited %v, want %v (newest first; the superseded %d not at all)", cited, want, old)
	}
	res, err = c.ev.GetStatus(ctx, &evidentv1.GetStatusRequest{ReleasePurl: rel, Date: "2028-07-01"})
	if err != nil {
		t.Fatal(err)
	}
	if res.GetSupport().GetState() != evidentv1.SupportState_SUPPORT_STATE_ENDED {
		t.Errorf("the day after: %v", res.GetSupport())
	}
	_, err = c.ev.GetStatus(ctx, &evidentv1.GetStatusRequest{ReleasePurl: "pkg:pypi/demo"})
	wantStatus(t, err, codes.InvalidArgument)
}

func statusKeyOf(which []byte) ed25519.PrivateKey {
	if string(which) == "A" {
		return statusKeyA
	}
	return statusKeyB
}

func equalU64(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
