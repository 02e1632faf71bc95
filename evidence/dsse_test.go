package evidence

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPAE(t *testing.T) {
	tests := []struct {
		typ, body, want string
	}{
		// The test vector of DSSE protocol.md.
		{"http://example.com/HelloWorld", "hello world", "DSSEv1 29 http://example.com/HelloWorld 11 hello world"},
		{"", "", "DSSEv1 0  0 "},
		{PayloadTypeInToto, "{}", "DSSEv1 28 application/vnd.in-toto+json 2 {}"},
	}
	for _, tt := range tests {
		if got := string(PAE(tt.typ, []byte(tt.body))); got != tt.want {
			t.Errorf("PAE(%q, %q) = %q; want %q", tt.typ, tt.body, got, tt.want)
		}
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	key := testKey(1)
	env, err := Sign(PayloadTypeInToto, []byte(`{"hello":"world"}`), key, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.AddSignature(testKey(2), "custom-id"); err != nil {
		t.Fatal(err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}

	// The JSON has exactly DSSE's shape, with standard base64.
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"payloadType": PayloadTypeInToto,
		"payload":     base64.StdEncoding.EncodeToString([]byte(`{"hello":"world"}`)),
		"signatures": []any{
			map[string]any{"keyid": KeyID(pubOf(key)), "sig": base64.StdEncoding.EncodeToString(env.Signatures[0].Sig)},
			map[string]any{"keyid": "custom-id", "sig": base64.StdEncoding.EncodeToString(env.Signatures[1].Sig)},
		},
	}
	if diff := cmp.Diff(want, raw); diff != "" {
		t.Errorf("envelope JSON mismatch (-want +got):\n%s", diff)
	}

	got, err := ParseEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(env, got); diff != "" {
		t.Errorf("ParseEnvelope(Marshal(e)) mismatch (-want +got):\n%s", diff)
	}

	// json.Unmarshal goes through the strict parser.
	var viaJSON Envelope
	if err := json.Unmarshal(b, &viaJSON); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(env, &viaJSON); diff != "" {
		t.Errorf("json.Unmarshal mismatch (-want +got):\n%s", diff)
	}
	if err := json.Unmarshal([]byte(`{"payloadType":"x"}`), &viaJSON); !errors.Is(err, ErrMalformed) {
		t.Errorf("json.Unmarshal of a bad envelope: %v; want ErrMalformed", err)
	}
}

func TestParseEnvelope(t *testing.T) {
	sig := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 64))
	sigURL := base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 64))
	payload := base64.StdEncoding.EncodeToString([]byte("{}"))
	ok := func(members string) string {
		return `{"payloadType":"application/vnd.in-toto+json","payload":"` + payload + `",` + members + `}`
	}
	valid := []struct {
		name, in string
	}{
		{"standard", ok(`"signatures":[{"keyid":"k","sig":"` + sig + `"}]`)},
		{"url-safe base64", ok(`"signatures":[{"keyid":"k","sig":"` + sigURL + `"}]`)},
		{"no keyid", ok(`"signatures":[{"sig":"` + sig + `"}]`)},
		{"null keyid", ok(`"signatures":[{"keyid":null,"sig":"` + sig + `"}]`)},
		{"white space", " \n" + ok(`"signatures" : [ {"sig":"`+sig+`"} ]`) + "\n"},
		{"max signatures", ok(`"signatures":[` + strings.Repeat(`{"sig":"`+sig+`"},`, MaxSignatures-1) + `{"sig":"` + sig + `"}]`)},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseEnvelope([]byte(tt.in)); err != nil {
				t.Errorf("ParseEnvelope: %v", err)
			}
		})
	}

	invalid := []struct {
		name, in, field, msg string
	}{
		{"empty", ``, "envelope", "not valid JSON"},
		{"not an object", `[]`, "envelope", "must be a JSON object"},
		{"truncated", ok(`"signatures":[{"sig":"` + sig + `"}]`)[:40], "envelope", "not valid JSON"},
		{"trailing data", ok(`"signatures":[{"sig":"`+sig+`"}]`) + `{}`, "envelope", "data after"},
		{"invalid UTF-8", "{\"payloadType\":\"\xff\"}", "envelope", "UTF-8"},
		{"missing payloadType", `{"payload":"` + payload + `","signatures":[{"sig":"` + sig + `"}]}`, "payloadType", "missing"},
		{"empty payloadType", `{"payloadType":"","payload":"` + payload + `","signatures":[{"sig":"` + sig + `"}]}`, "payloadType", "1 to 256"},
		{"payloadType not a string", `{"payloadType":1,"payload":"` + payload + `","signatures":[{"sig":"` + sig + `"}]}`, "payloadType", "string"},
		{"lone surrogate", `{"payloadType":"a\ud800","payload":"` + payload + `","signatures":[{"sig":"` + sig + `"}]}`, "payloadType", "U+FFFD"},
		{"missing payload", `{"payloadType":"t","signatures":[{"sig":"` + sig + `"}]}`, "payload", "missing"},
		{"null payload", `{"payloadType":"t","payload":null,"signatures":[{"sig":"` + sig + `"}]}`, "payload", "missing"},
		{"empty payload", `{"payloadType":"t","payload":"","signatures":[{"sig":"` + sig + `"}]}`, "payload", "empty"},
		{"payload not base64", `{"payloadType":"t","payload":"*&^%","signatures":[{"sig":"` + sig + `"}]}`, "payload", "base64"},
		{"payload unpadded", `{"payloadType":"t","payload":"e30","signatures":[{"sig":"` + sig + `"}]}`, "payload", "base64"},
		{"payload with line break", `{"payloadType":"t","payload":"e3\n0=","signatures":[{"sig":"` + sig + `"}]}`, "payload", "line breaks"},
		{"payload non-zero trailing bits", `{"payloadType":"t","payload":"e31=","signatures":[{"sig":"` + sig + `"}]}`, "payload", "base64"},
		{"missing signatures", ok(`"x":1`)[:len(ok(`"x":1`))-7] + `}`, "signatures", "missing"},
		{"empty signatures", ok(`"signatures":[]`), "signatures", "empty"},
		{"signatures not an array", ok(`"signatures":{}`), "signatures", "array"},
		{"too many signatures", ok(`"signatures":[` + strings.Repeat(`{"sig":"`+sig+`"},`, MaxSignatures) + `{"sig":"` + sig + `"}]`), "signatures", "more than 16"},
		{"signature not an object", ok(`"signatures":["` + sig + `"]`), "signatures[0]", "object"},
		{"missing sig", ok(`"signatures":[{"keyid":"k"}]`), "signatures[0].sig", "missing"},
		{"empty sig", ok(`"signatures":[{"sig":""}]`), "signatures[0].sig", "empty"},
		{"bad sig base64", ok(`"signatures":[{"sig":"` + sig + `"},{"sig":"!!"}]`), "signatures[1].sig", "base64"},
		{"keyid not a string", ok(`"signatures":[{"keyid":7,"sig":"` + sig + `"}]`), "signatures[0].keyid", "string"},
		{"keyid too long", ok(`"signatures":[{"keyid":"` + strings.Repeat("k", 257) + `","sig":"` + sig + `"}]`), "signatures[0].keyid", "longer than 256"},
		{"unknown signature member", ok(`"signatures":[{"sig":"` + sig + `","cert":"x"}]`), "signatures[0]", `unknown member "cert"`},
		{"unknown member", ok(`"signatures":[{"sig":"` + sig + `"}],"extra":1`), "envelope", `unknown member "extra"`},
		{"duplicate member", ok(`"signatures":[{"sig":"` + sig + `"}],"payload":"` + payload + `"`), "envelope", `"payload" more than once`},
		{"duplicate sig", ok(`"signatures":[{"sig":"` + sig + `","sig":"` + sig + `"}]`), "signatures[0]", `"sig" more than once`},
		{"case variant member", ok(`"signatures":[{"sig":"` + sig + `"}],"PayloadType":"x"`), "envelope", `spell it "payloadType"`},
		{"case-folded member", ok(`"signatures":[{"ſig":"` + sig + `"}]`), "signatures[0]", `spell it "sig"`},
		{"sigstore bundle", `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{}}`, "envelope", "Sigstore bundle"},
		{"bare statement", `{"_type":"https://in-toto.io/Statement/v1"}`, "envelope", "bare in-toto statement"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseEnvelope([]byte(tt.in))
			if e != nil {
				t.Errorf("ParseEnvelope returned an envelope with error %v", err)
			}
			wantFieldError(t, err, tt.field, tt.msg)
		})
	}
}

func TestParseEnvelopeTooLarge(t *testing.T) {
	b := make([]byte, MaxEnvelopeSize+1)
	_, err := ParseEnvelope(b)
	wantFieldError(t, err, "envelope", "over the 67108864-byte limit")
}

func TestEnvelopeVerify(t *testing.T) {
	key, other := testKey(1), testKey(2)
	env, err := Sign(PayloadTypeInToto, []byte("payload"), key, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Verify(pubOf(key)); err != nil {
		t.Errorf("Verify with the signing key: %v", err)
	}
	if err := env.Verify(pubOf(other)); !errors.Is(err, ErrUntrustedKey) {
		t.Errorf("Verify with another key: %v; want ErrUntrustedKey", err)
	}

	tampered := *env
	tampered.Payload = []byte("Payload")
	if err := tampered.Verify(pubOf(key)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify of a tampered payload: %v; want ErrBadSignature", err)
	}
	tampered = *env
	tampered.PayloadType = "application/json"
	if err := tampered.Verify(pubOf(key)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify of a tampered payloadType: %v; want ErrBadSignature", err)
	}

	anonymous := *env
	anonymous.Signatures = []Signature{{Sig: env.Signatures[0].Sig}}
	if err := anonymous.Verify(pubOf(key)); err != nil {
		t.Errorf("Verify of a signature without keyid: %v", err)
	}

	if err := env.Verify(nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("Verify(nil): %v; want ErrMalformed", err)
	}
}

func TestSignErrors(t *testing.T) {
	key := testKey(1)
	if _, err := Sign("", []byte("x"), key, ""); !errors.Is(err, ErrMalformed) {
		t.Errorf("empty payloadType: %v", err)
	}
	if _, err := Sign("t", nil, key, ""); !errors.Is(err, ErrMalformed) {
		t.Errorf("empty payload: %v", err)
	}
	if _, err := Sign("t", []byte("x"), key[:10], ""); !errors.Is(err, ErrMalformed) {
		t.Errorf("short key: %v", err)
	}
	env, err := Sign("t", []byte("x"), key, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < MaxSignatures; i++ {
		if err := env.AddSignature(key, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.AddSignature(key, ""); !errors.Is(err, ErrMalformed) {
		t.Errorf("signature %d: %v; want ErrMalformed", MaxSignatures+1, err)
	}
}
