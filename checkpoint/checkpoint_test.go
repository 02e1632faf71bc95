package checkpoint

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"
)

const example = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		want *Checkpoint // nil: must fail
	}{
		{"spec example", example, &Checkpoint{Origin: "example.com/behind-the-sofa", Size: 20852163, Hash: mustHash("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")}},
		{"empty tree", "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", &Checkpoint{Origin: "o", Size: 0, Hash: mustHash("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")}},
		{"extension lines", example + "ext one\next two\n", &Checkpoint{Origin: "example.com/behind-the-sofa", Size: 20852163, Hash: mustHash("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="), Extensions: []string{"ext one", "ext two"}}},
		{"no final newline", strings.TrimSuffix(example, "\n"), nil},
		{"two lines", "o\n1\n", nil},
		{"empty origin", "\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", nil},
		{"leading zero", "o\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", nil},
		{"signed size", "o\n+1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", nil},
		{"size overflow", "o\n18446744073709551616\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", nil},
		{"short hash", "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2=\n", nil},
		{"unpadded hash", "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n", nil},
		{"url-safe hash", "o\n1\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n", nil},
		{"empty extension", example + "\n", nil},
		{"control character", "o\x01\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", nil},
		{"CRLF", "o\r\n1\r\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\r\n", nil},
		{"not UTF-8", "o\xff\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", nil},
		{"too large", "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n" + strings.Repeat("x", MaxBodySize) + "\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.text))
			if tc.want == nil {
				if err == nil {
					t.Fatalf("parsed %q", tc.text)
				}
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("error %v does not wrap ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(*tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			if m := got.Marshal(); string(m) != tc.text {
				t.Errorf("Marshal = %q, want %q", m, tc.text)
			}
		})
	}
}

// TestSignedNote checks the body round-trips through x/mod's note signing,
// as the ledger and clients use it.
func TestSignedNote(t *testing.T) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "example.com/log")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	c := Checkpoint{Origin: "example.com/log", Size: 42, Hash: [32]byte{1, 2, 3}}
	signed, err := note.Sign(&note.Note{Text: string(c.Marshal())}, s)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse([]byte(n.Text))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	// A flipped byte in the body no longer verifies.
	bad := bytes.Replace(signed, []byte("\n42\n"), []byte("\n43\n"), 1)
	if _, err := note.Open(bad, note.VerifierList(v)); err == nil {
		t.Error("a changed checkpoint still verifies")
	}
}

// FuzzParse: Parse never panics, and what it accepts re-marshals to the
// same bytes and parses again to the same value.
func FuzzParse(f *testing.F) {
	f.Add([]byte(example))
	f.Add([]byte(example + "ext\n"))
	f.Add([]byte("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"))
	f.Add([]byte("o\n01\nAA==\n"))
	f.Add([]byte("\n\n\n"))
	f.Add([]byte("o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n— o sig\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			return
		}
		m := c.Marshal()
		if !bytes.Equal(m, b) {
			t.Fatalf("Parse(%q) re-marshals to %q", b, m)
		}
		c2, err := Parse(m)
		if err != nil || !cmp.Equal(c, c2) {
			t.Fatalf("round trip: %v, %v", c2, err)
		}
	})
}

func mustHash(s string) [32]byte {
	var h [32]byte
	c, err := Parse([]byte("o\n1\n" + s + "\n"))
	if err != nil {
		panic(err)
	}
	copy(h[:], c.Hash[:])
	return h
}

func TestFromNote(t *testing.T) {
	c, err := FromNote([]byte(example + "\n— example.com/behind-the-sofa AAAA\n"))
	if err != nil || c.Size != 20852163 {
		t.Fatalf("FromNote = %v, %v", c, err)
	}
	for _, bad := range []string{example, "", "x\n\n— sig\n"} {
		if _, err := FromNote([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("FromNote(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}
