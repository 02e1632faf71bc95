package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/server/servertest"
)

func TestNewOptions(t *testing.T) {
	n := startNode(t)
	tests := []struct {
		name, url, key, wantErr string
	}{
		{"ok", n.URL, n.VerifierKey, ""},
		{"no key", n.URL, "", "no log key"},
		{"bad key", n.URL, "not-a-key", "log key"},
		{"bad url", "ftp://x", n.VerifierKey, "want http://"},
		{"no host", "http://", n.VerifierKey, "want http://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.url, Options{LogKey: tt.key})
			if tt.wantErr == "" && err != nil {
				t.Fatalf("New: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("New: got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSubmit(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	// A low threshold sends the large envelope through SubmitStream.
	c := newClient(t, n.URL, n.VerifierKey, Options{StreamThreshold: 4 << 10})

	small := testEnvelope("pkg:pypi/requests@2.32.3", 1)
	big := servertest.Envelope(servertest.KeyPyPIMaven, "pkg:pypi/requests@2.32.3", servertest.Digest("big"),
		evidence.PredicateCycloneDX, json.RawMessage(`{"bomFormat":"CycloneDX","pad":"`+strings.Repeat("x", 3<<20)+`"}`))
	untrusted := servertest.Envelope(servertest.KeyUntrusted, "pkg:pypi/requests@2.32.3", servertest.Digest("u"), evidence.PredicateSPDX23, nil)

	tests := []struct {
		name          string
		env           []byte
		wantIndex     uint64
		wantDuplicate bool
		wantRefused   connect.Code
	}{
		{"small", small, 0, false, 0},
		{"streamed", big, 1, false, 0},
		{"duplicate", small, 0, true, 0},
		{"streamed duplicate", big, 1, true, 0},
		{"untrusted", untrusted, 0, false, connect.CodePermissionDenied},
		{"garbage", []byte(`{"payloadType":"x"}`), 0, false, connect.CodeInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := c.Submit(ctx, tt.env)
			if tt.wantRefused != 0 {
				var re *RefusedError
				if !errors.As(err, &re) || re.Code != tt.wantRefused {
					t.Fatalf("Submit: got %v, want a refusal with code %v", err, tt.wantRefused)
				}
				return
			}
			if err != nil {
				t.Fatalf("Submit: %v", err)
			}
			if r.Index != tt.wantIndex || r.Duplicate != tt.wantDuplicate {
				t.Errorf("Submit: index %d duplicate %v, want %d %v", r.Index, r.Duplicate, tt.wantIndex, tt.wantDuplicate)
			}
		})
	}
}

func TestSubmitBatch(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	c := newClient(t, n.URL, n.VerifierKey, Options{})
	a, b := testEnvelope("pkg:pypi/a@1", 1), testEnvelope("pkg:pypi/b@1", 1)
	untrusted := servertest.Envelope(servertest.KeyUntrusted, "pkg:pypi/c@1", servertest.Digest("c"), evidence.PredicateSPDX23, nil)
	if _, err := c.Submit(ctx, a); err != nil {
		t.Fatal(err)
	}
	out, err := c.SubmitBatch(ctx, [][]byte{a, b, untrusted})
	if err != nil {
		t.Fatal(err)
	}
	if r := out[0].Result; r == nil || !r.Duplicate || r.Index != 0 {
		t.Errorf("outcome 0 = %+v, want duplicate of entry 0", out[0])
	}
	if r := out[1].Result; r == nil || r.Duplicate || r.Index != 1 {
		t.Errorf("outcome 1 = %+v, want new entry 1", out[1])
	}
	var re *RefusedError
	if !errors.As(out[2].Err, &re) || re.Code != connect.CodePermissionDenied {
		t.Errorf("outcome 2 = %+v, want a permission-denied refusal", out[2])
	}
	if _, err := c.SubmitBatch(ctx, nil); err == nil {
		t.Error("SubmitBatch of nothing succeeded")
	}
}

func TestCheckpoint(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	c := newClient(t, n.URL, n.VerifierKey, Options{})
	submitAll(t, c, testEnvelope("pkg:pypi/a@1", 1), testEnvelope("pkg:pypi/a@1", 2))
	cp, err := c.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 2 || cp.Origin != servertest.Origin {
		t.Errorf("checkpoint %v, want size 2 of %s", cp.Checkpoint, servertest.Origin)
	}

	// Another log's key must not verify this log's checkpoints.
	other := startNode(t)
	c2 := newClient(t, n.URL, other.VerifierKey, Options{})
	_, err = c2.Checkpoint(ctx)
	var ve *VerificationError
	if !errors.As(err, &ve) || ve.Part != PartCheckpoint {
		t.Errorf("Checkpoint with the wrong log key: got %v, want a checkpoint verification error", err)
	}
}

func TestQuery(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	c := newClient(t, n.URL, n.VerifierKey, Options{Name: "test-foundation"})
	submitAll(t, c,
		testEnvelope("pkg:pypi/requests@2.32.3", 1),
		testEnvelope("pkg:pypi/requests@2.32.3", 2),
		testEnvelope("pkg:pypi/requests@2.31.0", 3),
		testEnvelope("pkg:pypi/urllib3@2.2.3", 4),
	)
	tests := []struct {
		purl        string
		wantIndexes []uint64
	}{
		{"pkg:pypi/requests@2.32.3", []uint64{1, 0}},
		{"pkg:pypi/Requests@2.32.3", []uint64{1, 0}}, // pypi names are normalized
		{"pkg:pypi/requests", []uint64{2, 1, 0}},
		{"pkg:pypi/urllib3@2.2.3", []uint64{3}},
		{"pkg:pypi/nothing@1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.purl, func(t *testing.T) {
			rs, err := c.Query(ctx, tt.purl)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for _, r := range rs {
				if !r.Verified || r.Err != nil {
					t.Errorf("entry %d: not verified: %v", r.Index, r.Err)
				}
				if r.Node != "test-foundation" || r.Checkpoint == nil || r.Entry == nil {
					t.Errorf("entry %d: incomplete result %+v", r.Index, r)
				}
				got = append(got, r.Index)
			}
			if !equalUints(got, tt.wantIndexes) {
				t.Errorf("indexes %v, want %v", got, tt.wantIndexes)
			}
		})
	}
	if _, err := c.Query(ctx, "not a purl"); err == nil {
		t.Error("Query of a bad purl succeeded")
	}
}

func equalUints(a, b []uint64) bool {
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

// TestQueryFailures checks that what a broken or lying node says is
// returned marked as failed, with the part that failed, and not dropped.
func TestQueryFailures(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	direct := newClient(t, n.URL, n.VerifierKey, Options{})
	submitAll(t, direct,
		testEnvelope("pkg:pypi/requests@2.32.3", 1),
		testEnvelope("pkg:pypi/requests@2.32.3", 2),
		testEnvelope("pkg:pypi/requests@2.32.3", 3),
		testEnvelope("pkg:pypi/urllib3@2.2.3", 4),
	)
	other := startNode(t)
	otherEnv := testEnvelope("pkg:pypi/urllib3@2.2.3", 4)
	if _, err := newClient(t, other.URL, other.VerifierKey, Options{}).Submit(ctx, otherEnv); err != nil {
		t.Fatal(err)
	}
	first := func(r *evidentv1.QueryEvidenceResponse) *evidentv1.Evidence { return r.Evidence[0] }

	tests := []struct {
		name     string
		vkey     string
		setup    func(p *proxy)
		wantPart string
		wantAll  bool // every item fails, not just the first
	}{
		{"wrong log key", other.VerifierKey, nil, PartCheckpoint, true},
		{"checkpoint altered", n.VerifierKey, func(p *proxy) {
			p.checkpoint = func(s string) string {
				lines := strings.SplitN(s, "\n", 3)
				lines[1] = "999" // the tree size
				return strings.Join(lines, "\n")
			}
		}, PartCheckpoint, true},
		{"proof hash altered", n.VerifierKey, func(p *proxy) {
			p.query = func(r *evidentv1.QueryEvidenceResponse) { first(r).InclusionProof.Hashes[0][5] ^= 1 }
		}, PartProof, false},
		{"proof dropped", n.VerifierKey, func(p *proxy) {
			p.query = func(r *evidentv1.QueryEvidenceResponse) { first(r).InclusionProof = nil }
		}, PartProof, false},
		{"entry altered", n.VerifierKey, func(p *proxy) {
			p.query = func(r *evidentv1.QueryEvidenceResponse) {
				first(r).Entry = bytes.Replace(first(r).Entry, []byte("kind sbom"), []byte("kind other"), 1)
			}
		}, PartProof, false},
		{"index altered", n.VerifierKey, func(p *proxy) {
			p.query = func(r *evidentv1.QueryEvidenceResponse) { first(r).LogIndex = 1; first(r).InclusionProof.LogIndex = 1 }
		}, PartProof, false},
		{"tree size altered", n.VerifierKey, func(p *proxy) {
			p.query = func(r *evidentv1.QueryEvidenceResponse) { first(r).InclusionProof.TreeSize = 3 }
		}, PartProof, false},
		{"unrelated entry", n.VerifierKey, func(p *proxy) {
			// Entry 3 (urllib3) with its valid proof, passed off as
			// evidence about requests.
			p.query = func(r *evidentv1.QueryEvidenceResponse) {
				res, err := p.ev.GetEvidence(ctx, connect.NewRequest(&evidentv1.GetEvidenceRequest{
					Selector: &evidentv1.GetEvidenceRequest_LogIndex{LogIndex: 3}}))
				if err != nil {
					t.Error(err)
					return
				}
				r.Evidence[0] = res.Msg.Evidence
			}
		}, PartEntry, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, url := startProxy(t, n)
			if tt.setup != nil {
				tt.setup(p)
			}
			c := newClient(t, url, tt.vkey, Options{})
			rs, err := c.Query(ctx, "pkg:pypi/requests@2.32.3")
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 3 {
				t.Fatalf("got %d results, want 3 (failures are not dropped)", len(rs))
			}
			for i, r := range rs {
				shouldFail := i == 0 || tt.wantAll
				if !shouldFail {
					if !r.Verified {
						t.Errorf("result %d failed: %v", i, r.Err)
					}
					continue
				}
				var ve *VerificationError
				if r.Verified || !errors.As(r.Err, &ve) || ve.Part != tt.wantPart {
					t.Errorf("result %d: verified %v, err %v; want failure in %q", i, r.Verified, r.Err, tt.wantPart)
				}
				if !errors.Is(r.Err, ErrVerification) {
					t.Errorf("result %d: error %v does not wrap ErrVerification", i, r.Err)
				}
			}
		})
	}
}

func TestGetEnvelope(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	env := testEnvelope("pkg:pypi/requests@2.32.3", 1)
	submitAll(t, newClient(t, n.URL, n.VerifierKey, Options{}), env)

	p, url := startProxy(t, n)
	c := newClient(t, url, n.VerifierKey, Options{})
	r, got, err := c.Get(ctx, 0, true)
	if err != nil || !r.Verified || !bytes.Equal(got, env) {
		t.Fatalf("Get: verified %v, err %v %v, envelope equal %v", r.Verified, r.Err, err, bytes.Equal(got, env))
	}
	p.envelope = func(b []byte) []byte { b[10] ^= 1; return b }
	r, _, err = c.Get(ctx, 0, true)
	var ve *VerificationError
	if err != nil || r.Verified || !errors.As(r.Err, &ve) || ve.Part != PartEnvelope {
		t.Fatalf("Get with an altered envelope: verified %v, err %v / %v; want an envelope verification failure", r.Verified, r.Err, err)
	}
}
