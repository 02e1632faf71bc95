package monitor_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/mirror"
	"github.com/evident-dev/evident/mirror/mirrortest"
	"github.com/evident-dev/evident/monitor"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/proto/evident/v1/evidentv1connect"
)

var bg = context.Background()

// startNode starts a node with 300 entries about 17 releases of 6
// packages, of 3 predicate types; every tenth has two subjects.
func startNode(t *testing.T) *mirrortest.Node {
	nd := mirrortest.StartNode(t)
	var evs []mirrortest.Evidence
	for i := range 300 {
		ev := mirrortest.Evidence{Subjects: []string{fmt.Sprintf("pkg:pypi/demo%d@1.%d.0", i%5, i%3)}}
		if i%10 == 0 {
			ev.Subjects = append(ev.Subjects, fmt.Sprintf("pkg:npm/%%40scope/lib@%d.0.0", i%4))
		}
		if i%50 == 7 {
			// Evidence about the whole package: every release's answer.
			ev.Subjects = []string{"pkg:pypi/demo2"}
		}
		switch i % 3 {
		case 1:
			ev.PredicateType = evidence.PredicateSLSAProvenance
		case 2:
			ev.PredicateType = "https://example.com/predicate/custom/v1"
		}
		evs = append(evs, ev)
	}
	nd.Submit(t, evs...)
	return nd
}

// doctored sits in front of a node: it passes the tiles through and
// answers QueryEvidence with the node's answer, doctored by edit.
type doctored struct {
	evidentv1connect.UnimplementedEvidenceServiceHandler
	upstream evidentv1connect.EvidenceServiceClient
	edit     func(*evidentv1.QueryEvidenceResponse)
}

func (d *doctored) QueryEvidence(ctx context.Context, req *connect.Request[evidentv1.QueryEvidenceRequest]) (*connect.Response[evidentv1.QueryEvidenceResponse], error) {
	resp, err := d.upstream.QueryEvidence(ctx, connect.NewRequest(req.Msg))
	if err != nil {
		return nil, err
	}
	d.edit(resp.Msg)
	return connect.NewResponse(resp.Msg), nil
}

func startDoctored(t *testing.T, nd *mirrortest.Node, edit func(*evidentv1.QueryEvidenceResponse)) string {
	u, _ := url.Parse(nd.URL())
	mux := http.NewServeMux()
	mux.Handle(evidentv1connect.NewEvidenceServiceHandler(&doctored{
		upstream: evidentv1connect.NewEvidenceServiceClient(http.DefaultClient, nd.URL()),
		edit:     edit,
	}))
	mux.Handle("/", httputil.NewSingleHostReverseProxy(u))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// queriesOf returns the queries an entry answers, sorted.
func queriesOf(t *testing.T, entry []byte) []monitor.Query {
	e, err := evidence.ParseEntry(entry)
	if err != nil {
		t.Fatal(err)
	}
	var qs []monitor.Query
	for _, k := range e.Releases() {
		qs = append(qs, monitor.Query{Kind: monitor.QueryRelease, Key: k})
	}
	for _, k := range e.Packages() {
		qs = append(qs, monitor.Query{Kind: monitor.QueryPackage, Key: k})
	}
	for _, k := range e.Digests() {
		qs = append(qs, monitor.Query{Kind: monitor.QueryDigest, Key: k})
	}
	qs = append(qs, monitor.Query{Kind: monitor.QueryPredicate, Key: e.PredicateType})
	qs = append(qs, monitor.Query{Kind: monitor.QueryDocument, Key: "sha256:" + hex.EncodeToString(e.Document.Digest[:])})
	slices.SortFunc(qs, func(a, b monitor.Query) int { return strings.Compare(a.String(), b.String()) })
	return qs
}

func TestMonitor(t *testing.T) {
	t.Parallel()
	nd := startNode(t)
	// The monitor can reuse a mirror.
	dir := t.TempDir()
	if _, err := mirror.Sync(bg, mirror.Options{URL: nd.URL(), Dir: dir, LogKey: nd.LogKey, NoSync: true}); err != nil {
		t.Fatal(err)
	}
	m, err := mirror.Open(dir, nd.LogKey)
	if err != nil {
		t.Fatal(err)
	}
	const hidden, corrupted = 120, 201
	hiddenEntry, err := m.Entry(bg, hidden)
	if err != nil {
		t.Fatal(err)
	}
	corruptedEntry, err := m.Entry(bg, corrupted)
	if err != nil {
		t.Fatal(err)
	}

	run := func(t *testing.T, url string) *monitor.Report {
		var phases []monitor.Phase
		rep, err := monitor.Run(bg, monitor.Options{
			URL: url, LogKey: nd.LogKey, Mirror: dir, OmissionDir: t.TempDir(),
			PageSize: 7, NoSync: true,
			Progress: func(p monitor.Progress) {
				if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
					phases = append(phases, p.Phase)
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]monitor.Phase{monitor.PhaseMirror, monitor.PhaseIndex, monitor.PhaseQuery}, phases); diff != "" {
			t.Errorf("progress phases (-want +got):\n%s", diff)
		}
		// 17 releases (15 pypi, npm 0.0.0 and 2.0.0), 6 packages, 330
		// digests, 3 predicate types, 1 document (every predicate is {}).
		if rep.Size != 300 || rep.Entries != 300 || rep.Uncovered != 0 || rep.Queries != 17+6+330+3+1 || len(rep.Skipped) != 0 || len(rep.Failed) != 0 {
			t.Errorf("report: size %d, %d entries, %d queries, skipped %v, failed %v; want 300, 300, 357, none, none",
				rep.Size, rep.Entries, rep.Queries, rep.Skipped, rep.Failed)
		}
		return rep
	}

	t.Run("honest", func(t *testing.T) {
		rep := run(t, nd.URL())
		if !rep.OK() || len(rep.Omissions) != 0 || len(rep.BadAnswers) != 0 {
			t.Errorf("an honest node: OK %v, omissions %v, bad answers %v", rep.OK(), rep.Omissions, rep.BadAnswers)
		}
	})

	t.Run("hiding", func(t *testing.T) {
		url := startDoctored(t, nd, func(r *evidentv1.QueryEvidenceResponse) {
			r.Evidence = slices.DeleteFunc(r.Evidence, func(ev *evidentv1.Evidence) bool { return ev.GetLogIndex() == hidden })
		})
		rep := run(t, url)
		if rep.OK() {
			t.Error("the report of a node hiding an entry is OK")
		}
		var got []monitor.Query
		for _, o := range rep.Omissions {
			if o.Index != hidden {
				t.Errorf("omission of entry %d, want only %d", o.Index, hidden)
			}
			got = append(got, o.Query)
		}
		if diff := cmp.Diff(queriesOf(t, hiddenEntry), got); diff != "" {
			t.Errorf("omissions (-want +got):\n%s", diff)
		}
		if len(rep.OmissionFiles) != len(rep.Omissions) {
			t.Fatalf("%d omission files for %d omissions", len(rep.OmissionFiles), len(rep.Omissions))
		}
		cp, _ := nd.Federation.Checkpoint()
		for _, f := range rep.OmissionFiles {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			o, err := monitor.VerifyOmission(b, nd.LogKey)
			if err != nil {
				t.Fatalf("%s doesn't verify: %v", f, err)
			}
			if o.Index != hidden || string(o.Checkpoint) != string(cp) {
				t.Errorf("%s: index %d, checkpoint %q; want %d and the answer's checkpoint", f, o.Index, o.Checkpoint, hidden)
			}
			// Another log's key doesn't verify it.
			_, otherKey := mirrortest.NewLogKey(t, nd.LogKey.Name())
			if _, err := monitor.VerifyOmission(b, otherKey); !errors.Is(err, monitor.ErrNotOmission) {
				t.Errorf("VerifyOmission with another key = %v, want ErrNotOmission", err)
			}
		}
	})

	t.Run("corrupted proof", func(t *testing.T) {
		url := startDoctored(t, nd, func(r *evidentv1.QueryEvidenceResponse) {
			for _, ev := range r.Evidence {
				if ev.GetLogIndex() == corrupted {
					ev.InclusionProof.Hashes[0][0] ^= 1
				}
			}
		})
		rep := run(t, url)
		want := queriesOf(t, corruptedEntry)
		var bad, omitted []monitor.Query
		for _, b := range rep.BadAnswers {
			if b.Index != corrupted || !strings.Contains(b.Reason, "inclusion proof doesn't verify") {
				t.Errorf("bad answer %+v, want one about the proof of %d", b, corrupted)
			}
			bad = append(bad, b.Query)
		}
		for _, o := range rep.Omissions {
			omitted = append(omitted, o.Query)
		}
		slices.SortFunc(bad, func(a, b monitor.Query) int { return strings.Compare(a.String(), b.String()) })
		if diff := cmp.Diff(want, bad); diff != "" {
			t.Errorf("bad answers (-want +got):\n%s", diff)
		}
		// An item that doesn't verify wasn't shown: it is omitted too.
		if diff := cmp.Diff(want, omitted); diff != "" {
			t.Errorf("omissions (-want +got):\n%s", diff)
		}
	})
}

func TestMonitorSyncsItsOwnMirror(t *testing.T) {
	t.Parallel()
	nd := startNode(t)
	rep, err := monitor.Run(bg, monitor.Options{URL: nd.URL(), LogKey: nd.LogKey, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Entries != 300 || rep.Items == 0 {
		t.Errorf("report: OK %v, %d entries, %d items", rep.OK(), rep.Entries, rep.Items)
	}
	// A log key that isn't the node's: the mirror refuses the checkpoint.
	_, otherKey := mirrortest.NewLogKey(t, nd.LogKey.Name())
	_, err = monitor.Run(bg, monitor.Options{URL: nd.URL(), LogKey: otherKey, NoSync: true})
	var ve *mirror.VerifyError
	if !errors.As(err, &ve) || ve.Path != "checkpoint" {
		t.Errorf("Run with another log key = %v, want a checkpoint VerifyError", err)
	}
}
