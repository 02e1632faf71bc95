// Package check answers a manufacturer's due-diligence question (CRA Art.
// 13(5)) for a whole product: for every component of the product's SBOM,
// what evidence do the configured nodes hold, does it verify, and does the
// product meet the manufacturer's requirements?
//
// [Run] reads the SBOM (package sbom), asks every node about every
// component at once ([client.Client.BatchQuery]), verifies every item (the
// checkpoint's signature and witness quorum, the inclusion proof, the
// entry, the envelope and its signatures, and that the item is about the
// component), and returns a [Report] and the evidence the report cites. The
// report has a versioned JSON form (REPORT.md, report.schema.json), an HTML
// form for technical documentation ([WriteHTML]), and goes with the
// evidence into an offline evidence pack ([Pack], PACK.md) that
// [VerifyPack] checks years later without a network.
package check

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/evident-dev/evident/client"
	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/sbom"
)

// Options configures [Run]. Nodes is required; the zero value of every
// other field is a sensible default.
type Options struct {
	// Nodes are the nodes to ask, each with its log key and the witness
	// policy its checkpoints must meet. They are asked in parallel.
	Nodes []*client.Client
	// SignerKeys are the public keys of evidence signers. An item signed
	// with a key (not a Sigstore identity) verifies only if the keys of
	// all its signers are here: a node names signers by key id only.
	SignerKeys []crypto.PublicKey
	// SignerNames name signers for people, by signer id. Default: none.
	SignerNames map[string]string
	// SigstoreTrustedRoot is the Sigstore trusted_root.json items logged as
	// Sigstore bundles are verified against; without it they fail.
	SigstoreTrustedRoot []byte
	// Requirements, when set, are what every third-party component must
	// have. Default: none; the report only lists.
	Requirements *Requirements
	// Status resolves what documents say now. Default FoundOnly.
	Status StatusResolver
	// Now is the clock ("today"). Default time.Now.
	Now func() time.Time
	// File is the SBOM's file name, for the report. Default "".
	File string
	// Logger receives debug messages. Default: discard.
	Logger *slog.Logger
}

// Result is what [Run] found: the report, and the evidence it cites.
type Result struct {
	Report *Report
	// Bundle holds every verified item the report cites, with its
	// envelope, proof and signer keys; Report items name their position in
	// it (Item.PackItem).
	Bundle *client.Bundle
	// SBOM is the document that was checked.
	SBOM []byte
}

// maxMatches is how many items a node lists per component: a release with
// more has years of history, and the report says the list was cut.
const maxMatches = 1000

// itemKey names a log item across nodes.
type itemKey struct {
	node  int
	index uint64
}

// itemState is one item's verification, shared by every component it
// answers for.
type itemState struct {
	res       client.Result
	envelope  []byte
	statement *evidence.Statement
	err       error // nil when verified
	packItem  int   // -1 until it goes into the bundle
}

// Run checks the SBOM in data against opts.Nodes. The error is for what
// made the check impossible (an SBOM it can't read, no nodes); failures of
// nodes and of items are in the report.
func Run(ctx context.Context, data []byte, opts Options) (*Result, error) {
	if len(opts.Nodes) == 0 {
		return nil, errors.New("couldn't check: no nodes to ask")
	}
	if opts.Requirements != nil {
		if err := opts.Requirements.Check(); err != nil {
			return nil, fmt.Errorf("couldn't check: %w", err)
		}
	}
	if opts.Status == nil {
		opts.Status = FoundOnly{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := sbom.Read(data)
	if err != nil {
		return nil, fmt.Errorf("couldn't check: %w", err)
	}
	now := opts.Now().UTC()
	sum := sha256.Sum256(data)
	rep := &Report{
		Schema:       ReportSchema,
		Time:         now.Truncate(time.Second),
		SBOM:         SBOMInfo{File: opts.File, Format: s.Format, Name: s.Name, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), Components: len(s.Components)},
		Requirements: opts.Requirements,
	}

	// One query per distinct release or package, and per artifact digest
	// of components without a purl; each component remembers its own.
	var queries []client.BatchQuery
	queryOf := make(map[client.BatchQuery]int)
	compQueries := make([][]int, len(s.Components))
	add := func(c int, q client.BatchQuery) {
		i, ok := queryOf[q]
		if !ok {
			i = len(queries)
			queryOf[q] = i
			queries = append(queries, q)
		}
		compQueries[c] = append(compQueries[c], i)
	}
	for i, c := range s.Components {
		if c.Purl != "" {
			p, err := evidence.ParsePurl(c.Purl)
			if err != nil {
				continue // sbom.Read keeps only purls that parse
			}
			if p.HasVersion() {
				add(i, client.BatchQuery{Purl: p.Release()})
			} else {
				add(i, client.BatchQuery{Purl: p.Package()})
			}
			continue
		}
		for _, h := range c.Hashes {
			if h.Alg == "sha256" && len(h.Value) == 64 || h.Alg == "sha512" && len(h.Value) == 128 {
				add(i, client.BatchQuery{Digest: h.String()})
			}
		}
	}

	// Every node at once.
	answers := make([][]client.BatchAnswer, len(opts.Nodes))
	nodeErrs := make([]error, len(opts.Nodes))
	if len(queries) > 0 {
		var wg sync.WaitGroup
		for n, cl := range opts.Nodes {
			wg.Go(func() {
				answers[n], nodeErrs[n] = cl.BatchQuery(ctx, queries, client.BatchOptions{Envelopes: true, MaxMatches: maxMatches})
			})
		}
		wg.Wait()
	}

	// Each item once, however many components it answers for.
	items := make(map[itemKey]*itemState)
	var order []itemKey
	for n := range opts.Nodes {
		for _, a := range answers[n] {
			for _, r := range a.Results {
				k := itemKey{n, r.Index}
				if st, ok := items[k]; ok {
					// Verified for one query, maybe not for another (the
					// entry must be about what was asked): keep the
					// verified copy's proof; aboutQuery is per component.
					if r.Verified && !st.res.Verified {
						st.res = r
					}
					continue
				}
				items[k] = &itemState{res: r, packItem: -1}
				order = append(order, k)
			}
		}
	}
	verifyEnvelopes(ctx, opts, items, order)

	// The report's nodes.
	for n, cl := range opts.Nodes {
		ni := NodeInfo{Name: cl.Name(), URL: cl.URL(), Origin: cl.Origin()}
		var errs []string
		if nodeErrs[n] != nil {
			errs = append(errs, nodeErrs[n].Error())
		}
		failed := 0
		for _, a := range answers[n] {
			if a.Err != nil {
				if failed++; failed == 1 {
					errs = append(errs, a.Err.Error())
				}
			}
		}
		if failed > 1 {
			errs = append(errs, fmt.Sprintf("(%d queries got no answer)", failed))
		}
		ni.Error = strings.Join(errs, " ")
		for _, k := range order {
			if r := items[k].res; k.node == n && r.Checkpoint != nil {
				if c := r.Checkpoint.Checkpoint.String(); !slices.Contains(ni.Checkpoints, c) {
					ni.Checkpoints = append(ni.Checkpoints, c)
				}
			}
		}
		rep.Nodes = append(rep.Nodes, ni)
	}

	// The bundle: every verified item, in the order first found.
	bundle := &client.Bundle{}
	keys := signerKeyMap(opts.SignerKeys)
	for _, k := range order {
		st := items[k]
		if st.err != nil {
			continue
		}
		r := st.res
		it := client.BundleItem{Envelope: st.envelope, Entry: r.RawEntry,
			Proof: (&client.Proof{Index: r.Index, Hashes: r.Proof, Checkpoint: r.Checkpoint.Note}).Marshal()}
		if r.Entry.Encoding == evidence.EncodingDSSE {
			for _, id := range r.Entry.Signers {
				it.Signers = append(it.Signers, keys[id]) // present: it verified
			}
		}
		st.packItem = len(bundle.Items)
		bundle.Items = append(bundle.Items, it)
	}

	until, _ := opts.Requirements.until()
	for i, c := range s.Components {
		comp := component(c, opts.Requirements)
		switch {
		case c.Purl != "":
			comp.MatchedBy = "purl"
		case len(compQueries[i]) > 0:
			comp.MatchedBy = "hash"
		}
		var unasked []string
		seen := make(map[itemKey]bool)
		for n := range opts.Nodes {
			for _, q := range compQueries[i] {
				if nodeErrs[n] != nil || answers[n] == nil {
					unasked = appendOnce(unasked, opts.Nodes[n].Name())
					continue
				}
				a := answers[n][q]
				if a.Err != nil {
					unasked = appendOnce(unasked, opts.Nodes[n].Name())
					continue
				}
				if a.Truncated {
					comp.Unchecked = append(comp.Unchecked, fmt.Sprintf("%s holds more than %d items about %s; the newest are listed", opts.Nodes[n].Name(), maxMatches, queries[q]))
				}
				for _, r := range a.Results {
					k := itemKey{n, r.Index}
					if seen[k] {
						continue
					}
					seen[k] = true
					comp.Items = append(comp.Items, reportItem(r, items[k], opts))
				}
			}
		}
		comp.NoEvidence = len(comp.Items) == 0
		comp.Kinds = kindResults(comp, items, opts, now, until)
		evaluate(&comp, opts.Requirements, unasked, until)
		rep.Components = append(rep.Components, comp)
	}
	summarize(rep)
	return &Result{Report: rep, Bundle: bundle, SBOM: data}, nil
}

func appendOnce(ss []string, s string) []string {
	if slices.Contains(ss, s) {
		return ss
	}
	return append(ss, s)
}

// verifyEnvelopes fetches the envelopes nodes did not send with their
// items, and checks every verified item's envelope (signatures, statement),
// on as many goroutines as there are CPUs.
func verifyEnvelopes(ctx context.Context, opts Options, items map[itemKey]*itemState, order []itemKey) {
	keys := signerKeyMap(opts.SignerKeys)
	vopts := client.VerifyOptions{SigstoreTrustedRoot: opts.SigstoreTrustedRoot}
	work := make(chan itemKey)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for k := range work {
				st := items[k]
				r := st.res
				if !r.Verified {
					st.err = r.Err
					continue
				}
				env := r.Envelope
				if env == nil {
					var err error
					if env, err = opts.Nodes[k.node].Envelope(ctx, r.Entry); err != nil {
						st.err = err
						continue
					}
				}
				var signers []crypto.PublicKey
				if r.Entry.Encoding == evidence.EncodingDSSE {
					for _, id := range r.Entry.Signers {
						k, ok := keys[id]
						if !ok {
							st.err = &client.VerificationError{Part: client.PartSignature,
								Err: fmt.Errorf("no public key for signer %s: add it with evident config add-signer", id)}
							break
						}
						signers = append(signers, k)
					}
					if st.err != nil {
						continue
					}
				}
				st.statement, st.err = client.VerifyEnvelope(r.Entry, env, signers, vopts)
				if st.err == nil {
					st.envelope = env
				}
			}
		})
	}
	for _, k := range order {
		work <- k
	}
	close(work)
	wg.Wait()
}

func signerKeyMap(ks []crypto.PublicKey) map[string]crypto.PublicKey {
	m := make(map[string]crypto.PublicKey, len(ks))
	for _, k := range ks {
		if id, err := evidence.SignerKeyID(k); err == nil {
			m[id] = k
		}
	}
	return m
}

func component(c sbom.Component, req *Requirements) Component {
	out := Component{Ref: c.Ref, Name: c.Name, Version: c.Version, Purl: c.Purl, PurlError: c.PurlError, Primary: c.Primary,
		Ignored: req.ignores(c.Purl), Items: []Item{}}
	for _, h := range c.Hashes {
		out.Hashes = append(out.Hashes, h.String())
	}
	return out
}

// reportItem describes a result for the report. The result's Verified is
// the node's part (checkpoint, proof, entry, about the component); st adds
// the envelope's.
func reportItem(r client.Result, st *itemState, opts Options) Item {
	it := Item{Node: r.Node, LogIndex: r.Index, Verified: r.Verified && st.err == nil, PackageLevel: r.PackageLevel}
	err := r.Err
	if err == nil {
		err = st.err
	}
	if !it.Verified && err != nil {
		it.Error = err.Error()
		var ve *client.VerificationError
		if errors.As(err, &ve) {
			it.FailedPart = ve.Part
		}
	}
	if it.Verified && st.packItem >= 0 {
		p := st.packItem
		it.PackItem = &p
	}
	if r.Checkpoint != nil {
		it.Origin, it.Checkpoint = r.Checkpoint.Origin, r.Checkpoint.Checkpoint.String()
	}
	e := r.Entry
	if e == nil {
		it.Kind = "?"
		return it
	}
	it.Kind, it.Format, it.Name, it.PredicateType, it.LoggedAt = string(e.Kind), e.Format, e.Name, e.PredicateType, e.Time
	it.Signers = e.Signers
	for _, id := range e.Signers {
		if n, ok := opts.SignerNames[id]; ok {
			it.SignerNames = append(it.SignerNames, n)
		}
	}
	for _, s := range e.Subjects {
		it.Subjects = appendOnce(it.Subjects, s.Purl)
	}
	it.DocumentSHA256, it.DocumentSize, it.MediaType = hex.EncodeToString(e.Document.Digest[:]), e.Document.Size, e.Document.MediaType
	it.EnvelopeSHA256 = hex.EncodeToString(e.EnvelopeDigest[:])
	return it
}

// kindResults summarises a component's items by kind: the kinds of Kinds
// first, then others found, with the status of VEX, support period and
// OSPS Baseline from the verified documents.
func kindResults(c Component, items map[itemKey]*itemState, opts Options, today, until time.Time) []KindResult {
	kinds := slices.Clone(Kinds)
	for _, it := range c.Items {
		if !slices.Contains(kinds, it.Kind) {
			kinds = append(kinds, it.Kind)
		}
	}
	nodeIndex := make(map[string]int, len(opts.Nodes))
	for n, cl := range opts.Nodes {
		nodeIndex[cl.Name()] = n
	}
	out := make([]KindResult, 0, len(kinds))
	for _, k := range kinds {
		kr := KindResult{Kind: k}
		var docs []Document
		for i := range c.Items {
			it := &c.Items[i]
			if it.Kind != k {
				continue
			}
			kr.Found++
			if it.Verified {
				kr.Verified++
				docs = append(docs, Document{Item: it, Envelope: items[itemKey{nodeIndex[it.Node], it.LogIndex}].envelope})
			}
		}
		var st KindStatus
		switch k {
		case string(evidence.KindVEX):
			st = opts.Status.VEX(c.Purl, docs)
		case string(evidence.KindSupportPeriod):
			st = opts.Status.SupportPeriod(c.Purl, docs, today, until)
		case string(evidence.KindOSPSBaseline):
			st = opts.Status.OSPSBaseline(c.Purl, docs)
		default:
			out = append(out, kr)
			continue
		}
		if len(docs) > 0 {
			kr.Status = &st
		}
		out = append(out, kr)
	}
	return out
}

// evaluate sets a component's requirement status. unasked names the nodes
// that could not be asked about it.
func evaluate(c *Component, req *Requirements, unasked []string, until time.Time) {
	if len(unasked) > 0 {
		c.Unchecked = append(c.Unchecked, "no answer from "+strings.Join(unasked, ", "))
	}
	if req == nil || len(req.Require) == 0 || c.Primary || c.Ignored {
		return
	}
	verified := func(kind string) (int, *KindStatus) {
		n := 0
		var st *KindStatus
		for _, kr := range c.Kinds {
			if kind == RequireAny || kr.Kind == kind {
				n += kr.Verified
				if kr.Kind == kind {
					st = kr.Status
				}
			}
		}
		return n, st
	}
	var unresolved []string
	for _, k := range req.Require {
		n, st := verified(k)
		switch {
		case n == 0:
			c.Failures = append(c.Failures, k)
		case k == string(evidence.KindSupportPeriod) && st != nil && st.Resolved:
			if st.CoversToday != nil && !*st.CoversToday {
				c.Failures = append(c.Failures, k+" (does not cover today)")
			} else if !until.IsZero() && st.CoversUntil != nil && !*st.CoversUntil {
				c.Failures = append(c.Failures, k+" (does not cover "+until.Format(time.DateOnly)+")")
			}
		case k == string(evidence.KindSupportPeriod) && !until.IsZero():
			// Asked about a date, and the documents' answer is not
			// resolved: that is not a yes.
			unresolved = append(unresolved, fmt.Sprintf("%s: whether it covers %s is not resolved by this version", k, until.Format(time.DateOnly)))
		}
	}
	c.Unchecked = append(c.Unchecked, unresolved...)
	switch {
	case len(c.Failures) > 0 && len(unasked) > 0, len(unresolved) > 0:
		c.Status = StatusCouldNotCheck
	case len(c.Failures) > 0:
		c.Status = StatusNotMet
	default:
		c.Status = StatusMet
	}
}

func summarize(rep *Report) {
	s := &rep.Summary
	s.Components = len(rep.Components)
	seen := make(map[ItemRef]bool)
	couldNot, notMet := false, false
	for _, c := range rep.Components {
		if c.Primary {
			s.Primary++
		}
		if c.NoEvidence {
			s.WithoutEvidence++
		} else {
			s.WithEvidence++
		}
		if c.Purl == "" {
			s.WithoutPurl++
		}
		if c.MatchedBy == "hash" {
			s.MatchedByHash++
		}
		switch c.Status {
		case StatusNotMet:
			s.Failing++
			notMet = true
		case StatusCouldNotCheck:
			s.Unchecked++
			couldNot = true
		}
		if !gated(rep) && len(c.Unchecked) > 0 {
			couldNot = true
		}
		for _, it := range c.Items {
			r := ItemRef{it.Node, it.LogIndex}
			if seen[r] {
				continue
			}
			seen[r] = true
			s.Items++
			if it.Verified {
				s.VerifiedItems++
			} else {
				s.FailedItems++
			}
		}
	}
	// With requirements, each component's status decides (a node that
	// could not be asked matters where the others' evidence falls short);
	// without, anything unasked or failed does.
	for _, n := range rep.Nodes {
		if n.Error != "" && !gated(rep) {
			couldNot = true
		}
	}
	switch {
	case couldNot:
		rep.Status = StatusCouldNotCheck
	case notMet, !gated(rep) && s.FailedItems > 0:
		rep.Status = StatusNotMet
	default:
		rep.Status = StatusMet
	}
}

func gated(rep *Report) bool { return rep.Requirements != nil && len(rep.Requirements.Require) > 0 }
