package policy_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/policy"
	"github.com/evident-dev/evident/witness"
)

var cosignTime = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

// keys is a deterministic set of log and witness keys.
type keys struct {
	logSigner map[string]note.Signer
	logVKey   map[string]string
	cosigner  map[string]*witness.Cosigner
}

func newKeys(t testing.TB) *keys {
	k := &keys{logSigner: map[string]note.Signer{}, logVKey: map[string]string{}, cosigner: map[string]*witness.Cosigner{}}
	for _, origin := range []string{"example.com/log", "example.com/log2"} {
		seed := sha256.Sum256([]byte(origin))
		skey, vkey, err := note.GenerateKey(bytes.NewReader(seed[:]), origin)
		if err != nil {
			t.Fatal(err)
		}
		s, err := note.NewSigner(skey)
		if err != nil {
			t.Fatal(err)
		}
		k.logSigner[origin], k.logVKey[origin] = s, vkey
	}
	for _, name := range []string{"X1", "X2", "X3", "Y1", "Y2", "Y3", "Z"} {
		seed := sha256.Sum256([]byte(name))
		c, err := witness.NewCosigner("witness.example/"+name, ed25519.NewKeyFromSeed(seed[:]), func() time.Time { return cosignTime })
		if err != nil {
			t.Fatal(err)
		}
		k.cosigner[name] = c
	}
	return k
}

func (k *keys) vkey(name string) string { return k.cosigner[name].Verifier().VerifierKey() }

// sign returns a checkpoint of origin signed by the log and cosigned by the
// named witnesses.
func (k *keys) sign(t testing.TB, origin string, witnesses ...string) []byte {
	c := checkpoint.Checkpoint{Origin: origin, Size: 42, Hash: sha256.Sum256([]byte(origin))}
	signers := []note.Signer{k.logSigner[origin]}
	for _, w := range witnesses {
		signers = append(signers, k.cosigner[w])
	}
	signed, err := note.Sign(&note.Note{Text: string(c.Marshal())}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// specPolicy is the example policy of c2sp.org/tlog-policy with keys.
func (k *keys) specPolicy() string {
	return fmt.Sprintf(`log %s

witness X1 %s
witness X2 %s
witness X3 %s
group X-witnesses 2 X1 X2 X3

witness Y1 %s
witness Y2 %s
witness Y3 %s
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
`, k.logVKey["example.com/log"], k.vkey("X1"), k.vkey("X2"), k.vkey("X3"), k.vkey("Y1"), k.vkey("Y2"), k.vkey("Y3"))
}

func TestParse(t *testing.T) {
	k := newKeys(t)
	p, err := policy.Parse([]byte(k.specPolicy()))
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		Logs      []string
		Witnesses []string
		Groups    []policy.Group
		Quorum    string
	}
	got := summary{Quorum: p.Quorum, Groups: p.Groups}
	for _, l := range p.Logs {
		got.Logs = append(got.Logs, l.Verifier.Name())
	}
	for _, w := range p.Witnesses {
		got.Witnesses = append(got.Witnesses, w.Name+"="+w.Verifier.Name())
	}
	want := summary{
		Logs: []string{"example.com/log"},
		Witnesses: []string{
			"X1=witness.example/X1", "X2=witness.example/X2", "X3=witness.example/X3",
			"Y1=witness.example/Y1", "Y2=witness.example/Y2", "Y3=witness.example/Y3",
		},
		Groups: []policy.Group{
			{Name: "X-witnesses", Threshold: 2, Members: []string{"X1", "X2", "X3"}},
			{Name: "Y-witnesses", Threshold: 1, Members: []string{"Y1", "Y2", "Y3"}},
			{Name: "X-and-Y", Threshold: 2, Members: []string{"X-witnesses", "Y-witnesses"}},
		},
		Quorum: "X-and-Y",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse mismatch (-want +got):\n%s", diff)
	}
}

func TestParseSyntax(t *testing.T) {
	k := newKeys(t)
	log, x1, x2 := k.logVKey["example.com/log"], k.vkey("X1"), k.vkey("X2")
	ok := []struct{ name, text string }{
		{"quorum none only", "quorum none\n"},
		{"comments and blank lines", "# a policy\n\n   \t\n  # indented comment\nquorum none\n"},
		{"tabs and spaces", "\tlog\t " + log + "  https://log.example/ \t\nquorum   none  \n"},
		{"witness with URL", "witness w " + x1 + " https://w.example/\nquorum w\n"},
		{"lines after quorum", "witness w " + x1 + "\nquorum w\nlog " + log + "\n"},
		{"non-ASCII names", "witness \xe2\x84\xaa " + x1 + "\nwitness K " + x2 + "\ngroup g all K \xe2\x84\xaa\nquorum g\n"},
		{"group of one", "witness w " + x1 + "\ngroup g 1 w\nquorum g\n"},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := policy.Parse([]byte(tc.text)); err != nil {
				t.Errorf("Parse = %v", err)
			}
		})
	}
	bad := []struct {
		name string
		text string
		line int
	}{
		{"empty", "", 0},
		{"no quorum", "log " + log + "\n", 0},
		{"no final newline", "quorum none", 1},
		{"CRLF", "quorum none\r\n", 1},
		{"control character", "# \x00\nquorum none\n", 1},
		{"DEL", "quorum none\n#\x7f\n", 2},
		{"unknown keyword", "quorum none\nlogs " + log + "\n", 2},
		{"keyword case", "Quorum none\n", 1},
		{"inline comment", "quorum none # no witnesses\n", 1},
		{"two quorums", "quorum none\nquorum none\n", 2},
		{"quorum undefined", "quorum w\n", 1},
		{"quorum defined later", "quorum w\nwitness w " + x1 + "\n", 1},
		{"quorum without name", "quorum\n", 1},
		{"log without key", "log\nquorum none\n", 1},
		{"log extra field", "log " + log + " url extra\nquorum none\n", 1},
		{"log bad vkey", "log " + log[:len(log)-4] + "\nquorum none\n", 1},
		{"log with witness key", "log " + x1 + "\nquorum none\n", 1},
		{"duplicate log", "log " + log + "\nlog " + log + "\nquorum none\n", 2},
		{"duplicate log, other name", "log " + log + "\nlog " + renameLogKey(t, k, "example.com/alias") + "\nquorum none\n", 2},
		{"witness with log key", "witness w " + log + "\nquorum none\n", 1},
		{"witness without key", "witness w\nquorum none\n", 1},
		{"witness named none", "witness none " + x1 + "\nquorum none\n", 1},
		{"witness defined twice", "witness w " + x1 + "\nwitness w " + x2 + "\nquorum none\n", 2},
		{"duplicate witness key", "witness a " + x1 + "\nwitness b " + x1 + "\nquorum none\n", 2},
		{"duplicate witness key, other name", "witness a " + x1 + "\nwitness b " + renameWitnessKey(t, k, "X1", "other.example/w") + "\nquorum none\n", 2},
		{"ML-DSA witness key", "witness w " + mldsaKey() + "\nquorum none\n", 1},
		{"group without members", "witness w " + x1 + "\ngroup g any\nquorum none\n", 2},
		{"group named like a witness", "witness w " + x1 + "\ngroup w any w\nquorum none\n", 2},
		{"group named none", "witness w " + x1 + "\ngroup none any w\nquorum none\n", 2},
		{"group member undefined", "witness w " + x1 + "\ngroup g any w v\nquorum none\n", 2},
		{"group member defined later", "group g any w\nwitness w " + x1 + "\nquorum none\n", 1},
		{"group member none", "witness w " + x1 + "\ngroup g any w none\nquorum none\n", 2},
		{"group member twice", "witness w " + x1 + "\ngroup g 1 w w\nquorum none\n", 2},
		{"group refers to itself", "witness w " + x1 + "\ngroup g any w g\nquorum none\n", 2},
		{"threshold 0", "witness w " + x1 + "\ngroup g 0 w\nquorum none\n", 2},
		{"threshold over n", "witness w " + x1 + "\ngroup g 2 w\nquorum none\n", 2},
		{"threshold leading zero", "witness w " + x1 + "\ngroup g 01 w\nquorum none\n", 2},
		{"threshold sign", "witness w " + x1 + "\ngroup g +1 w\nquorum none\n", 2},
		{"threshold word", "witness w " + x1 + "\ngroup g some w\nquorum none\n", 2},
		{"threshold ALL", "witness w " + x1 + "\ngroup g ALL w\nquorum none\n", 2},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			p, err := policy.Parse([]byte(tc.text))
			var perr *policy.ParseError
			if !errors.As(err, &perr) {
				t.Fatalf("Parse = %+v, %v; want a ParseError", p, err)
			}
			if perr.Line != tc.line {
				t.Errorf("error %q is about line %d, want %d", err, perr.Line, tc.line)
			}
		})
	}
}

func renameLogKey(t *testing.T, k *keys, name string) string {
	seed := sha256.Sum256([]byte("example.com/log"))
	_, vkey, err := note.GenerateKey(bytes.NewReader(seed[:]), name)
	if err != nil {
		t.Fatal(err)
	}
	return vkey
}

func renameWitnessKey(t *testing.T, k *keys, w, name string) string {
	v, err := witness.CosignatureVerifierFromKey(name, k.cosigner[w].Verifier().PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return v.VerifierKey()
}

func mldsaKey() string {
	key := append([]byte{0x06}, make([]byte, 1312)...)
	return "w.example+00000000+" + base64.StdEncoding.EncodeToString(key)
}

func TestParseLimits(t *testing.T) {
	var b strings.Builder
	for i := range policy.MaxWitnesses + 1 {
		seed := sha256.Sum256(fmt.Appendf(nil, "w%d", i))
		v, err := witness.CosignatureVerifierFromKey(fmt.Sprintf("w%d", i), ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "witness w%d %s\n", i, v.VerifierKey())
	}
	b.WriteString("quorum none\n")
	var perr *policy.ParseError
	if _, err := policy.Parse([]byte(b.String())); !errors.As(err, &perr) || perr.Line != policy.MaxWitnesses+1 {
		t.Errorf("Parse(%d witnesses) = %v, want an error on line %d", policy.MaxWitnesses+1, err, policy.MaxWitnesses+1)
	}
	if _, err := policy.Parse(bytes.Repeat([]byte("#\n"), policy.MaxSize)); !errors.As(err, &perr) {
		t.Errorf("Parse(huge) = %v, want a ParseError", err)
	}
}

func TestVerify(t *testing.T) {
	k := newKeys(t)
	spec, err := policy.Parse([]byte(k.specPolicy()))
	if err != nil {
		t.Fatal(err)
	}
	twoLogs, err := policy.Parse([]byte(fmt.Sprintf("log %s\nlog %s\nquorum none\n", k.logVKey["example.com/log"], k.logVKey["example.com/log2"])))
	if err != nil {
		t.Fatal(err)
	}
	nested, err := policy.Parse([]byte(fmt.Sprintf(`log %s
witness X1 %s
witness X2 %s
witness Y1 %s
group inner any X1 X2
group outer 2 inner Y1
quorum outer
`, k.logVKey["example.com/log"], k.vkey("X1"), k.vkey("X2"), k.vkey("Y1"))))
	if err != nil {
		t.Fatal(err)
	}
	// misattributed is a checkpoint of log2's origin signed by log's key.
	misattributed := func() []byte {
		c := checkpoint.Checkpoint{Origin: "example.com/log2", Size: 1, Hash: [32]byte{1}}
		signed, err := note.Sign(&note.Note{Text: string(c.Marshal())}, k.logSigner["example.com/log"])
		if err != nil {
			t.Fatal(err)
		}
		return signed
	}()
	// badCosig carries X1's cosignature of another checkpoint.
	badCosig := func() []byte {
		good := k.sign(t, "example.com/log", "X1", "X2", "Y1")
		other := k.sign(t, "example.com/log2", "X1")
		return bytes.Replace(good, sigLine(good, "witness.example/X1"), sigLine(other, "witness.example/X1"), 1)
	}()
	tests := []struct {
		name     string
		p        *policy.WitnessPolicy
		signed   []byte
		cosigned []string
		quorum   bool  // QuorumError expected
		err      error // an error wrapping err expected
		anyErr   bool  // some error expected
	}{
		{name: "quorum met", p: spec, signed: k.sign(t, "example.com/log", "X1", "X3", "Y2"), cosigned: []string{"X1", "X3", "Y2"}},
		{name: "quorum met with extra", p: spec, signed: k.sign(t, "example.com/log", "X1", "X2", "X3", "Y1", "Y2", "Y3", "Z"), cosigned: []string{"X1", "X2", "X3", "Y1", "Y2", "Y3"}},
		{name: "one X short", p: spec, signed: k.sign(t, "example.com/log", "X1", "Y1", "Y2", "Y3"), cosigned: []string{"X1", "Y1", "Y2", "Y3"}, quorum: true},
		{name: "no Y", p: spec, signed: k.sign(t, "example.com/log", "X1", "X2", "X3"), cosigned: []string{"X1", "X2", "X3"}, quorum: true},
		{name: "unknown witnesses don't count", p: spec, signed: k.sign(t, "example.com/log", "X1", "Z", "Y1"), cosigned: []string{"X1", "Y1"}, quorum: true},
		{name: "no cosignatures", p: spec, signed: k.sign(t, "example.com/log"), quorum: true},
		{name: "quorum none", p: twoLogs, signed: k.sign(t, "example.com/log2")},
		{name: "nested groups", p: nested, signed: k.sign(t, "example.com/log", "X2", "Y1"), cosigned: []string{"X2", "Y1"}},
		{name: "nested groups short", p: nested, signed: k.sign(t, "example.com/log", "X1", "X2"), cosigned: []string{"X1", "X2"}, quorum: true},
		{name: "unknown log", p: spec, signed: k.sign(t, "example.com/log2", "X1", "X2", "Y1"), err: policy.ErrUnknownLog},
		{name: "log key for another origin", p: twoLogs, signed: misattributed, err: policy.ErrUnknownLog},
		{name: "invalid cosignature", p: spec, signed: badCosig, anyErr: true},
		{name: "not a note", p: spec, signed: []byte("example.com/log\n1\n"), err: policy.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.p.Verify(tc.signed)
			var qerr *policy.QuorumError
			switch {
			case tc.quorum:
				if !errors.As(err, &qerr) {
					t.Fatalf("Verify = %v, want a QuorumError", err)
				}
				if diff := cmp.Diff(tc.cosigned, qerr.Cosigned, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("QuorumError.Cosigned mismatch (-want +got):\n%s", diff)
				}
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Errorf("Verify = %v, want %v", err, tc.err)
				}
			case tc.anyErr:
				if err == nil {
					t.Error("Verify succeeded")
				}
			default:
				if err != nil {
					t.Fatalf("Verify = %v", err)
				}
				if diff := cmp.Diff(tc.cosigned, r.Cosigned, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("Cosigned mismatch (-want +got):\n%s", diff)
				}
				for _, w := range r.Cosigned {
					if !r.Times[w].Equal(cosignTime) {
						t.Errorf("time of %s = %v, want %v", w, r.Times[w], cosignTime)
					}
				}
				if r.Checkpoint.Size != 42 {
					t.Errorf("checkpoint size %d", r.Checkpoint.Size)
				}
			}
		})
	}
}

// sigLine returns the signature line of key name in a signed note.
func sigLine(signed []byte, name string) []byte {
	i := bytes.Index(signed, []byte("— "+name+" "))
	j := bytes.IndexByte(signed[i:], '\n')
	return signed[i : i+j+1]
}

func FuzzParse(f *testing.F) {
	k := newKeys(f)
	f.Add([]byte(k.specPolicy()))
	f.Add([]byte("quorum none\n"))
	f.Add([]byte("witness w " + k.vkey("X1") + "\ngroup g 1 w\ngroup h all g w\nquorum h\n"))
	f.Add([]byte("# comment\n\tlog " + k.logVKey["example.com/log"] + " https://x\nquorum none\n"))
	signed := k.sign(f, "example.com/log", "X1", "X2", "Y1")
	f.Fuzz(func(t *testing.T, text []byte) {
		p, err := policy.Parse(text)
		if err != nil {
			var perr *policy.ParseError
			if !errors.As(err, &perr) {
				t.Errorf("Parse error %v is not a ParseError", err)
			}
			return
		}
		if p.Quorum == "" {
			t.Error("policy without a quorum")
		}
		for _, g := range p.Groups {
			if g.Threshold < 1 || g.Threshold > len(g.Members) {
				t.Errorf("group %q: threshold %d of %d members", g.Name, g.Threshold, len(g.Members))
			}
		}
		// Evaluating must not panic, whatever the policy.
		p.Verify(signed)
	})
}
