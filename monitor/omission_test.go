package monitor_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/mirror/mirrortest"
	"github.com/evident-dev/evident/monitor"
)

var update = flag.Bool("update", false, "rewrite testdata/omission-v1.txt and its key")

// entryV1 is the specification's fuller example entry: two log4j-core
// artifacts of one release and an npm package.
func entryV1(t testing.TB) []byte {
	b, err := os.ReadFile(filepath.Join("..", "evidence", "testdata", "entry-v2.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixedKey returns a log key made from a fixed seed, so that the golden
// file's key never changes.
func fixedKey(t testing.TB) (note.Signer, note.Verifier) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	skey, vkey, err := note.GenerateKey(bytes.NewReader(priv.Seed()), "example.org/evident/omission-test")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	return s, v
}

// newOmission returns a valid omission of the entry-v2 entry, at index 1 of
// a log of three entries, from the answer to q.
func newOmission(t testing.TB, q monitor.Query) (*monitor.Omission, note.Verifier, note.Signer) {
	t.Helper()
	s, v := fixedKey(t)
	lg := mirrortest.NewLogWithKey(t, s, v, "other")
	lg.Append(t, []byte("an entry that isn't evidence"), entryV1(t), []byte("another one"))
	cp, size := lg.Ledger.Checkpoint()
	p, err := lg.Ledger.InclusionProof(bg, 1, size)
	if err != nil {
		t.Fatal(err)
	}
	return &monitor.Omission{Query: q, Index: 1, Entry: entryV1(t), Proof: p, Checkpoint: cp}, v, s
}

var release = monitor.Query{Kind: monitor.QueryRelease, Key: "pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1"}

func TestOmissionGolden(t *testing.T) {
	golden, key := filepath.Join("testdata", "omission-v1.txt"), filepath.Join("testdata", "omission-v1.vkey")
	if *update {
		o, v, _ := newOmission(t, release)
		b, err := o.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(key, []byte(vkeyOf(t, v)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		t.Fatal(err)
	}
	o, err := monitor.VerifyOmission(b, v)
	if err != nil {
		t.Fatal(err)
	}
	again, err := o.Marshal()
	if err != nil || !bytes.Equal(again, b) {
		t.Errorf("the golden file doesn't re-encode to itself (%v)", err)
	}
}

func vkeyOf(t testing.TB, v note.Verifier) string {
	_, vkey, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, ed25519.SeedSize)), v.Name())
	if err != nil {
		t.Fatal(err)
	}
	return vkey
}

func ExampleVerifyOmission() {
	b, _ := os.ReadFile("testdata/omission-v1.txt")
	vkey, _ := os.ReadFile("testdata/omission-v1.vkey")
	logKey, _ := note.NewVerifier(strings.TrimSpace(string(vkey)))
	o, err := monitor.VerifyOmission(b, logKey)
	if err != nil {
		fmt.Println("doesn't verify:", err)
		return
	}
	fmt.Printf("the answer to %s left out entry %d\n", o.Query, o.Index)
	// Output: the answer to release_purl pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1 left out entry 1
}

func TestVerifyOmission(t *testing.T) {
	o, v, s := newOmission(t, release)
	_, otherKey := mirrortest.NewLogKey(t, v.Name())
	otherSigner, _ := mirrortest.NewLogKey(t, v.Name())
	for _, tc := range []struct {
		name string
		edit func(o *monitor.Omission)
		key  note.Verifier
		want error // nil, or the error wrapped
	}{
		{"release", func(o *monitor.Omission) {}, v, nil},
		{"package", func(o *monitor.Omission) {
			o.Query = monitor.Query{Kind: monitor.QueryPackage, Key: "pkg:maven/org.apache.logging.log4j/log4j-core"}
		}, v, nil},
		{"npm release", func(o *monitor.Omission) {
			o.Query = monitor.Query{Kind: monitor.QueryRelease, Key: "pkg:npm/%40angular/core@17.0.0"}
		}, v, nil},
		{"digest", func(o *monitor.Omission) {
			o.Query = monitor.Query{Kind: monitor.QueryDigest, Key: "sha256:a04364153139243f3f24fc040e5e695490539d9be57d5b00db16ff7332ba249c"}
		}, v, nil},
		{"predicate type", func(o *monitor.Omission) {
			o.Query = monitor.Query{Kind: monitor.QueryPredicate, Key: "https://evident.dev/attestation/document/v1"}
		}, v, nil},
		{"another log's key", func(o *monitor.Omission) {}, otherKey, monitor.ErrNotOmission},
		{"signed by another key", func(o *monitor.Omission) {
			text, _, _ := bytes.Cut(o.Checkpoint, []byte("\n\n"))
			o.Checkpoint, _ = note.Sign(&note.Note{Text: string(text) + "\n"}, otherSigner)
		}, v, monitor.ErrNotOmission},
		{"another release", func(o *monitor.Omission) {
			o.Query.Key = "pkg:maven/org.apache.logging.log4j/log4j-core@2.24.2"
		}, v, monitor.ErrNotOmission},
		{"release with qualifiers", func(o *monitor.Omission) {
			o.Query.Key = "pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1?type=jar"
		}, v, monitor.ErrNotOmission},
		{"another predicate type", func(o *monitor.Omission) {
			o.Query = monitor.Query{Kind: monitor.QueryPredicate, Key: "https://spdx.dev/Document/v2.3"}
		}, v, monitor.ErrNotOmission},
		{"another index", func(o *monitor.Omission) { o.Index = 2 }, v, monitor.ErrNotOmission},
		{"another entry", func(o *monitor.Omission) { o.Entry = bytes.Replace(o.Entry, []byte("17.0.0"), []byte("17.0.1"), 1) }, v, monitor.ErrNotOmission},
		{"a wrong proof", func(o *monitor.Omission) { o.Proof[0] = bytes.Repeat([]byte{1}, 32) }, v, monitor.ErrNotOmission},
		{"a short proof", func(o *monitor.Omission) { o.Proof = o.Proof[:1] }, v, monitor.ErrNotOmission},
		{"a non-evidence entry", func(o *monitor.Omission) {
			o.Index, o.Entry = 0, []byte("an entry that isn't evidence")
			lg := mirrortest.NewLogWithKey(t, s, v, "x")
			lg.Append(t, o.Entry, entryV1(t), []byte("another one"))
			o.Proof, _ = lg.Ledger.InclusionProof(bg, 0, 3)
		}, v, monitor.ErrNotOmission},
		{"index beyond the tree", func(o *monitor.Omission) { o.Index = 3 }, v, monitor.ErrMalformedOmission},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := *o
			c.Proof = append([][]byte(nil), o.Proof...)
			tc.edit(&c)
			b, err := marshalUnchecked(&c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := monitor.VerifyOmission(b, tc.key)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("VerifyOmission = %v", err)
			case tc.want == nil:
				if diff := cmp.Diff(&c, got); diff != "" {
					t.Errorf("VerifyOmission returned (-want +got):\n%s", diff)
				}
			case !errors.Is(err, tc.want):
				t.Fatalf("VerifyOmission = %v, want %v", err, tc.want)
			}
		})
	}
}

// marshalUnchecked encodes o as Marshal does, also when Marshal would
// refuse to.
func marshalUnchecked(o *monitor.Omission) ([]byte, error) {
	if b, err := o.Marshal(); err == nil {
		return b, nil
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "evident.dev/omission/v1\nquery %s %s\nindex %d\nentry %s\n", o.Query.Kind, o.Query.Key, o.Index, b64(o.Entry))
	for _, h := range o.Proof {
		fmt.Fprintf(&b, "proof %s\n", b64(h))
	}
	fmt.Fprintf(&b, "checkpoint %d\n%s", len(o.Checkpoint), o.Checkpoint)
	return b.Bytes(), nil
}

func TestParseOmissionErrors(t *testing.T) {
	o, _, _ := newOmission(t, release)
	good, err := o.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := monitor.ParseOmission(good); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(good), "\n")
	cpAt := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "checkpoint ") {
			cpAt = i
			break
		}
	}
	replace := func(i int, with string) string {
		ls := append([]string(nil), lines...)
		ls[i] = with
		return strings.Join(ls, "")
	}
	for _, tc := range []struct{ name, file string }{
		{"empty", ""},
		{"header", replace(0, "evident.dev/omission/v2\n")},
		{"no query", replace(1, "")},
		{"unknown kind", replace(1, "query signer ed25519:00\n")},
		{"key with a space", replace(1, "query release_purl pkg:a/b@1 x\n")},
		{"no key", replace(1, "query release_purl\n")},
		{"index with a leading zero", replace(2, "index 01\n")},
		{"negative index", replace(2, "index -1\n")},
		{"index beyond the tree", replace(2, "index 3\n")},
		{"entry not base64", replace(3, "entry !!!\n")},
		{"empty entry", replace(3, "entry \n")},
		{"entry unpadded", replace(3, strings.TrimRight(lines[3], "=\n")+"\n")},
		{"proof not 32 bytes", replace(4, "proof AAAA\n")},
		{"unknown line", replace(4, "comment hello\n")},
		{"checkpoint length short", replace(cpAt, fmt.Sprintf("checkpoint %d\n", len(o.Checkpoint)-1))},
		{"checkpoint length long", replace(cpAt, fmt.Sprintf("checkpoint %d\n", len(o.Checkpoint)+1))},
		{"checkpoint length leading zero", replace(cpAt, fmt.Sprintf("checkpoint 0%d\n", len(o.Checkpoint)))},
		{"not a note", strings.Join(lines[:cpAt], "") + "checkpoint 6\nhello\n"},
		{"trailing data", string(good) + "x"},
		{"CRLF", strings.ReplaceAll(string(good), "\n", "\r\n")},
		{"too large", string(good) + strings.Repeat("x", monitor.MaxOmissionSize)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := monitor.ParseOmission([]byte(tc.file)); !errors.Is(err, monitor.ErrMalformedOmission) {
				t.Errorf("ParseOmission = %v, want ErrMalformedOmission", err)
			}
		})
	}
}

func FuzzParseOmission(f *testing.F) {
	// Seeds from the golden file, not a live log: fuzzing workers should
	// start fast.
	good, err := os.ReadFile(filepath.Join("testdata", "omission-v1.txt"))
	if err != nil {
		f.Fatal(err)
	}
	vkey, err := os.ReadFile(filepath.Join("testdata", "omission-v1.vkey"))
	if err != nil {
		f.Fatal(err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(bytes.Replace(good, []byte("release_purl"), []byte("package_purl"), 1))
	f.Add([]byte("evident.dev/omission/v1\nquery release_purl pkg:a/b@1\nindex 0\nentry YQ==\ncheckpoint 1\nx"))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := monitor.ParseOmission(b)
		if err != nil {
			if !errors.Is(err, monitor.ErrMalformedOmission) {
				t.Fatalf("ParseOmission error %v doesn't wrap ErrMalformedOmission", err)
			}
			return
		}
		// Strict: what parses re-encodes to the same bytes.
		again, err := o.Marshal()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("ParseOmission accepted a non-canonical file (Marshal: %v)", err)
		}
		monitor.VerifyOmission(b, v) // must not panic
	})
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
