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

// Fixed keys, so that the notes the tests sign are the same in every run,
// as fuzz seeds should be. Test keys only: their private halves are here.
const (
	logSKey   = "PRIVATE+KEY+example.com/behind-the-sofa+252b74d2+AQcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH"
	logVKey   = "example.com/behind-the-sofa+252b74d2+AepKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIs"
	otherSKey = "PRIVATE+KEY+example.com/other+a6b472cd+AQgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI"
	otherVKey = "example.com/other+a6b472cd+AROY9ixtGkV8UbpqS189vS9p/KkyFiGNyJl+QWvRfZPK"
)

func mustSigner(tb testing.TB, skey string) note.Signer {
	s, err := note.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func mustVerifier(tb testing.TB, vkey string) note.Verifier {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func sign(t testing.TB, text string, signers ...note.Signer) []byte {
	t.Helper()
	b, err := note.Sign(&note.Note{Text: text}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wellFormedSig is a signature line note.Open can parse (a key hash and a
// byte of signature) that no key made.
const wellFormedSig = "— example.com/behind-the-sofa AAAAAAA=\n"

func TestPeek(t *testing.T) {
	s := mustSigner(t, logSKey)
	for _, signed := range [][]byte{
		[]byte(example + "\n" + wellFormedSig),
		sign(t, example, s),
	} {
		c, err := Peek(signed)
		if err != nil || c.Size != 20852163 || c.Origin != "example.com/behind-the-sofa" {
			t.Fatalf("Peek(%q) = %v, %v", signed, c, err)
		}
	}
	for _, bad := range []string{
		example,                           // no signatures
		"",                                // nothing
		example + "\n",                    // a blank line, then no signature
		example + "\n— o AAAA\n",          // a signature too short to hold a key hash
		example + "\n— o AAAAAAA=",        // no final newline
		"x\n\n" + wellFormedSig,           // a note, but not a checkpoint
		"o\n01\nAA==\n\n" + wellFormedSig, // a malformed checkpoint
		"o\x01\n1\n\n" + wellFormedSig,    // a control character
	} {
		if _, err := Peek([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("Peek(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestOpen(t *testing.T) {
	s, v, vOther := mustSigner(t, logSKey), mustVerifier(t, logVKey), mustVerifier(t, otherVKey)
	signed := sign(t, example, s)
	c, err := Open(signed, note.VerifierList(v))
	if err != nil || c.Size != 20852163 || c.Origin != "example.com/behind-the-sofa" {
		t.Fatalf("Open = %v, %v", c, err)
	}
	// Signatures by unknown keys are ignored, but one known key must sign.
	if _, err := Open(append(signed, wellFormedSig...), note.VerifierList(v)); err != nil {
		t.Errorf("Open of a note with another, unknown signature: %v", err)
	}
	var unverified *note.UnverifiedNoteError
	if _, err := Open(signed, note.VerifierList(vOther)); !errors.As(err, &unverified) {
		t.Errorf("Open with another key = %v, want an UnverifiedNoteError", err)
	}
	var invalid *note.InvalidSignatureError
	bad := bytes.Replace(signed, []byte("\n20852163\n"), []byte("\n20852164\n"), 1)
	if _, err := Open(bad, note.VerifierList(v)); !errors.As(err, &invalid) {
		t.Errorf("Open of a changed checkpoint = %v, want an InvalidSignatureError", err)
	}
	if _, err := Open([]byte(example), note.VerifierList(v)); err == nil {
		t.Error("Open accepted a checkpoint without signatures")
	}
	// A signed note that is not a checkpoint.
	if _, err := Open(sign(t, "hello\n", s), note.VerifierList(v)); !errors.Is(err, ErrMalformed) {
		t.Errorf("Open of a signed non-checkpoint = %v, want ErrMalformed", err)
	}
}

// FuzzPeek: Peek never panics; what it accepts is a signed note whose text
// is the checkpoint it returns, byte for byte.
func FuzzPeek(f *testing.F) {
	s := mustSigner(f, logSKey)
	f.Add(sign(f, example, s))
	f.Add(sign(f, example+"ext\n", s))
	f.Add([]byte(example + "\n" + wellFormedSig))
	f.Add([]byte(example + "\n" + wellFormedSig + wellFormedSig))
	f.Add([]byte(example))
	f.Add([]byte("\n\n— o AAAAAAA=\n"))
	f.Add([]byte("o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\n— o AAAAAAA=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Peek(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Peek(%q): error %v does not wrap ErrMalformed", b, err)
			}
			return
		}
		text := c.Marshal()
		if !bytes.HasPrefix(b, append(text, '\n')) {
			t.Fatalf("Peek(%q) = %v, whose text does not start the note", b, c)
		}
	})
}

// FuzzOpen: Open never panics, never accepts what Peek refuses, and agrees
// with Peek on what it accepts.
func FuzzOpen(f *testing.F) {
	s, v, sOther := mustSigner(f, logSKey), mustVerifier(f, logVKey), mustSigner(f, otherSKey)
	f.Add(sign(f, example, s))
	f.Add(sign(f, example+"ext\n", s))
	f.Add(sign(f, example, s, sOther))
	f.Add(sign(f, example, sOther))
	f.Add(sign(f, "hello\n", s))
	f.Add(append(sign(f, example, s), wellFormedSig...))
	f.Add([]byte(example + "\n" + wellFormedSig))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Open(b, note.VerifierList(v))
		peeked, perr := Peek(b)
		if err != nil {
			return
		}
		if perr != nil {
			t.Fatalf("Open(%q) accepted what Peek refuses: %v", b, perr)
		}
		if !cmp.Equal(c, peeked) {
			t.Fatalf("Open(%q) = %v; Peek = %v", b, c, peeked)
		}
	})
}
