package sigstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sharedSeeds returns the files of intoto/ and sigstore/ in the shared
// corpus, or nothing if it is absent.
func sharedSeeds(f *testing.F) [][]byte {
	dir := filepath.Join("..", "..", "..", "shared", "testdata", "evidence")
	if d := os.Getenv("EVIDENT_TESTDATA"); d != "" {
		dir = d
	}
	var out [][]byte
	for _, sub := range []string{"intoto", "sigstore"} {
		files, _ := filepath.Glob(filepath.Join(dir, sub, "*"))
		for _, name := range files {
			if strings.HasSuffix(name, ".md") {
				continue
			}
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, b)
		}
	}
	return out
}

// FuzzUnwrap checks that no file makes Unwrap or Parse panic, and that the
// bundles Unwrap cuts out are spans of the file.
func FuzzUnwrap(f *testing.F) {
	for _, s := range sharedSeeds(f) {
		f.Add(s)
		if line := bytes.TrimSpace(s); len(line) > 0 && bytes.IndexByte(line, '\n') < 0 {
			f.Add([]byte(`{"attestations":[{"bundle":` + string(line) + `}]}`))
			f.Add([]byte(`{"bundle":` + string(line) + "}\n" + string(line)))
		}
	}
	f.Add([]byte(`{"version":1,"attestation_bundles":[{"publisher":{},"attestations":[{"version":1}]}]}`))
	f.Add([]byte(`{"version":1,"verification_material":{"certificate":"","transparency_entries":[{}]},"envelope":{}}`))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}` + "\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		format, bundles, err := Unwrap(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Unwrap error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if len(bundles) == 0 || len(bundles) > MaxUnwrapped {
			t.Fatalf("Unwrap = %v with %d bundles", format, len(bundles))
		}
		for _, b := range bundles {
			if !format.Converted() && !bytes.Contains(data, b) {
				t.Fatalf("%v: a bundle is not a span of the file", format)
			}
			if _, err := Parse(b); errors.Is(err, errPanic) {
				t.Fatalf("Parse panicked: %v", err)
			}
		}
	})
}

// FuzzVerify checks that no bundle makes Verify panic, and that what it
// accepts is well formed. The seeds are real bundles (checked against
// public-good) and test-CA bundles (checked against their instance).
func FuzzVerify(f *testing.F) {
	ti := newTestInstance(f, false)
	valid := ti.sign(f, testIssuer, testIdentity, testStatement, time.Now().Add(5*time.Minute), nil)
	f.Add(valid)
	for _, s := range sharedSeeds(f) {
		if _, bundles, err := Unwrap(s); err == nil {
			for _, b := range bundles {
				f.Add(b)
			}
		}
	}
	any := []Rule{{Issuer: testIssuer, SANRegexp: ".*"}, {Issuer: githubActions, SANRegexp: ".*"}}
	verifiers := []*Verifier{mustVerifier(f, ti.root, any)}
	pg := filepath.Join("..", "..", "..", "shared", "testdata", "sigstore-roots", "public-good.trusted_root.json")
	if d := os.Getenv("EVIDENT_TESTDATA"); d != "" {
		pg = filepath.Join(d, "..", "sigstore-roots", "public-good.trusted_root.json")
	}
	if root, err := os.ReadFile(pg); err == nil {
		verifiers = append(verifiers, mustVerifier(f, root, any))
	}
	if _, err := verifiers[0].Verify(valid); err != nil {
		f.Fatalf("the valid seed does not verify: %v", err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range verifiers {
			res, err := v.Verify(data)
			if errors.Is(err, errPanic) {
				t.Fatalf("Verify panicked: %v", err)
			}
			if err != nil {
				continue
			}
			if len(res.Payload) == 0 || res.PayloadType != PayloadTypeInToto || len(res.Rules) == 0 ||
				res.SignedAt.IsZero() || len(res.SignerID) > MaxSignerIDLen || strings.Count(res.SignerID, ":") != 2 {
				t.Fatalf("Verify accepted a bundle with result %+v", res)
			}
		}
	})
}
