package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/server"
	"github.com/evident-dev/evident/server/servertest"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
)

// statusKeys: two signers trusted for pkg:pypi, an operator key trusted
// to withdraw what others signed there, and a key trusted for pkg:pypi that
// may withdraw only its own.
var (
	statusKeyA        = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0xa1}, 32))
	statusKeyB        = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0xb2}, 32))
	statusKeyOperator = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0xc3}, 32))
	statusKeyOther    = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0xd4}, 32))
)

func statusTrust(t testing.TB) *evidence.TrustedSigners {
	tp, err := evidence.NewTrustedKeys([]evidence.TrustedKey{
		{PublicKey: servertest.Public(statusKeyA), Namespaces: []string{"pkg:pypi"}},
		{PublicKey: servertest.Public(statusKeyB), Namespaces: []string{"pkg:pypi"}},
		{PublicKey: servertest.Public(statusKeyOperator), Namespaces: []string{"pkg:pypi"}, Withdraw: true},
		{PublicKey: servertest.Public(statusKeyOther), Namespaces: []string{"pkg:pypi"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func keyID(k ed25519.PrivateKey) string { return evidence.KeyID(servertest.Public(k)) }

// signAll signs payload with every key, as one DSSE envelope.
func signAll(t testing.TB, payload []byte, keys ...ed25519.PrivateKey) []byte {
	t.Helper()
	e, err := evidence.Sign(evidence.PayloadTypeInToto, payload, keys[0], "")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys[1:] {
		if err := e.AddSignature(k, ""); err != nil {
			t.Fatal(err)
		}
	}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// modelItem is what the reference model knows of a logged item.
type modelItem struct {
	index      uint64
	kind       string
	signers    string   // sorted signer ids, joined
	subjects   []string // status subjects
	withdrawal bool
	target     uint64 // for a withdrawal
	reason     string
}

// model is the reference for STATUS.md, written from the rules rather
// than from the index: it looks at every item every time.
type model struct{ items []modelItem }

type modelStatus struct {
	Index        uint64
	Status       evidentv1.EvidenceStatus
	SupersededBy uint64
	WithdrawnBy  uint64
	Reason       string
}

func (m *model) withdrawnBy(idx uint64) (uint64, string, bool) {
	for _, w := range m.items {
		if w.withdrawal && w.target == idx {
			return w.index, w.reason, true // items are in log order: the first is the earliest
		}
	}
	return 0, "", false
}

// about is the status of item it about subject s.
func (m *model) about(it modelItem, s string) modelStatus {
	out := modelStatus{Index: it.index, Status: evidentv1.EvidenceStatus_EVIDENCE_STATUS_CURRENT}
	if it.withdrawal {
		return out
	}
	if by, reason, ok := m.withdrawnBy(it.index); ok {
		out.Status, out.WithdrawnBy, out.Reason = evidentv1.EvidenceStatus_EVIDENCE_STATUS_WITHDRAWN, by, reason
		return out
	}
	for _, o := range m.items {
		if o.index <= it.index || o.withdrawal || o.kind != it.kind || o.signers != it.signers || !slices.Contains(o.subjects, s) {
			continue
		}
		if _, _, ok := m.withdrawnBy(o.index); ok {
			continue
		}
		out.Status, out.SupersededBy = evidentv1.EvidenceStatus_EVIDENCE_STATUS_SUPERSEDED, o.index
		return out
	}
	return out
}

// whole is the status of an item as a whole.
func (m *model) whole(it modelItem) modelStatus {
	var out modelStatus
	for _, s := range it.subjects {
		st := m.about(it, s)
		if st.Status != evidentv1.EvidenceStatus_EVIDENCE_STATUS_SUPERSEDED {
			return st
		}
		if out.Status == 0 || st.SupersededBy < out.SupersededBy {
			out = st
		}
	}
	return out
}

// release is the model's answer to a release query, newest first.
func (m *model) release(rel, pkg string, currentOnly bool) []modelStatus {
	out := []modelStatus{}
	for i := len(m.items) - 1; i >= 0; i-- {
		it := m.items[i]
		var st modelStatus
		switch {
		case slices.Contains(it.subjects, rel):
			st = m.about(it, rel)
		case slices.Contains(it.subjects, pkg):
			st = m.about(it, pkg)
		default:
			continue
		}
		if currentOnly && st.Status != evidentv1.EvidenceStatus_EVIDENCE_STATUS_CURRENT {
			continue
		}
		out = append(out, st)
	}
	return out
}

func statusesOf(evs []*evidentv1.Evidence) []modelStatus {
	out := []modelStatus{}
	for _, ev := range evs {
		out = append(out, modelStatus{
			Index:        ev.GetLogIndex(),
			Status:       ev.GetStatus(),
			SupersededBy: ev.GetSupersededBy(),
			WithdrawnBy:  ev.GetWithdrawnBy(),
			Reason:       ev.GetWithdrawalReason(),
		})
	}
	return out
}

// TestStatusProperty: random sequences of evidence (two kinds, by one or
// two of two signers, about one or two of two releases and their package)
// and withdrawals (by the signer, by a key trusted for withdrawals, or by
// one that is not, which must be refused), compared after every step with
// a reference model of STATUS.md: full and current-only release answers,
// package answers and single items. After a restart, the same answers.
func TestStatusProperty(t *testing.T) {
	seeds := []uint64{1, 2, 3}
	steps := 40
	if testing.Short() {
		seeds, steps = seeds[:1], 25
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			testStatusProperty(t, seed, steps)
		})
	}
}

func testStatusProperty(t *testing.T, seed uint64, steps int) {
	r := rand.New(rand.NewPCG(seed, 7))
	dir := t.TempDir()
	n, err := servertest.Start(servertest.Options{Dir: dir, Trust: statusTrust(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { n.Close() }()
	c := dial(t, n)
	ctx := context.Background()
	const pkg = "pkg:pypi/demo"
	releases := []string{"pkg:pypi/demo@1.0", "pkg:pypi/demo@2.0"}
	subjectNames := []string{"pkg:pypi/demo@1.0", "pkg:pypi/demo@2.0?file_name=demo-2.0.whl", pkg}
	statusSubject := map[string]string{subjectNames[0]: releases[0], subjectNames[1]: releases[1], pkg: pkg}
	kinds := []struct{ predicateType, kind string }{
		{evidence.PredicateOpenVEX, "vex"},
		{evidence.PredicateSLSAProvenance, "provenance"},
	}
	signerSets := [][]ed25519.PrivateKey{{statusKeyA}, {statusKeyB}, {statusKeyA, statusKeyB}}
	var m model
	var envelopes = map[uint64][]byte{}

	check := func(step string) {
		t.Helper()
		size := uint64(len(m.items))
		if size > 0 {
			waitCheckpoint(t, c, size)
		}
		for _, rel := range releases {
			for _, currentOnly := range []bool{false, true} {
				res, err := c.ev.QueryEvidence(ctx, &evidentv1.QueryEvidenceRequest{
					Query: &evidentv1.QueryEvidenceRequest_ReleasePurl{ReleasePurl: rel}, PageSize: 500, CurrentOnly: currentOnly,
				})
				if err != nil {
					t.Fatalf("%s: query %s: %v", step, rel, err)
				}
				if diff := cmp.Diff(m.release(rel, pkg, currentOnly), statusesOf(res.GetEvidence())); diff != "" {
					t.Fatalf("%s: %s (current_only %v) differs from the model (-model +node):\n%s", step, rel, currentOnly, diff)
				}
			}
		}
		// The package answer and GetEvidence judge items as a whole.
		res, err := c.ev.QueryEvidence(ctx, &evidentv1.QueryEvidenceRequest{
			Query: &evidentv1.QueryEvidenceRequest_PackagePurl{PackagePurl: pkg}, PageSize: 500,
		})
		if err != nil {
			t.Fatalf("%s: package query: %v", step, err)
		}
		var want []modelStatus
		for i := len(m.items) - 1; i >= 0; i-- {
			want = append(want, m.whole(m.items[i]))
		}
		if want == nil {
			want = []modelStatus{}
		}
		if diff := cmp.Diff(want, statusesOf(res.GetEvidence())); diff != "" {
			t.Fatalf("%s: package answer differs from the model (-model +node):\n%s", step, diff)
		}
		if len(m.items) > 0 {
			it := m.items[r.IntN(len(m.items))]
			g, err := c.ev.GetEvidence(ctx, &evidentv1.GetEvidenceRequest{Selector: &evidentv1.GetEvidenceRequest_LogIndex{LogIndex: it.index}})
			if err != nil {
				t.Fatalf("%s: GetEvidence(%d): %v", step, it.index, err)
			}
			if diff := cmp.Diff(m.whole(it), statusesOf([]*evidentv1.Evidence{g.GetEvidence()})[0]); diff != "" {
				t.Fatalf("%s: GetEvidence(%d) differs from the model (-model +node):\n%s", step, it.index, diff)
			}
		}
	}

	for step := range steps {
		var evidenceItems []modelItem
		for _, it := range m.items {
			if !it.withdrawal {
				evidenceItems = append(evidenceItems, it)
			}
		}
		if len(evidenceItems) > 0 && r.IntN(4) == 0 {
			// A withdrawal of an item, by someone.
			target := evidenceItems[r.IntN(len(evidenceItems))]
			var signer ed25519.PrivateKey
			allowed := true
			switch r.IntN(4) {
			case 0:
				signer = statusKeyOperator
			case 1:
				signer, allowed = statusKeyOther, false
			default:
				if strings.Contains(target.signers, keyID(statusKeyA)) {
					signer = statusKeyA
				} else {
					signer = statusKeyB
				}
			}
			d := sha256Of(envelopes[target.index])
			reason := fmt.Sprintf("step %d withdraws %d", step, target.index)
			pred, err := (&evidence.Withdrawal{EnvelopeDigest: d, LogIndex: target.index, HasLogIndex: r.IntN(2) == 0, Reason: reason}).Predicate()
			if err != nil {
				t.Fatal(err)
			}
			var subs []servertest.Subject
			for _, s := range target.subjects {
				subs = append(subs, servertest.Subject{Name: s, Digest: map[string]string{"sha256": hex.EncodeToString(d[:])}})
			}
			st := &servertest.Statement{Type: evidence.StatementTypeV1, Subject: subs, PredicateType: evidence.PredicateWithdrawal, Predicate: pred}
			env := signAll(t, st.Marshal(), signer)
			res, err := c.ev.Submit(ctx, &evidentv1.SubmitRequest{Envelope: env})
			if !allowed {
				wantStatus(t, err, codes.PermissionDenied, "trusts for withdrawals")
				continue
			}
			if err != nil {
				t.Fatalf("step %d: withdrawal of %d by an allowed signer: %v", step, target.index, err)
			}
			idx := res.GetResult().GetLogIndex()
			if idx != uint64(len(m.items)) {
				t.Fatalf("step %d: withdrawal logged at %d, want %d", step, idx, len(m.items))
			}
			envelopes[idx] = env
			m.items = append(m.items, modelItem{index: idx, kind: "withdrawal", signers: keyID(signer), subjects: target.subjects, withdrawal: true, target: target.index, reason: reason})
			check(fmt.Sprintf("step %d (withdraw %d)", step, target.index))
			continue
		}
		k := kinds[r.IntN(len(kinds))]
		keys := signerSets[r.IntN(len(signerSets))]
		names := []string{subjectNames[r.IntN(len(subjectNames))]}
		if r.IntN(3) == 0 {
			if o := subjectNames[r.IntN(len(subjectNames))]; o != names[0] {
				names = append(names, o)
			}
		}
		var subs []servertest.Subject
		var statusSubjects []string
		for _, nm := range names {
			subs = append(subs, servertest.Subject{Name: nm, Digest: map[string]string{"sha256": servertest.Digest(nm)}})
			if s := statusSubject[nm]; !slices.Contains(statusSubjects, s) {
				statusSubjects = append(statusSubjects, s)
			}
		}
		pred, _ := json.Marshal(map[string]any{"step": step, "seed": seed})
		st := &servertest.Statement{Type: evidence.StatementTypeV1, Subject: subs, PredicateType: k.predicateType, Predicate: pred}
		env := signAll(t, st.Marshal(), keys...)
		idx := submit(t, c, env).GetLogIndex()
		if idx != uint64(len(m.items)) {
			t.Fatalf("step %d: logged at %d, want %d", step, idx, len(m.items))
		}
		envelopes[idx] = env
		var ids []string
		for _, key := range keys {
			ids = append(ids, keyID(key))
		}
		slices.Sort(ids)
		m.items = append(m.items, modelItem{index: idx, kind: k.kind, signers: strings.Join(ids, " "), subjects: statusSubjects})
		check(fmt.Sprintf("step %d (%s by %d signers about %v)", step, k.kind, len(keys), names))
	}

	// A withdrawal of a withdrawal is refused.
	for _, it := range m.items {
		if !it.withdrawal {
			continue
		}
		d := sha256Of(envelopes[it.index])
		pred, err := (&evidence.Withdrawal{EnvelopeDigest: d, Reason: "undo"}).Predicate()
		if err != nil {
			t.Fatal(err)
		}
		var subs []servertest.Subject
		for _, s := range it.subjects {
			subs = append(subs, servertest.Subject{Name: s, Digest: map[string]string{"sha256": hex.EncodeToString(d[:])}})
		}
		st := &servertest.Statement{Type: evidence.StatementTypeV1, Subject: subs, PredicateType: evidence.PredicateWithdrawal, Predicate: pred}
		_, err = c.ev.Submit(ctx, &evidentv1.SubmitRequest{Envelope: signAll(t, st.Marshal(), statusKeyOperator)})
		wantStatus(t, err, codes.FailedPrecondition, "withdrawals cannot be withdrawn")
		break
	}

	// After a restart the node rebuilds its in-memory index keys from the
	// log: the same answers.
	n2, err := n.Restart()
	if err != nil {
		t.Fatal(err)
	}
	n = n2
	c = dial(t, n)
	check("after restart")
}

func sha256Of(b []byte) [32]byte {
	var d [32]byte
	copy(d[:], sha(b))
	return d
}

// TestCurrentOnlyPages: a current-only answer whose candidates outnumber
// what a page reads goes on, page by page, to the same items as an answer
// read at once; pages of only superseded items are empty but not the end.
func TestCurrentOnlyPages(t *testing.T) {
	n := startNode(t, servertest.Options{Trust: statusTrust(t)})
	c := dial(t, n)
	ctx := context.Background()
	const rel = "pkg:pypi/paged@1.0"
	for i := range 10 {
		pred, _ := json.Marshal(map[string]any{"n": i})
		submit(t, c, signAll(t, servertest.NewStatement(rel, servertest.Digest(rel), evidence.PredicateOpenVEX, pred).Marshal(), statusKeyA))
	}
	pred, _ := json.Marshal(map[string]any{"n": "b"})
	submit(t, c, signAll(t, servertest.NewStatement("pkg:pypi/paged", servertest.Digest("p"), evidence.PredicateOpenVEX, pred).Marshal(), statusKeyB))
	waitCheckpoint(t, c, 11)
	all := func() []uint64 {
		var got []uint64
		req := &evidentv1.QueryEvidenceRequest{Query: &evidentv1.QueryEvidenceRequest_ReleasePurl{ReleasePurl: rel}, CurrentOnly: true, PageSize: 1}
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("more than 20 pages")
			}
			res, err := c.ev.QueryEvidence(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range res.GetEvidence() {
				got = append(got, ev.GetLogIndex())
			}
			if req.PageToken = res.GetNextPageToken(); req.PageToken == "" {
				return got
			}
		}
	}
	want := all()
	if !equalU64(want, []uint64{10, 9}) {
		t.Fatalf("current items %v, want [10 9] (the package's, then the release's newest)", want)
	}
	defer server.SetMaxCurrentOnlyScan(3)()
	if got := all(); !equalU64(got, want) {
		t.Errorf("reading 3 keys a page: %v, want %v", got, want)
	}
}
