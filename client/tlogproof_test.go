package client

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testNote = "example.com/log\n3\nqUKlKOWKj4kxO6PHsdYGkJUWyKSjMrZ4XTi0vDX1MZg=\n\n— example.com/log Az3grmdVTBKbjd5rhuXlqwLcTnsK7VwN8lzQlw8ZxrzrV0S9EJtQlJ2YUgc3HTQAUKRtTU+XbGBwZw0RUO2HH/rqyQQ=\n"

func TestProofRoundTrip(t *testing.T) {
	h := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	tests := []struct {
		name string
		p    Proof
	}{
		{"no hashes", Proof{Index: 0, Checkpoint: []byte(testNote)}},
		{"hashes", Proof{Index: 73894, Hashes: [][]byte{h(1), h(2), h(3)}, Checkpoint: []byte(testNote)}},
		{"extra", Proof{Extra: []byte("age-v1.2.1"), Index: 5, Hashes: [][]byte{h(9)}, Checkpoint: []byte(testNote)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.p.Marshal()
			got, err := ParseProof(b)
			if err != nil {
				t.Fatalf("ParseProof(%q): %v", b, err)
			}
			if diff := cmp.Diff(&tt.p, got); diff != "" {
				t.Errorf("round trip differs (-want +got):\n%s", diff)
			}
			if !bytes.Equal(got.Marshal(), b) {
				t.Errorf("re-marshalled proof differs")
			}
		})
	}
}

func TestProofSpecExample(t *testing.T) {
	// The layout of the example in c2sp.org/tlog-proof (with a complete
	// checkpoint signature line).
	text := "c2sp.org/tlog-proof@v1\n" +
		"extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6\n" +
		"index 73894\n" +
		"gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n" +
		"B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n" +
		"\n" + testNote
	p, err := ParseProof([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if p.Index != 73894 || len(p.Hashes) != 2 || string(p.Extra) != "age-v1.2.1-darwin-arm64.tar.gz" || string(p.Checkpoint) != testNote {
		t.Errorf("parsed %+v", p)
	}
}

func TestParseProofErrors(t *testing.T) {
	const hash = "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
	tests := []struct {
		name, text string
	}{
		{"empty", ""},
		{"wrong header", "c2sp.org/tlog-proof@v2\nindex 1\n\n" + testNote},
		{"no index", "c2sp.org/tlog-proof@v1\n\n" + testNote},
		{"leading zero", "c2sp.org/tlog-proof@v1\nindex 01\n\n" + testNote},
		{"negative index", "c2sp.org/tlog-proof@v1\nindex -1\n\n" + testNote},
		{"bad extra", "c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\n" + testNote},
		{"short hash", "c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\n" + testNote},
		{"unpadded hash", "c2sp.org/tlog-proof@v1\nindex 1\n" + strings.TrimSuffix(hash, "=\n") + "\n\n" + testNote},
		{"no blank line", "c2sp.org/tlog-proof@v1\nindex 1\n" + hash},
		{"no checkpoint", "c2sp.org/tlog-proof@v1\nindex 1\n" + hash + "\n"},
		{"too many hashes", "c2sp.org/tlog-proof@v1\nindex 1\n" + strings.Repeat(hash, 65) + "\n" + testNote},
		{"crlf", "c2sp.org/tlog-proof@v1\r\nindex 1\r\n\r\n" + testNote},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseProof([]byte(tt.text)); !errors.Is(err, ErrMalformedProof) {
				t.Errorf("ParseProof: got %v, want ErrMalformedProof", err)
			}
		})
	}
}

func FuzzParseProof(f *testing.F) {
	f.Add([]byte("c2sp.org/tlog-proof@v1\nindex 0\n\n" + testNote))
	f.Add([]byte("c2sp.org/tlog-proof@v1\nextra AA==\nindex 7\ngSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n\n" + testNote))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProof(b)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Marshal(), b) {
			t.Errorf("ParseProof accepted %q, which re-marshals to %q", b, p.Marshal())
		}
	})
}

func FuzzParseBundle(f *testing.F) {
	f.Add([]byte(`{"format":"https://evident.dev/bundle/v2","items":[{"envelope":"e30=","entry":"x\n","proof":"y","signers":["ed25519:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		bundle, err := ParseBundle(b)
		if err != nil {
			return
		}
		// Whatever parses must verify or fail cleanly, without panicking.
		VerifyBundle(bundle, VerifyOptions{})
	})
}
