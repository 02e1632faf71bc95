package witness_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/witness"
	"github.com/evident-dev/evident/witness/witnesstest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// forkedLogs returns a log and a fork of it (same origin and key) whose
// leaf 3 differs.
func forkedLogs(t testing.TB) (honest, fork *witnesstest.Log) {
	honest = witnesstest.NewLog(t, logOrigin)
	honest.Append(40)
	fork = witnesstest.NewLog(t, logOrigin)
	fork.Append(3)
	fork.AppendData([]byte("rewritten history"))
	fork.Append(36)
	return honest, fork
}

// sampleMisbehaviour returns valid proofs of each kind.
func sampleMisbehaviour(t testing.TB) (forkM, inconsistentM witness.Misbehaviour) {
	honest, fork := forkedLogs(t)
	forkM = witness.Misbehaviour{
		Origin: logOrigin, Reason: witness.ReasonFork,
		A: honest.Checkpoint(10), B: fork.Checkpoint(10),
	}
	inconsistentM = witness.Misbehaviour{
		Origin: logOrigin, Reason: witness.ReasonInconsistent,
		A: honest.Checkpoint(8), B: fork.Checkpoint(20),
		// Built from the fork's tree, as an auditor with its tiles would.
		PrefixRoot: fork.Root(8),
		Proof:      fork.ConsistencyProof(8, 20),
	}
	return forkM, inconsistentM
}

// TestMisbehaviourGolden pins the file encoding: the files in testdata are
// what other implementations parse.
func TestMisbehaviourGolden(t *testing.T) {
	forkM, inconsistentM := sampleMisbehaviour(t)
	for name, m := range map[string]witness.Misbehaviour{"fork": forkM, "inconsistent": inconsistentM} {
		t.Run(name, func(t *testing.T) {
			got, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".misbehaviour")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("encoding changed (-golden +got):\n%s", diff)
			}
			parsed, err := witness.ParseMisbehaviour(want)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(m, parsed, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("parsed golden file mismatch (-want +got):\n%s", diff)
			}
			log, _ := forkedLogs(t)
			if err := witness.VerifyMisbehaviour(parsed, log.Verifier()); err != nil {
				t.Errorf("VerifyMisbehaviour(golden) = %v", err)
			}
		})
	}
}

func TestParseMisbehaviourErrors(t *testing.T) {
	forkM, inconsistentM := sampleMisbehaviour(t)
	good, err := inconsistentM.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	goodFork, err := forkM.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := string(good)
	proofLine := s[strings.Index(s, "proof "):]
	proofLine = proofLine[:strings.Index(proofLine, "\n")+1]
	for _, tc := range []struct {
		name string
		file string
	}{
		{"empty", ""},
		{"wrong header", strings.Replace(s, "evident/misbehaviour/v1", "evident/misbehaviour/v2", 1)},
		{"missing origin", strings.Replace(s, "origin "+logOrigin+"\n", "", 1)},
		{"empty origin", strings.Replace(s, "origin "+logOrigin+"\n", "origin \n", 1)},
		{"other origin", strings.Replace(s, "origin "+logOrigin+"\n", "origin example.com/other\n", 1)},
		{"unknown reason", strings.Replace(s, "reason inconsistent", "reason unkind", 1)},
		{"inconsistent without proof", withoutProof(s)},
		{"inconsistent without prefix root", strings.Replace(s, "prefix-root ", "prefix-rot ", 1)},
		{"bad proof hash", strings.Replace(s, proofLine, "proof AAAA\n", 1)},
		{"65 proof lines", strings.Replace(s, proofLine, strings.Repeat(proofLine, 65), 1)},
		{"fork with proof", strings.Replace(string(goodFork), "reason fork\n", "reason fork\n"+proofLine, 1)},
		{"length too long", strings.Replace(s, "checkpoint ", "checkpoint 9", 1)},
		{"length with leading zero", strings.Replace(s, "checkpoint ", "checkpoint 0", 1)},
		{"trailing data", s + "\n"},
		{"truncated", s[:len(s)-1]},
		{"one checkpoint", s[:strings.LastIndex(s, "checkpoint ")]},
		{"CRLF header", strings.Replace(s, "v1\n", "v1\r\n", 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if m, err := witness.ParseMisbehaviour([]byte(tc.file)); !errors.Is(err, witness.ErrMalformedMisbehaviour) {
				t.Errorf("ParseMisbehaviour = %+v, %v; want ErrMalformedMisbehaviour", m, err)
			}
		})
	}
}

func withoutProof(file string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(file, "\n") {
		if !strings.HasPrefix(l, "proof ") {
			b.WriteString(l)
		}
	}
	return b.String()
}

func TestVerifyMisbehaviour(t *testing.T) {
	honest, fork := forkedLogs(t)
	forkM, inconsistentM := sampleMisbehaviour(t)
	other := witnesstest.NewLog(t, "example.com/other")
	with := func(m witness.Misbehaviour, edit func(*witness.Misbehaviour)) witness.Misbehaviour {
		m.Proof = append([][]byte(nil), m.Proof...)
		edit(&m)
		return m
	}
	cp := func(l *witnesstest.Log, size uint64) checkpoint.Checkpoint {
		return checkpoint.Checkpoint{Origin: logOrigin, Size: size, Hash: l.Root(size)}
	}
	tests := []struct {
		name string
		m    witness.Misbehaviour
		key  note.Verifier
		// wantNot: the error wraps ErrNotMisbehaviour (else: any error).
		ok, wantNot bool
	}{
		{name: "fork", m: forkM, ok: true},
		{name: "fork, reversed", m: with(forkM, func(m *witness.Misbehaviour) { m.A, m.B = m.B, m.A }), ok: true},
		{name: "inconsistent, power of two", m: inconsistentM, ok: true},
		{name: "inconsistent, not a power of two", m: with(inconsistentM, func(m *witness.Misbehaviour) {
			m.A, m.PrefixRoot, m.Proof = honest.Checkpoint(10), fork.Root(10), fork.ConsistencyProof(10, 20)
		}), ok: true},
		{name: "inconsistent, extension lines", m: with(inconsistentM, func(m *witness.Misbehaviour) {
			c := cp(fork, 20)
			c.Extensions = []string{"timestamp 1700000000"}
			m.B = fork.Sign(c)
		}), ok: true},

		{name: "fork, same root", wantNot: true, m: with(forkM, func(m *witness.Misbehaviour) { m.B = honest.Checkpoint(10) })},
		{name: "fork, same root, other extension", wantNot: true, m: with(forkM, func(m *witness.Misbehaviour) {
			c := cp(honest, 10)
			c.Extensions = []string{"note"}
			m.B = honest.Sign(c)
		})},
		{name: "fork, different sizes", wantNot: true, m: with(forkM, func(m *witness.Misbehaviour) { m.B = fork.Checkpoint(11) })},
		{name: "fork with a proof", wantNot: true, m: with(forkM, func(m *witness.Misbehaviour) { m.Proof = fork.ConsistencyProof(5, 10) })},
		{name: "inconsistent, consistent checkpoints", wantNot: true, m: with(inconsistentM, func(m *witness.Misbehaviour) {
			m.B, m.PrefixRoot, m.Proof = honest.Checkpoint(20), honest.Root(8), honest.ConsistencyProof(8, 20)
		})},
		{name: "inconsistent, prefix root of A", wantNot: true, m: with(inconsistentM, func(m *witness.Misbehaviour) {
			m.PrefixRoot = honest.Root(8)
		})},
		{name: "inconsistent, proof misses B's root", wantNot: true, m: with(inconsistentM, func(m *witness.Misbehaviour) {
			m.Proof = flip(m.Proof, 0)
		})},
		{name: "inconsistent, made-up prefix root", wantNot: true, m: with(inconsistentM, func(m *witness.Misbehaviour) {
			m.PrefixRoot[0] ^= 1
		})},
		{name: "inconsistent, A larger", wantNot: true, m: with(inconsistentM, func(m *witness.Misbehaviour) { m.A, m.B = m.B, m.A })},
		{name: "inconsistent, A empty", wantNot: true, m: with(inconsistentM, func(m *witness.Misbehaviour) { m.A = honest.Checkpoint(0) })},
		{name: "unknown reason", wantNot: true, m: with(forkM, func(m *witness.Misbehaviour) { m.Reason = "mood" })},
		{name: "origin mismatch", wantNot: true, m: with(forkM, func(m *witness.Misbehaviour) { m.Origin = "example.com/x" })},

		{name: "other log's key", m: forkM, key: other.Verifier()},
		{name: "A not signed by the log", m: with(forkM, func(m *witness.Misbehaviour) { m.A = impostor(t, cp(honest, 10), logOrigin) })},
		{name: "B not signed by the log", m: with(forkM, func(m *witness.Misbehaviour) { m.B = impostor(t, cp(fork, 10), logOrigin) })},
		{name: "B not a note", m: with(forkM, func(m *witness.Misbehaviour) { m.B = []byte("hello\n") })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.key
			if key == nil {
				key = honest.Verifier()
			}
			err := witness.VerifyMisbehaviour(tc.m, key)
			switch {
			case tc.ok && err != nil:
				t.Errorf("VerifyMisbehaviour = %v, want nil", err)
			case !tc.ok && err == nil:
				t.Error("VerifyMisbehaviour = nil, want an error")
			case tc.wantNot && !errors.Is(err, witness.ErrNotMisbehaviour):
				t.Errorf("VerifyMisbehaviour = %v, want ErrNotMisbehaviour", err)
			}
		})
	}
	if err := witness.VerifyMisbehaviour(forkM); err == nil {
		t.Error("VerifyMisbehaviour without a key succeeded")
	}
}

func TestCheckGossip(t *testing.T) {
	ctx := context.Background()
	honest, fork := forkedLogs(t)
	// prover serves proofs from the tree of log l.
	prover := func(l *witnesstest.Log) witness.ConsistencyProver {
		return witness.ConsistencyProverFunc(func(_ context.Context, origin string, m, n uint64) ([][]byte, error) {
			if origin != logOrigin {
				return nil, errors.New("wrong origin")
			}
			return l.ConsistencyProof(m, n), nil
		})
	}
	garbage := witness.ConsistencyProverFunc(func(_ context.Context, _ string, m, n uint64) ([][]byte, error) {
		return flip(honest.ConsistencyProof(m, n), 0), nil
	})
	failing := witness.ConsistencyProverFunc(func(context.Context, string, uint64, uint64) ([][]byte, error) {
		return nil, errors.New("log unreachable")
	})
	tests := []struct {
		name         string
		stored, seen []byte
		prover       witness.ConsistencyProver
		want         witness.Reason // misbehaviour expected
		wantErr      error          // other error expected (nil: any, if wantAnyErr)
		wantAnyErr   bool
	}{
		{name: "same checkpoint", stored: honest.Checkpoint(10), seen: honest.Checkpoint(10)},
		{name: "seen larger", stored: honest.Checkpoint(10), seen: honest.Checkpoint(30), prover: prover(honest)},
		{name: "stored larger", stored: honest.Checkpoint(30), seen: honest.Checkpoint(10), prover: prover(honest)},
		{name: "from empty", stored: honest.Checkpoint(0), seen: honest.Checkpoint(5), prover: failing},
		{name: "fork", stored: honest.Checkpoint(10), seen: fork.Checkpoint(10), want: witness.ReasonFork},
		{name: "inconsistent, proof from the fork", stored: honest.Checkpoint(10), seen: fork.Checkpoint(30), prover: prover(fork), want: witness.ReasonInconsistent},
		{name: "inconsistent, stored is the fork", stored: fork.Checkpoint(30), seen: honest.Checkpoint(10), prover: prover(fork), want: witness.ReasonInconsistent},
		{name: "inconsistent, power of two", stored: honest.Checkpoint(8), seen: fork.Checkpoint(30), prover: prover(fork), wantErr: witness.ErrInconclusive},
		{name: "garbage proof", stored: honest.Checkpoint(10), seen: honest.Checkpoint(30), prover: garbage, wantErr: witness.ErrInconclusive},
		{name: "prover fails", stored: honest.Checkpoint(10), seen: honest.Checkpoint(30), prover: failing, wantAnyErr: true},
		{name: "unsigned", stored: honest.Checkpoint(10), seen: impostor(t, checkpoint.Checkpoint{Origin: logOrigin, Size: 10, Hash: fork.Root(10)}, logOrigin), wantAnyErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := witness.CheckGossip(ctx, []note.Verifier{honest.Verifier()}, tc.stored, tc.seen, tc.prover)
			var merr *witness.MisbehaviourError
			switch {
			case tc.want != "":
				if !errors.As(err, &merr) {
					t.Fatalf("CheckGossip = %v, want a MisbehaviourError", err)
				}
				if merr.Misbehaviour.Reason != tc.want {
					t.Errorf("reason %q, want %q", merr.Misbehaviour.Reason, tc.want)
				}
				// The evidence survives the file format and checks offline.
				file, err := merr.Misbehaviour.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				m, err := witness.ParseMisbehaviour(file)
				if err != nil {
					t.Fatal(err)
				}
				if err := witness.VerifyMisbehaviour(m, honest.Verifier()); err != nil {
					t.Errorf("VerifyMisbehaviour = %v", err)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) || errors.As(err, &merr) {
					t.Errorf("CheckGossip = %v, want %v", err, tc.wantErr)
				}
			case tc.wantAnyErr:
				if err == nil || errors.As(err, &merr) {
					t.Errorf("CheckGossip = %v, want a plain error", err)
				}
			default:
				if err != nil {
					t.Errorf("CheckGossip = %v, want nil", err)
				}
			}
		})
	}
}

func FuzzParseMisbehaviour(f *testing.F) {
	forkM, inconsistentM := sampleMisbehaviour(f)
	for _, m := range []witness.Misbehaviour{forkM, inconsistentM} {
		b, err := m.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("evident/misbehaviour/v1\norigin a\nreason fork\ncheckpoint 0\ncheckpoint 0\n"))
	honest, _ := forkedLogs(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := witness.ParseMisbehaviour(data)
		if err != nil {
			if !errors.Is(err, witness.ErrMalformedMisbehaviour) {
				t.Errorf("error %v doesn't wrap ErrMalformedMisbehaviour", err)
			}
			return
		}
		// Strict: what parses re-marshals to the same bytes.
		b, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed file: %v", err)
		}
		if !bytes.Equal(b, data) {
			t.Errorf("Marshal(Parse(%q)) = %q", data, b)
		}
		// Verifying arbitrary evidence must not panic.
		witness.VerifyMisbehaviour(m, honest.Verifier())
	})
}
