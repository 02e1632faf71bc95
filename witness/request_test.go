package witness_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/evident-dev/evident/witness"
)

// specRequest is the example request body of c2sp.org/tlog-witness.
const specRequest = `old 20852014
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=
`

func TestParseAddCheckpoint(t *testing.T) {
	hash := "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw="
	note := "example.com/log\n1\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\n— k AAAA\n"
	tests := []struct {
		name      string
		body      string
		wantOld   uint64
		wantProof int
		wantNote  string
		wantErr   bool
	}{
		{name: "spec example", body: specRequest, wantOld: 20852014, wantProof: 4,
			wantNote: specRequest[strings.Index(specRequest, "\n\n")+2:]},
		{name: "old 0", body: "old 0\n\n" + note, wantNote: note},
		{name: "max old", body: "old 18446744073709551615\n\n" + note, wantOld: 1<<64 - 1, wantNote: note},
		{name: "63 proof lines", body: "old 1\n" + strings.Repeat(hash+"\n", 63) + "\n" + note, wantOld: 1, wantProof: 63, wantNote: note},

		{name: "empty", body: "", wantErr: true},
		{name: "no newline", body: "old 0", wantErr: true},
		{name: "only old line", body: "old 0\n", wantErr: true},
		{name: "no checkpoint", body: "old 0\n\n", wantErr: true},
		{name: "leading zero", body: "old 01\n\n" + note, wantErr: true},
		{name: "double zero", body: "old 00\n\n" + note, wantErr: true},
		{name: "plus sign", body: "old +1\n\n" + note, wantErr: true},
		{name: "overflow", body: "old 18446744073709551616\n\n" + note, wantErr: true},
		{name: "two spaces", body: "old  1\n\n" + note, wantErr: true},
		{name: "tab", body: "old\t1\n\n" + note, wantErr: true},
		{name: "capitalised", body: "Old 1\n\n" + note, wantErr: true},
		{name: "CRLF", body: "old 1\r\n\r\n" + note, wantErr: true},
		{name: "trailing space", body: "old 1 \n\n" + note, wantErr: true},
		{name: "64 proof lines", body: "old 1\n" + strings.Repeat(hash+"\n", 64) + "\n" + note, wantErr: true},
		{name: "unpadded hash", body: "old 1\n" + strings.TrimSuffix(hash, "=") + "\n\n" + note, wantErr: true},
		{name: "URL-safe base64", body: "old 1\n" + "_6WVhPs2CwSsb5rYBH5cjHV_wSmA79abXAwhXw3Kj_0=" + "\n\n" + note, wantErr: true},
		{name: "non-canonical base64", body: "old 1\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkax=\n\n" + note, wantErr: true},
		{name: "33-byte hash", body: "old 1\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw+AA==\n\n" + note, wantErr: true},
		{name: "hash with space", body: "old 1\n " + hash + "\n\n" + note, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := witness.ParseAddCheckpoint([]byte(tc.body))
			if tc.wantErr {
				if !errors.Is(err, witness.ErrMalformed) {
					t.Fatalf("ParseAddCheckpoint = %+v, %v; want ErrMalformed", r, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := struct {
				Old   uint64
				Proof int
				Note  string
			}{r.OldSize, len(r.Proof), string(r.Checkpoint)}
			want := struct {
				Old   uint64
				Proof int
				Note  string
			}{tc.wantOld, tc.wantProof, tc.wantNote}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
			if m := r.Marshal(); string(m) != tc.body {
				t.Errorf("Marshal = %q, want the input", m)
			}
		})
	}
}

func TestParseAddCheckpointTooLarge(t *testing.T) {
	body := "old 0\n\n" + strings.Repeat("x", witness.MaxBodySize)
	if _, err := witness.ParseAddCheckpoint([]byte(body)); !errors.Is(err, witness.ErrMalformed) {
		t.Errorf("ParseAddCheckpoint(%d bytes) = %v, want ErrMalformed", len(body), err)
	}
}

func FuzzParseAddCheckpoint(f *testing.F) {
	f.Add([]byte(specRequest))
	f.Add([]byte("old 0\n\nx\n"))
	f.Add([]byte("old 1\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\n"))
	f.Add([]byte("old 00\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := witness.ParseAddCheckpoint(body)
		if err != nil {
			if !errors.Is(err, witness.ErrMalformed) {
				t.Errorf("error %v doesn't wrap ErrMalformed", err)
			}
			return
		}
		// Strict: what parses re-marshals to the same bytes.
		if m := r.Marshal(); !bytes.Equal(m, body) {
			t.Errorf("Marshal(Parse(%q)) = %q", body, m)
		}
		if len(r.Proof) > witness.MaxProofLines || len(r.Checkpoint) == 0 {
			t.Errorf("accepted %d proof lines, %d-byte checkpoint", len(r.Proof), len(r.Checkpoint))
		}
		r2, err := witness.ParseAddCheckpoint(r.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(r, r2, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("round trip mismatch:\n%s", diff)
		}
	})
}
