package check

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/evident-dev/evident/client"
	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/sbom"
)

// PackFormat is the format member of an evidence pack of this version;
// PACK.md specifies the format.
const PackFormat = "https://evident.dev/pack/v1"

// MaxPackSize bounds what ParsePack reads: a bundle's limit and the SBOM.
const MaxPackSize = client.MaxBundleSize + sbom.MaxSize

// Pack is an offline evidence pack: a check report, the SBOM it checked,
// and a bundle of every verified item the report cites.
type Pack struct {
	Report *Report
	SBOM   []byte
	Bundle *client.Bundle
}

type packJSON struct {
	Format string          `json:"format"`
	Report json.RawMessage `json:"report"`
	SBOM   []byte          `json:"sbom"`
	Bundle json.RawMessage `json:"bundle"`
}

// Pack returns the result as an evidence pack.
func (r *Result) Pack() *Pack { return &Pack{Report: r.Report, SBOM: r.SBOM, Bundle: r.Bundle} }

// Marshal returns the file form of p (PACK.md).
func (p *Pack) Marshal() ([]byte, error) {
	rep, err := json.Marshal(p.Report)
	if err != nil {
		return nil, fmt.Errorf("couldn't encode the pack's report: %w", err)
	}
	b, err := p.Bundle.Marshal()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	if err := enc.Encode(packJSON{Format: PackFormat, Report: rep, SBOM: p.SBOM, Bundle: bytes.TrimSpace(b)}); err != nil {
		return nil, fmt.Errorf("couldn't encode the pack: %w", err)
	}
	return buf.Bytes(), nil
}

// ErrMalformedPack is wrapped by every ParsePack error.
var ErrMalformedPack = errors.New("malformed evidence pack")

// IsPack reports whether data looks like an evidence pack (rather than a
// bundle): a JSON object whose format is PackFormat. It reads no further.
func IsPack(data []byte) bool {
	var head struct {
		Format string `json:"format"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	return dec.Decode(&head) == nil && head.Format == PackFormat
}

// ParsePack parses a pack file. It checks the form only: VerifyPack checks
// what the pack claims.
func ParsePack(data []byte) (*Pack, error) {
	if len(data) > MaxPackSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformedPack, len(data), MaxPackSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var j packJSON
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedPack, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the pack", ErrMalformedPack)
	}
	if j.Format != PackFormat {
		return nil, fmt.Errorf("%w: format is %q, want %q", ErrMalformedPack, cutText(j.Format, 100), PackFormat)
	}
	rdec := json.NewDecoder(bytes.NewReader(j.Report))
	rdec.DisallowUnknownFields()
	var rep Report
	if err := rdec.Decode(&rep); err != nil {
		return nil, fmt.Errorf("%w: report: %v", ErrMalformedPack, err)
	}
	if rep.Schema != ReportSchema {
		return nil, fmt.Errorf("%w: the report's schema is %q, want %q", ErrMalformedPack, cutText(rep.Schema, 100), ReportSchema)
	}
	b, err := client.ParseBundle(j.Bundle)
	if err != nil {
		return nil, fmt.Errorf("%w: bundle: %w", ErrMalformedPack, err)
	}
	return &Pack{Report: &rep, SBOM: j.SBOM, Bundle: b}, nil
}

// PackResult is the outcome of VerifyPack.
type PackResult struct {
	// Items are the bundle's items, verified as client.VerifyBundle does.
	Items []client.ItemResult
	// Claims is how many of the report's verified items were checked
	// against the bundle.
	Claims int
	// Problems say what did not verify, each about one item or claim.
	Problems []string
}

// VerifyPack verifies an evidence pack with no network access: every item
// of its bundle (client.VerifyBundle, with opts: the log keys and witness
// policy you trust, never the pack's say-so), that the SBOM is the one the
// report describes, with the same components, and every claim of the
// report that an item verified: the item is in the bundle and verified
// there, and its entry is that log item (origin, index, envelope, kind)
// and names the component (its release, its package for package-level
// evidence, or one of its artifact digests). What the report says failed
// or found nothing is not a claim to check. The error is set when anything
// did not verify; PackResult says what.
func VerifyPack(p *Pack, opts client.VerifyOptions) (*PackResult, error) {
	res := &PackResult{}
	problem := func(format string, args ...any) {
		res.Problems = append(res.Problems, fmt.Sprintf(format, args...))
	}
	if len(p.Bundle.Items) > 0 {
		res.Items, _ = client.VerifyBundle(p.Bundle, opts)
		for _, r := range res.Items {
			if r.Err != nil {
				problem("bundle item %d: %v", r.Item, r.Err)
			}
		}
	}
	rep := p.Report
	sum := sha256.Sum256(p.SBOM)
	if hex.EncodeToString(sum[:]) != rep.SBOM.SHA256 || int64(len(p.SBOM)) != rep.SBOM.Size {
		problem("the SBOM in the pack is not the one the report describes (SHA-256 %x, %d bytes)", sum, len(p.SBOM))
	} else if s, err := sbom.Read(p.SBOM); err != nil {
		problem("the SBOM in the pack: %v", err)
	} else if len(s.Components) != len(rep.Components) {
		problem("the SBOM has %d components, the report %d", len(s.Components), len(rep.Components))
	} else {
		for i, c := range s.Components {
			if rc := rep.Components[i]; rc.Purl != c.Purl || rc.Ref != c.Ref {
				problem("component %d is %s in the SBOM, %s in the report", i, c.Label(), cutText(rc.Purl+rc.Ref, 200))
			}
		}
	}
	for ci, c := range rep.Components {
		for _, it := range c.Items {
			if !it.Verified {
				continue
			}
			res.Claims++
			if err := checkClaim(&c, &it, p, res.Items); err != nil {
				problem("component %d (%s): %s item %d of %s: %v", ci, cutText(c.label(), 200), cutText(it.Kind, 64), it.LogIndex, cutText(it.Node, 64), err)
			}
		}
		for _, kr := range c.Kinds {
			n := 0
			for _, it := range c.Items {
				if it.Kind == kr.Kind && it.Verified {
					n++
				}
			}
			if kr.Verified != n {
				problem("component %d (%s): %d %s items claimed verified, %d listed", ci, cutText(c.label(), 200), kr.Verified, cutText(kr.Kind, 64), n)
			}
		}
	}
	if len(res.Problems) > 0 {
		return res, fmt.Errorf("the evidence pack did not verify: %d problems, the first: %s", len(res.Problems), res.Problems[0])
	}
	return res, nil
}

// checkClaim checks one item the report says verified against the bundle.
func checkClaim(c *Component, it *Item, p *Pack, items []client.ItemResult) error {
	if it.PackItem == nil || *it.PackItem < 0 || *it.PackItem >= len(items) {
		return errors.New("claimed verified, but not in the pack")
	}
	r := items[*it.PackItem]
	if r.Err != nil {
		return fmt.Errorf("its bundle item %d did not verify", *it.PackItem)
	}
	e := r.Entry
	switch {
	case r.Index != it.LogIndex || r.Checkpoint.Origin != it.Origin:
		return fmt.Errorf("its bundle item %d is entry %d of %s", *it.PackItem, r.Index, r.Checkpoint.Origin)
	case hex.EncodeToString(e.EnvelopeDigest[:]) != it.EnvelopeSHA256:
		return fmt.Errorf("its bundle item %d has another envelope", *it.PackItem)
	case string(e.Kind) != it.Kind:
		return fmt.Errorf("its bundle item %d is of kind %s", *it.PackItem, e.Kind)
	}
	if c.Purl != "" {
		p, err := evidence.ParsePurl(c.Purl)
		if err != nil {
			return err
		}
		for _, s := range e.Subjects {
			sp, err := evidence.ParsePurl(s.Purl)
			if err != nil {
				continue
			}
			if p.HasVersion() && sp.Release() == p.Release() || sp.Package() == p.Package() && (!sp.HasVersion() || !p.HasVersion()) {
				return nil
			}
		}
		return fmt.Errorf("its entry does not name %s", c.Purl)
	}
	for _, h := range c.Hashes {
		if slices.Contains(e.Digests(), strings.ToLower(h)) {
			return nil
		}
	}
	return errors.New("its entry names none of the component's digests")
}

// cutText shortens untrusted text for messages.
func cutText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// label names a component for messages: its purl, else its name.
func (c *Component) label() string {
	if c.Purl != "" {
		return c.Purl
	}
	return c.Name + " " + c.Version
}
