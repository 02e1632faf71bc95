package evidence

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// The decoders themselves are tested in package jsonscan, against the
// encoding/json-based ones they replaced; these tests are about what
// package evidence adds: field names, and the base64 of DSSE.

// TestJSONErrorsNameTheField: every kind of refusal is a FieldError on the
// field asked about, wrapping ErrMalformed.
func TestJSONErrorsNameTheField(t *testing.T) {
	for _, tt := range []struct {
		name string
		f    func() error
		want string
	}{
		{"object syntax", func() error { _, err := decodeObject([]byte(`{"a":}`), "f", nil, 8); return err }, "is not valid JSON"},
		{"not an object", func() error { _, err := decodeObject([]byte(`[]`), "f", nil, 8); return err }, "must be a JSON object"},
		{"duplicate", func() error { _, err := decodeObject([]byte(`{"a":1,"a":2}`), "f", nil, 8); return err }, `member "a" more than once`},
		{"case variant", func() error { _, err := decodeObject([]byte(`{"A":1}`), "f", []string{"a"}, 8); return err }, `spell it "a"`},
		{"too many members", func() error { _, err := decodeObject([]byte(`{"a":1,"b":2}`), "f", nil, 1); return err }, "more than 1 members"},
		{"array syntax", func() error { _, err := decodeArray([]byte(`[1,]`), "f", 8, ""); return err }, "is not valid JSON"},
		{"too many elements", func() error { _, err := decodeArray([]byte(`[1,2]`), "f", 1, "split it"); return err }, "more than 1 elements; split it"},
		{"not a string", func() error { _, err := decodeString([]byte(`1`), "f"); return err }, "must be a JSON string"},
		{"lone surrogate", func() error { _, err := decodeString([]byte(`"\ud800"`), "f"); return err }, "U+FFFD"},
		{"bad base64", func() error { _, err := decodeBase64([]byte(`"A"`), "f", 8); return err }, "base64"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantFieldError(t, tt.f(), "f", tt.want)
		})
	}
}

func TestJSONDecoderAllocs(t *testing.T) {
	envelope := []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"AAAA"}]}`)
	plain := []byte(`"pkg:pypi/requests@2.32.3"`)
	array := []byte(`[1,{"a":[]},"x"]`)
	b64 := []byte(`"` + strings.Repeat("AAAA", 100) + `"`)
	for _, tt := range []struct {
		name string
		max  float64
		f    func() error
	}{
		// The two slices of names and values; names the caller knows,
		// and the values, are not copied.
		{"decodeObject", 2, func() error { _, err := decodeObject(envelope, "f", envelopeMembers, 64); return err }},
		{"decodeArray", 1, func() error { _, err := decodeArray(array, "f", 16, ""); return err }},
		{"decodeString", 1, func() error { _, err := decodeString(plain, "f"); return err }},
		{"decodeBase64", 1, func() error { _, err := decodeBase64(b64, "f", 1000); return err }},
	} {
		if err := tt.f(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if n := testing.AllocsPerRun(100, func() { _ = tt.f() }); n > tt.max {
			t.Errorf("%s makes %v allocations; want at most %v", tt.name, n, tt.max)
		}
	}
}

// oldDecodeBase64 is the decodeBase64 that the scanner-based one replaced,
// unchanged but for its name, and for taking the string from decodeString:
// package jsonscan checks that against the old string decoder.
func oldDecodeBase64(raw json.RawMessage, field string, max int) ([]byte, error) {
	s, err := decodeString(raw, field)
	if err != nil {
		return nil, err
	}
	if base64.StdEncoding.DecodedLen(len(s)) > max {
		return nil, fieldErr(field, "decodes to more than %d bytes", max)
	}
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if strings.ContainsAny(s, "\r\n") {
		return nil, fieldErr(field, "must be base64 without line breaks")
	}
	b, err := enc.Strict().DecodeString(s)
	if err != nil {
		return nil, fieldErr(field, "is not padded standard or URL-safe base64 (%v)", err)
	}
	return b, nil
}

// FuzzDecodeBase64Differential checks that decodeBase64 agrees with the one
// it replaced, on the input and on the values of the objects and arrays in
// it, down to depth 3 (as FuzzJSONScanDifferential in package jsonscan
// reaches them).
func FuzzDecodeBase64Differential(f *testing.F) {
	for _, s := range []string{`"e30="`, `"e30"`, `"e3-_"`, `"e3+/"`, `"e30=\n"`, `"e3\r\n0="`, `"e3\u0030="`, `"AB=="`, `"AC=="`, `""`, `"` + strings.Repeat("A", 100) + `"`, `null`, `1`} {
		f.Add([]byte(s))
	}
	f.Add(typicalStatement(f))
	f.Add(signedEnvelope(f, PayloadTypeInToto, typicalStatement(f), testKey(1), testKey(2)))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkBase64Differential(t, data, 0)
	})
}

func checkBase64Differential(t *testing.T, data []byte, depth int) {
	t.Helper()
	b, err := decodeBase64(data, "f", 64)
	oldB, oldErr := oldDecodeBase64(data, "f", 64)
	var fe *FieldError
	switch {
	case err != nil && (!errors.As(err, &fe) || fe.Field != "f"):
		t.Fatalf("decodeBase64(%q): error %v is not a FieldError on field f", data, err)
	case (err == nil) != (oldErr == nil):
		t.Fatalf("decodeBase64(%q) = %q, %v; old decoder: %q, %v", data, b, err, oldB, oldErr)
	case err == nil && !bytes.Equal(b, oldB):
		t.Fatalf("decodeBase64(%q) = %q; old decoder: %q", data, b, oldB)
	case err != nil && err.Error() != oldErr.Error():
		t.Fatalf("decodeBase64(%q): error %q; old decoder: %q", data, err, oldErr)
	}
	if depth == 3 {
		return
	}
	var next []json.RawMessage
	if m, err := decodeObject(data, "f", nil, 1024); err == nil {
		next = m.Values
	} else if elems, err := decodeArray(data, "f", 1024, ""); err == nil {
		next = elems
	}
	for _, raw := range next {
		checkBase64Differential(t, raw, depth+1)
	}
}
