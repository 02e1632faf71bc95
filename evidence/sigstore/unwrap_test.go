package sigstore

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

const (
	sigstoreJS = "intoto/cli_cli__sigstore-js-2.1.0-bundle.json"
	reusable   = "sigstore/cli_cli__reusable-workflow-attestation.sigstore.json"
	pep740SLSA = "intoto/trailofbits_pypi-attestations__pypi_attestations-0.0.19.tar.gz.slsa.attestation"
)

// compactJSON returns b without insignificant white space.
func compactJSON(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestUnwrapExactSpans wraps real bundles in the containers npm, GitHub and
// `gh attestation download` write, and checks each bundle comes back as
// the exact bytes put in, white space and all.
func TestUnwrapExactSpans(t *testing.T) {
	js := bytes.TrimSpace(readShared(t, sigstoreJS)) // tab-indented
	rw := bytes.TrimSpace(readShared(t, reusable))   // space-indented
	jsLine := compactJSON(t, js)
	rwLine := compactJSON(t, rw)

	tests := []struct {
		name   string
		file   string
		format Format
		want   [][]byte
	}{
		{
			name: "npm attestations response",
			file: `{"attestations":[` +
				`{"predicateType":"https://slsa.dev/provenance/v1","bundle":` + string(js) + `},` +
				"\n  {\"bundle\" :\t" + string(rw) + ` , "predicateType":"https://github.com/npm/attestation/tree/main/specs/publish/v0.1"}]}` + "\n",
			format: FormatAttestations,
			want:   [][]byte{js, rw},
		},
		{
			name:   "GitHub attestations response",
			file:   `{"attestations":[{"bundle":` + string(rwLine) + `,"repository_id":804070735,"bundle_url":"https://example.com/b"}]}`,
			format: FormatAttestations,
			want:   [][]byte{rwLine},
		},
		{
			name:   "gh attestation download lines",
			file:   `{"bundle":` + string(jsLine) + `,"bundle_url":"https://example.com/1"}` + "\r\n\n" + string(rwLine) + "\n",
			format: FormatBundleLines,
			want:   [][]byte{jsLine, rwLine},
		},
		{
			name:   "one gh attestation download line",
			file:   `{"bundle":` + string(jsLine) + "}\n",
			format: FormatBundleLines,
			want:   [][]byte{jsLine},
		},
		{
			name:   "JSON lines of bundles",
			file:   string(jsLine) + "\n" + string(rwLine),
			format: FormatBundleLines,
			want:   [][]byte{jsLine, rwLine},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			format, got, err := Unwrap([]byte(tt.file))
			if err != nil {
				t.Fatalf("Unwrap: %v", err)
			}
			if format != tt.format {
				t.Errorf("format = %v, want %v", format, tt.format)
			}
			if !cmp.Equal(got, tt.want) {
				t.Errorf("Unwrap returned %d bundles, not the exact spans put in", len(got))
			}
			for _, b := range got {
				if _, err := Parse(b); err != nil {
					t.Errorf("Parse: %v", err)
				}
			}
		})
	}
}

func TestUnwrapPEP740(t *testing.T) {
	data := readShared(t, pep740SLSA)
	format, got, err := Unwrap(data)
	if err != nil || format != FormatPEP740 || len(got) != 1 {
		t.Fatalf("Unwrap = %v, %d bundles, %v", format, len(got), err)
	}
	again, err := convertPEP740Object(t, data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[0], again) {
		t.Errorf("the conversion is not deterministic")
	}

	// The bundle holds what the object holds, as pypi-attestations'
	// to_bundle puts it: v0.3, one certificate, the first entry, a DSSE
	// envelope of the statement with its one signature.
	var obj struct {
		VerificationMaterial struct {
			Certificate         string            `json:"certificate"`
			TransparencyEntries []json.RawMessage `json:"transparency_entries"`
		} `json:"verification_material"`
		Envelope struct {
			Statement string `json:"statement"`
			Signature string `json:"signature"`
		} `json:"envelope"`
	}
	if err := json.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	var pb protobundle.Bundle
	if err := protojson.Unmarshal(got[0], &pb); err != nil {
		t.Fatalf("the converted bundle is not a bundle: %v", err)
	}
	b64 := base64.StdEncoding.EncodeToString
	env := pb.GetDsseEnvelope()
	if pb.GetMediaType() != MediaTypeBundleV03 ||
		b64(pb.GetVerificationMaterial().GetCertificate().GetRawBytes()) != obj.VerificationMaterial.Certificate ||
		b64(env.GetPayload()) != obj.Envelope.Statement ||
		env.GetPayloadType() != PayloadTypeInToto ||
		len(env.GetSignatures()) != 1 || b64(env.GetSignatures()[0].GetSig()) != obj.Envelope.Signature ||
		env.GetSignatures()[0].GetKeyid() != "" {
		t.Errorf("the converted bundle does not hold the object's material:\n%s", got[0])
	}
	entries := pb.GetVerificationMaterial().GetTlogEntries()
	if len(entries) != 1 || !strings.Contains(string(got[0]), string(compactJSON(t, obj.VerificationMaterial.TransparencyEntries[0]))) {
		t.Errorf("the converted bundle does not hold the object's first transparency entry")
	}

	// A provenance file with the object converts to the same bundle.
	prov := `{"version":1,"attestation_bundles":[{"publisher":{"kind":"GitHub","repository":"trailofbits/pypi-attestations","workflow":"release.yml"},"attestations":[` +
		string(data) + `]}]}`
	format, got2, err := Unwrap([]byte(prov))
	if err != nil || format != FormatPyPIProvenance || !cmp.Equal(got2, got) {
		t.Errorf("provenance: Unwrap = %v, %d bundles, %v; want the object's bundle", format, len(got2), err)
	}
}

// convertPEP740Object converts a PEP 740 object by the package's route,
// for a second run.
func convertPEP740Object(t testing.TB, data []byte) ([]byte, error) {
	t.Helper()
	members, err := objectMembers(bytes.TrimSpace(data))
	if err != nil {
		return nil, err
	}
	return convertPEP740(members)
}

func TestUnwrapRefuses(t *testing.T) {
	pep := string(readShared(t, pep740SLSA))
	line := string(compactJSON(t, readShared(t, sigstoreJS)))
	// editPEP returns the PEP 740 object with one member replaced.
	editPEP := func(path string, value string) string {
		var m map[string]any
		if err := json.Unmarshal([]byte(pep), &m); err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal([]byte(value), &v); err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(path, ".")
		obj := m
		for _, p := range parts[:len(parts)-1] {
			obj = obj[p].(map[string]any)
		}
		if value == "null" {
			delete(obj, parts[len(parts)-1])
		} else {
			obj[parts[len(parts)-1]] = v
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name     string
		file     string
		want     error
		contains string
	}{
		{"empty", " \n", ErrNotContainer, "empty"},
		{"bare statement", `{"_type":"https://in-toto.io/Statement/v1","subject":[]}`, ErrNotContainer, "none of"},
		{"array", `[1,2]`, ErrNotContainer, "array"},
		{"not JSON", `{"bundle":`, ErrNotContainer, "line 1"},
		{"trailing data", `{"bundle":{}} x`, ErrNotContainer, "line 1"},
		{"member case", `{"Bundle":{}}`, ErrNotContainer, "none of"},
		{"duplicate member", `{"bundle":{},"bundle":{"mediaType":"x"}}`, ErrMalformed, `member "bundle" twice`},
		{"bundle not an object", `{"bundle":"e30="}`, ErrMalformed, "not a JSON object"},
		{"attestations not an array", `{"attestations":{}}`, ErrMalformed, "not an array"},
		{"attestations empty", `{"attestations":[]}`, ErrMalformed, "empty"},
		{"attestation without bundle", `{"attestations":[{"predicateType":"x"}]}`, ErrMalformed, "attestations[0]: bundle is not a JSON object"},
		{"line not a bundle", line + "\n" + `{"mediaType":"application/json"}`, ErrNotContainer, "line 2"},
		{"too many lines", strings.Repeat(line+"\n", MaxUnwrapped+1), ErrMalformed, "more than 256 bundles"},
		{"PEP 740 version 2", editPEP("version", "2"), ErrMalformed, "PEP 740 defines version 1"},
		{"PEP 740 no envelope", editPEP("envelope", "null"), ErrMalformed, "no envelope"},
		{"PEP 740 bad certificate", editPEP("verification_material.certificate", `"AAAA"`), ErrMalformed, "not an X.509 certificate"},
		{"PEP 740 certificate not base64", editPEP("verification_material.certificate", `"%%%"`), ErrMalformed, "not standard base64"},
		{"PEP 740 no entries", editPEP("verification_material.transparency_entries", `[]`), ErrMalformed, "at least one"},
		{"PEP 740 entry not an entry", editPEP("verification_material.transparency_entries", `[{"x":1}]`), ErrMalformed, "not a transparency-log entry"},
		{"PEP 740 entry without proof", editPEP("verification_material.transparency_entries", `[{"logIndex":"1"}]`), ErrMalformed, "no inclusion proof"},
		{"PEP 740 statement missing", editPEP("envelope.statement", "null"), ErrMalformed, "envelope.statement is missing"},
		{"provenance version 0", `{"version":0,"attestation_bundles":[]}`, ErrMalformed, "version"},
		{"provenance empty", `{"version":1,"attestation_bundles":[]}`, ErrMalformed, "no attestations"},
		{"provenance bad attestation", `{"version":1,"attestation_bundles":[{"publisher":{},"attestations":[` + editPEP("version", "3") + `]}]}`,
			ErrMalformed, "attestation_bundles[0].attestations[0]: sigstore: PEP 740 attestation version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			format, got, err := Unwrap([]byte(tt.file))
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.contains) {
				t.Fatalf("Unwrap = %v, %d bundles, %v; want %v containing %q", format, len(got), err, tt.want, tt.contains)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error does not wrap ErrMalformed")
			}
		})
	}
}

func TestUnwrapTooBig(t *testing.T) {
	_, _, err := Unwrap(make([]byte, MaxBundleSize+1))
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "over the limit") {
		t.Fatalf("Unwrap: %v; want ErrMalformed, over the limit", err)
	}
}

func TestFormatString(t *testing.T) {
	for f := FormatBundle; f <= FormatPyPIProvenance; f++ {
		if strings.HasPrefix(f.String(), "Format(") {
			t.Errorf("Format %d has no name", int(f))
		}
	}
	if got := fmt.Sprint(Format(0)); got != "Format(0)" {
		t.Errorf("Format(0) = %q", got)
	}
}
