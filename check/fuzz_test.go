package check

import (
	"testing"

	"github.com/evident-dev/evident/client"
)

// FuzzParsePack: a pack is read years later from wherever it was kept;
// ParsePack and VerifyPack take hostile bytes without panicking, and never
// verify what has no log key to verify it with.
func FuzzParsePack(f *testing.F) {
	f.Add([]byte(`{"format":"https://evident.dev/pack/v1","report":{"schema":"https://evident.dev/check-report/v1","time":"2027-01-01T00:00:00Z","status":"met","sbom":{"format":"x","sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0,"components":0},"nodes":[],"summary":{},"components":[]},"sbom":"","bundle":{"format":"https://evident.dev/bundle/v2","items":[]}}`))
	f.Add([]byte(`{"format":"https://evident.dev/pack/v1","report":{"schema":"https://evident.dev/check-report/v1","components":[{"purl":"pkg:pypi/a@1","kinds":[{"kind":"vex","found":1,"verified":1}],"items":[{"kind":"vex","node":"n","log_index":0,"verified":true,"pack_item":0}]}]},"sbom":"e30=","bundle":{"format":"https://evident.dev/bundle/v2","items":[{"envelope":"e30=","entry":"x","proof":"y","signers":[]}]}}`))
	f.Add([]byte(`{"format":"https://evident.dev/bundle/v2","items":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePack(data)
		if err != nil {
			return
		}
		res, err := VerifyPack(p, client.VerifyOptions{})
		if err == nil && res.Claims > 0 {
			t.Errorf("a pack with %d claims verified with no log key", res.Claims)
		}
	})
}
