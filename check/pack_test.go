package check

import (
	"context"
	"strings"
	"testing"

	"github.com/evident-dev/evident/client"
)

func TestPack(t *testing.T) {
	f := world(t)
	opts := options(f, t, nil)
	opts.Requirements = &Requirements{Require: []string{"vex"}}
	res, err := Run(context.Background(), readReal(t, laravelSBOM), opts)
	if err != nil {
		t.Fatal(err)
	}
	data, err := res.Pack().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !IsPack(data) {
		t.Fatal("IsPack is false for a pack")
	}
	vopts := client.VerifyOptions{Policy: f.policy}
	for _, m := range f.Members {
		vopts.LogKeys = append(vopts.LogKeys, verifier(t, m.Keys.VerifierKey))
	}
	parse := func(t *testing.T, data []byte) *Pack {
		t.Helper()
		p, err := ParsePack(data)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	pr, err := VerifyPack(parse(t, data), vopts)
	if err != nil {
		t.Fatalf("VerifyPack: %v", err)
	}
	if len(pr.Items) != 4 || pr.Claims != 4 {
		t.Errorf("%d items, %d claims; want 4 and 4", len(pr.Items), pr.Claims)
	}

	// Each change to what the pack claims is caught.
	tests := []struct {
		name   string
		change func(p *Pack)
		opts   func(o *client.VerifyOptions)
		want   string
	}{
		{"a failed item claimed verified", func(p *Pack) {
			for i := range p.Report.Components {
				for j := range p.Report.Components[i].Items {
					if it := &p.Report.Components[i].Items[j]; !it.Verified {
						it.Verified = true
					}
				}
			}
		}, nil, "claimed verified, but not in the pack"},
		{"an item claimed for another component", func(p *Pack) {
			c := &p.Report.Components[1]
			c.Items = append(c.Items, findComponent(t, p.Report, brickMath).Items[0])
		}, nil, "does not name"},
		{"a kind changed", func(p *Pack) {
			it := &findComponent(t, p.Report, brickMath).Items[0]
			it.Kind = "provenance"
		}, nil, "is of kind"},
		{"counts inflated", func(p *Pack) {
			c := findComponent(t, p.Report, brickMath)
			c.Kinds[0].Verified = 2
		}, nil, "claimed verified"},
		{"another SBOM", func(p *Pack) {
			p.SBOM = append(p.SBOM, ' ')
		}, nil, "not the one the report describes"},
		{"an envelope changed", func(p *Pack) {
			p.Bundle.Items[0].Envelope[10] ^= 1
		}, nil, "envelope"},
		{"without the witnesses", func(*Pack) {}, func(o *client.VerifyOptions) {
			o.Policy = nil
			o.LogKeys = o.LogKeys[1:] // php's log key is not trusted
		}, "checkpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parse(t, data)
			tt.change(p)
			o := vopts
			if tt.opts != nil {
				tt.opts(&o)
			}
			_, err := VerifyPack(p, o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("VerifyPack = %v; want an error with %q", err, tt.want)
			}
		})
	}

	for _, bad := range []string{`{"format":"https://evident.dev/pack/v2"}`, `{"format":"https://evident.dev/pack/v1","extra":1}`, `[]`} {
		if _, err := ParsePack([]byte(bad)); err == nil {
			t.Errorf("ParsePack(%s) succeeded", bad)
		}
	}
}
