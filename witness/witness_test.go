package witness_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/witness"
	"github.com/evident-dev/evident/witness/witnesstest"
)

const logOrigin = "example.com/log"

var testTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testCosigner(t testing.TB, name string) *witness.Cosigner {
	t.Helper()
	seed := sha256.Sum256([]byte("cosigner " + name))
	c, err := witness.NewCosigner(name, ed25519.NewKeyFromSeed(seed[:]), func() time.Time { return testTime })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fixture is a witness for one log, with its HTTP handler.
type fixture struct {
	log      *witnesstest.Log
	store    *witnesstest.MemoryStore
	cosigner *witness.Cosigner
	w        *witness.Witness
	h        http.Handler
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{
		log:      witnesstest.NewLog(t, logOrigin),
		store:    witnesstest.NewMemoryStore(),
		cosigner: testCosigner(t, "witness.example/w1"),
	}
	f.log.Append(40)
	w, err := witness.New(witness.Options{
		Store:    f.store,
		Cosigner: f.cosigner,
		Logs:     map[string][]note.Verifier{logOrigin: {f.log.Verifier()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.w, f.h = w, witness.Handler(w)
	return f
}

type response struct {
	status      int
	contentType string
	body        string
}

func (f *fixture) do(method, path string, body []byte) response {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return response{rec.Code, rec.Header().Get("Content-Type"), rec.Body.String()}
}

func (f *fixture) post(body []byte) response { return f.do("POST", "/add-checkpoint", body) }

// mustCosign submits body and fails the test unless the witness cosigns.
func (f *fixture) mustCosign(t testing.TB, body []byte) {
	t.Helper()
	if r := f.post(body); r.status != http.StatusOK {
		t.Fatalf("setup request refused: %d %q", r.status, r.body)
	}
}

func (f *fixture) state(t testing.TB) witness.State {
	t.Helper()
	st, err := f.store.Get(context.Background(), logOrigin)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// req builds an add-checkpoint request body.
func req(old uint64, proof [][]byte, signed []byte) []byte {
	return witness.AddCheckpointRequest{OldSize: old, Proof: proof, Checkpoint: signed}.Marshal()
}

func flip(p [][]byte, i int) [][]byte {
	q := make([][]byte, len(p))
	for j := range p {
		q[j] = bytes.Clone(p[j])
	}
	q[i][0] ^= 1
	return q
}

// impostor signs checkpoint text with a key named like the log's but not
// the log's.
func impostor(t testing.TB, c checkpoint.Checkpoint, name string) []byte {
	skey, _, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 32)), name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := note.Sign(&note.Note{Text: string(c.Marshal())}, s)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// TestAddCheckpointStatus produces every status code of c2sp.org/tlog-witness
// add-checkpoint, each from the input the spec names, and checks that a
// refused request changes nothing.
func TestAddCheckpointStatus(t *testing.T) {
	cp := func(f *fixture, size uint64) checkpoint.Checkpoint {
		return checkpoint.Checkpoint{Origin: logOrigin, Size: size, Hash: f.log.Root(size)}
	}
	tests := []struct {
		name   string
		method string // default POST
		setup  func(f *fixture) [][]byte
		body   func(t *testing.T, f *fixture) []byte
		status int
		// want409 is the size the 409 body must carry.
		want409 uint64
	}{
		// 200: all checks pass.
		{name: "first contact", status: 200,
			body: func(t *testing.T, f *fixture) []byte { return f.log.Request(0, 10) }},
		{name: "empty tree", status: 200,
			body: func(t *testing.T, f *fixture) []byte { return f.log.Request(0, 0) }},
		{name: "after empty tree", status: 200,
			setup: func(f *fixture) [][]byte { return [][]byte{f.log.Request(0, 0)} },
			body:  func(t *testing.T, f *fixture) []byte { return f.log.Request(0, 10) }},
		{name: "append", status: 200,
			setup: func(f *fixture) [][]byte { return [][]byte{f.log.Request(0, 10)} },
			body:  func(t *testing.T, f *fixture) []byte { return f.log.Request(10, 15) }},
		{name: "append power of two", status: 200,
			setup: func(f *fixture) [][]byte { return [][]byte{f.log.Request(0, 8)} },
			body:  func(t *testing.T, f *fixture) []byte { return f.log.Request(8, 33) }},
		{name: "same checkpoint again", status: 200,
			setup: func(f *fixture) [][]byte { return [][]byte{f.log.Request(0, 10)} },
			body:  func(t *testing.T, f *fixture) []byte { return f.log.Request(10, 10) }},
		{name: "other cosignatures ignored", status: 200,
			body: func(t *testing.T, f *fixture) []byte {
				other := testCosigner(t, "other.example/w")
				n, err := note.Open(f.log.Checkpoint(10), note.VerifierList(f.log.Verifier()))
				if err != nil {
					t.Fatal(err)
				}
				signed, err := note.Sign(n, other)
				if err != nil {
					t.Fatal(err)
				}
				return req(0, nil, signed)
			}},

		// 400: malformed requests.
		{name: "empty body", status: 400,
			body: func(t *testing.T, f *fixture) []byte { return nil }},
		{name: "old size with leading zero", status: 400,
			body: func(t *testing.T, f *fixture) []byte {
				return append([]byte("old 00\n\n"), f.log.Checkpoint(10)...)
			}},
		{name: "old size negative", status: 400,
			body: func(t *testing.T, f *fixture) []byte {
				return append([]byte("old -1\n\n"), f.log.Checkpoint(10)...)
			}},
		{name: "no empty line", status: 400,
			body: func(t *testing.T, f *fixture) []byte {
				return append([]byte("old 0\n"), f.log.Checkpoint(10)...)
			}},
		{name: "proof line not base64", status: 400,
			body: func(t *testing.T, f *fixture) []byte {
				return append([]byte("old 0\nnot base64!\n\n"), f.log.Checkpoint(10)...)
			}},
		{name: "proof line 31 bytes", status: 400,
			body: func(t *testing.T, f *fixture) []byte {
				line := base64.StdEncoding.EncodeToString(make([]byte, 31))
				return append([]byte("old 0\n"+line+"\n\n"), f.log.Checkpoint(10)...)
			}},
		{name: "64 proof lines", status: 400,
			body: func(t *testing.T, f *fixture) []byte {
				p := make([][]byte, 64)
				for i := range p {
					p[i] = make([]byte, 32)
				}
				return req(0, p, f.log.Checkpoint(10))
			}},
		{name: "checkpoint not a note", status: 400,
			body: func(t *testing.T, f *fixture) []byte {
				return []byte("old 0\n\n" + logOrigin + "\n10\n" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n")
			}},
		{name: "checkpoint text malformed", status: 400,
			body: func(t *testing.T, f *fixture) []byte {
				signed := f.log.Checkpoint(10)
				return req(0, nil, bytes.Replace(signed, []byte("\n10\n"), []byte("\n010\n"), 1))
			}},
		{name: "old size larger than checkpoint", status: 400,
			setup: func(f *fixture) [][]byte { return [][]byte{f.log.Request(0, 15)} },
			body: func(t *testing.T, f *fixture) []byte {
				return req(15, nil, f.log.Checkpoint(10))
			}},

		// 403: no valid signature by a trusted key.
		{name: "signed by another key of the same name", status: 403,
			body: func(t *testing.T, f *fixture) []byte {
				return req(0, nil, impostor(t, cp(f, 10), logOrigin))
			}},
		{name: "signed by an unknown key", status: 403,
			body: func(t *testing.T, f *fixture) []byte {
				return req(0, nil, impostor(t, cp(f, 10), "example.com/other"))
			}},
		{name: "trusted key, invalid signature", status: 403,
			body: func(t *testing.T, f *fixture) []byte {
				signed := f.log.Checkpoint(10)
				i := bytes.LastIndexByte(signed, ' ')
				raw, _ := base64.StdEncoding.DecodeString(string(signed[i+1 : len(signed)-1]))
				raw[len(raw)-1] ^= 1
				signed = append(signed[:i+1], base64.StdEncoding.EncodeToString(raw)+"\n"...)
				return req(0, nil, signed)
			}},

		// 404: unknown origin.
		{name: "unknown origin", status: 404,
			body: func(t *testing.T, f *fixture) []byte {
				other := witnesstest.NewLog(t, "example.com/unknown")
				other.Append(3)
				return other.Request(0, 3)
			}},

		// 409: old size is not the latest cosigned size.
		{name: "old size on first contact", status: 409, want409: 0,
			body: func(t *testing.T, f *fixture) []byte { return f.log.Request(5, 10) }},
		{name: "old size 0 after cosigning", status: 409, want409: 10,
			setup: func(f *fixture) [][]byte { return [][]byte{f.log.Request(0, 10)} },
			body:  func(t *testing.T, f *fixture) []byte { return f.log.Request(0, 15) }},
		{name: "stale old size", status: 409, want409: 15,
			setup: func(f *fixture) [][]byte { return [][]byte{f.log.Request(0, 10), f.log.Request(10, 15)} },
			body:  func(t *testing.T, f *fixture) []byte { return f.log.Request(10, 20) }},
		{name: "rollback to a smaller tree", status: 409, want409: 15,
			setup: func(f *fixture) [][]byte { return [][]byte{f.log.Request(0, 15)} },
			body:  func(t *testing.T, f *fixture) []byte { return f.log.Request(5, 10) }},

		// 422: not proven consistent.
		{name: "empty tree with a non-empty root", status: 422,
			body: func(t *testing.T, f *fixture) []byte {
				c := cp(f, 0)
				c.Hash = f.log.Root(1)
				return req(0, nil, f.log.Sign(c))
			}},
		{name: "proof with old size 0", status: 422,
			body: func(t *testing.T, f *fixture) []byte {
				return req(0, f.log.ConsistencyProof(5, 10), f.log.Checkpoint(10))
			}},
		{name: "proof doesn't verify", status: 422,
			setup: func(f *fixture) [][]byte { return [][]byte{f.log.Request(0, 10)} },
			body: func(t *testing.T, f *fixture) []byte {
				return req(10, flip(f.log.ConsistencyProof(10, 15), 0), f.log.Checkpoint(15))
			}},
		{name: "proof too short", status: 422,
			setup: func(f *fixture) [][]byte { return [][]byte{f.log.Request(0, 10)} },
			body: func(t *testing.T, f *fixture) []byte {
				p := f.log.ConsistencyProof(10, 15)
				return req(10, p[:len(p)-1], f.log.Checkpoint(15))
			}},
		{name: "proof for another old size", status: 422,
			setup: func(f *fixture) [][]byte { return [][]byte{f.log.Request(0, 10)} },
			body: func(t *testing.T, f *fixture) []byte {
				return req(10, f.log.ConsistencyProof(9, 15), f.log.Checkpoint(15))
			}},
		{name: "same size with proof lines", status: 422,
			setup: func(f *fixture) [][]byte { return [][]byte{f.log.Request(0, 10)} },
			body: func(t *testing.T, f *fixture) []byte {
				return req(10, f.log.ConsistencyProof(5, 10), f.log.Checkpoint(10))
			}},
		{name: "same size, different root", status: 422,
			setup: func(f *fixture) [][]byte { return [][]byte{f.log.Request(0, 10)} },
			body: func(t *testing.T, f *fixture) []byte {
				c := cp(f, 10)
				c.Hash[0] ^= 1
				return req(10, nil, f.log.Sign(c))
			}},

		// Beyond the spec's list: HTTP-level refusals.
		{name: "GET", method: "GET", status: 405,
			body: func(t *testing.T, f *fixture) []byte { return nil }},
		{name: "PUT", method: "PUT", status: 405,
			body: func(t *testing.T, f *fixture) []byte { return f.log.Request(0, 10) }},
		{name: "body too large", status: 413,
			body: func(t *testing.T, f *fixture) []byte {
				return append(f.log.Request(0, 10), make([]byte, witness.MaxBodySize)...)
			}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d %s", tc.status, tc.name), func(t *testing.T) {
			f := newFixture(t)
			if tc.setup != nil {
				for _, b := range tc.setup(f) {
					f.mustCosign(t, b)
				}
			}
			before := f.state(t)
			body := tc.body(t, f)
			method := tc.method
			if method == "" {
				method = "POST"
			}
			r := f.do(method, "/add-checkpoint", body)
			if r.status != tc.status {
				t.Fatalf("status %d %q, want %d", r.status, r.body, tc.status)
			}
			switch r.status {
			case http.StatusOK:
				checkCosignature(t, f, body, r.body)
			case http.StatusConflict:
				// c2sp.org/tlog-witness: body is the latest cosigned size and
				// a newline, Content-Type text/x.tlog.size.
				want := response{409, "text/x.tlog.size", fmt.Sprintf("%d\n", tc.want409)}
				if diff := cmp.Diff(want, r, cmp.AllowUnexported(response{})); diff != "" {
					t.Errorf("409 response mismatch (-want +got):\n%s", diff)
				}
				fallthrough
			default:
				if diff := cmp.Diff(before, f.state(t), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("a refused request changed the state (-before +after):\n%s", diff)
				}
			}
		})
	}
}

// checkCosignature checks a 200 response: one cosignature line by the
// witness on the submitted checkpoint, which the witness has persisted.
func checkCosignature(t *testing.T, f *fixture, body []byte, resp string) {
	t.Helper()
	r, err := witness.ParseAddCheckpoint(body)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(resp, "\n") != 1 || !strings.HasPrefix(resp, "— witness.example/w1 ") {
		t.Fatalf("response %q is not one signature line by the witness", resp)
	}
	// c2sp.org/tlog-witness: the client MAY concatenate the response to the
	// checkpoint and verify it as a note.
	v := f.cosigner.Verifier()
	n, err := note.Open(append(bytes.Clone(r.Checkpoint), resp...), note.VerifierList(v))
	if err != nil {
		t.Fatalf("cosignature doesn't verify: %v", err)
	}
	ts, err := v.Timestamp(n.Sigs[0])
	if err != nil || !ts.Equal(testTime) {
		t.Errorf("cosignature time = %v, %v; want %v", ts, err, testTime)
	}
	c, err := checkpoint.Parse([]byte(n.Text))
	if err != nil {
		t.Fatal(err)
	}
	st := f.state(t)
	if st.Size != c.Size || st.Hash != c.Hash || !bytes.HasSuffix(st.Checkpoint, []byte(resp)) {
		t.Errorf("stored state %d %x doesn't hold the cosigned checkpoint %s", st.Size, st.Hash, c)
	}
}

// TestRollbackRefused checks that no request makes the witness cosign a
// smaller tree than one it cosigned.
func TestRollbackRefused(t *testing.T) {
	f := newFixture(t)
	f.mustCosign(t, f.log.Request(0, 20))
	for old := uint64(0); old <= 20; old++ {
		for size := old; size < 20; size++ {
			var proof [][]byte
			if old > 0 {
				proof = f.log.ConsistencyProof(old, size)
			}
			r := f.post(req(old, proof, f.log.Checkpoint(size)))
			if r.status == http.StatusOK {
				t.Fatalf("witness cosigned size %d (old %d) after size 20", size, old)
			}
		}
	}
	if st := f.state(t); st.Size != 20 {
		t.Errorf("state size %d, want 20", st.Size)
	}
}

// TestForkRecorded checks that a same-size fork is refused with 422,
// recorded as a proof that verifies offline, and that the witness then
// refuses the log with 403.
func TestForkRecorded(t *testing.T) {
	f := newFixture(t)
	f.mustCosign(t, f.log.Request(0, 10))

	// A fork: the same origin and key, a different leaf 7.
	fork := witnesstest.NewLog(t, logOrigin)
	fork.Append(7)
	fork.AppendData([]byte("rewritten history"))
	fork.Append(30)

	_, err := f.w.AddCheckpoint(context.Background(), req(10, nil, fork.Checkpoint(10)))
	var merr *witness.MisbehaviourError
	if !errors.Is(err, witness.ErrInconsistent) || !errors.As(err, &merr) {
		t.Fatalf("AddCheckpoint(fork) = %v, want ErrInconsistent and a MisbehaviourError", err)
	}
	recorded, err := f.w.Misbehaviour(context.Background(), logOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if len(recorded) != 1 {
		t.Fatalf("recorded %d proofs of misbehaviour, want 1", len(recorded))
	}
	m := recorded[0]
	if diff := cmp.Diff(merr.Misbehaviour, m, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("recorded proof differs from the error's (-err +recorded):\n%s", diff)
	}
	// Offline: only the file and the log's public key.
	file, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := witness.ParseMisbehaviour(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := witness.VerifyMisbehaviour(parsed, f.log.Verifier()); err != nil {
		t.Errorf("VerifyMisbehaviour = %v", err)
	}
	if parsed.Reason != witness.ReasonFork {
		t.Errorf("reason %q, want %q", parsed.Reason, witness.ReasonFork)
	}

	// From now on the log gets 403, even on its original branch.
	if r := f.post(f.log.Request(10, 20)); r.status != http.StatusForbidden {
		t.Errorf("after the fork: status %d %q, want 403", r.status, r.body)
	}
	if st := f.state(t); st.Size != 10 || st.Hash != f.log.Root(10) {
		t.Errorf("state changed to size %d", st.Size)
	}
}

// TestForkWithStaleOldSize checks that a fork is recorded even when the
// request's old size earns it a 409.
func TestForkWithStaleOldSize(t *testing.T) {
	f := newFixture(t)
	f.mustCosign(t, f.log.Request(0, 10))
	c := checkpoint.Checkpoint{Origin: logOrigin, Size: 10, Hash: f.log.Root(10)}
	c.Hash[5] ^= 0xff
	if r := f.post(req(4, nil, f.log.Sign(c))); r.status != http.StatusConflict || r.body != "10\n" {
		t.Fatalf("status %d %q, want 409 10", r.status, r.body)
	}
	ms, err := f.w.Misbehaviour(context.Background(), "")
	if err != nil || len(ms) != 1 {
		t.Fatalf("Misbehaviour = %d records, %v; want 1", len(ms), err)
	}
	if err := witness.VerifyMisbehaviour(ms[0], f.log.Verifier()); err != nil {
		t.Error(err)
	}
}

// TestInconsistentProofRecorded checks what the witness does with a proof
// that doesn't verify: evidence when the proof reaches the new root and
// implies another old root (old size not a power of two), nothing but a 422
// otherwise.
func TestInconsistentProofRecorded(t *testing.T) {
	for _, tc := range []struct {
		name   string
		old    uint64
		garble bool
		want   bool // a proof of misbehaviour recorded
	}{
		{"fork proof, old size 10", 10, false, true},
		{"fork proof, old size 8", 8, false, false},
		{"corrupt proof", 10, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.mustCosign(t, f.log.Request(0, tc.old))
			fork := witnesstest.NewLog(t, logOrigin)
			fork.Append(3)
			fork.AppendData([]byte("rewritten history"))
			fork.Append(30)
			p := fork.ConsistencyProof(tc.old, 20)
			if tc.garble {
				p = flip(p, len(p)-1)
			}
			r := f.post(req(tc.old, p, fork.Checkpoint(20)))
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d %q, want 422", r.status, r.body)
			}
			ms, err := f.w.Misbehaviour(context.Background(), logOrigin)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(ms) > 0; got != tc.want {
				t.Fatalf("misbehaviour recorded: %v, want %v", got, tc.want)
			}
			if !tc.want {
				// Not misbehaviour: the log is still served.
				f.mustCosign(t, f.log.Request(tc.old, 25))
				return
			}
			if ms[0].Reason != witness.ReasonInconsistent {
				t.Errorf("reason %q", ms[0].Reason)
			}
			if err := witness.VerifyMisbehaviour(ms[0], f.log.Verifier()); err != nil {
				t.Errorf("VerifyMisbehaviour = %v", err)
			}
			if r := f.post(f.log.Request(tc.old, 25)); r.status != http.StatusForbidden {
				t.Errorf("after misbehaviour: status %d, want 403", r.status)
			}
		})
	}
}

// TestPersistBeforeResponding checks that when the state can't be persisted
// the witness returns no cosignature.
func TestPersistBeforeResponding(t *testing.T) {
	f := newFixture(t)
	f.store.BeforeUpdate = func(string, witness.State, witness.State) error {
		return errors.New("disk full")
	}
	r := f.post(f.log.Request(0, 10))
	if r.status != http.StatusInternalServerError {
		t.Fatalf("status %d %q, want 500", r.status, r.body)
	}
	if strings.Contains(r.body, "—") || strings.Contains(r.body, "disk") {
		t.Errorf("500 body %q leaks a signature or internal detail", r.body)
	}
	if !f.state(t).IsZero() {
		t.Error("state changed")
	}
}

// TestConcurrentAddCheckpoint sends many add-checkpoint requests for one log
// at once, through several Witness instances sharing a store (as several
// processes could), and checks that the state never regresses.
func TestConcurrentAddCheckpoint(t *testing.T) {
	f := newFixture(t)
	const maxSize = 40
	var mu sync.Mutex
	var transitions [][2]witness.State
	f.store.AfterUpdate = func(_ string, old, new witness.State) {
		mu.Lock()
		defer mu.Unlock()
		transitions = append(transitions, [2]witness.State{old, new})
	}
	// Widen the window between the check and the update.
	var attempts atomic.Int64
	f.store.BeforeUpdate = func(string, witness.State, witness.State) error {
		attempts.Add(1)
		time.Sleep(50 * time.Microsecond)
		return nil
	}
	var handlers []http.Handler
	for range 3 {
		w, err := witness.New(witness.Options{
			Store:    f.store,
			Cosigner: f.cosigner,
			Logs:     map[string][]note.Verifier{logOrigin: {f.log.Verifier()}},
		})
		if err != nil {
			t.Fatal(err)
		}
		handlers = append(handlers, witness.Handler(w))
	}
	var wg sync.WaitGroup
	var cosignedMu sync.Mutex
	cosigned := make(map[uint64]int)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := handlers[g%len(handlers)]
			old := uint64(0)
			for i := 0; old < maxSize && i < 200; i++ {
				size := min(old+uint64(1+(g+i)%3), maxSize)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("POST", "/add-checkpoint", bytes.NewReader(f.log.Request(old, size))))
				switch rec.Code {
				case http.StatusOK:
					cosignedMu.Lock()
					cosigned[size]++
					cosignedMu.Unlock()
					old = size
				case http.StatusConflict:
					fmt.Sscanf(rec.Body.String(), "%d", &old)
				default:
					t.Errorf("status %d %q", rec.Code, rec.Body)
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(cosigned) == 0 {
		t.Fatal("nothing cosigned")
	}
	for i, tr := range transitions {
		old, new := tr[0], tr[1]
		if new.Size < old.Size {
			t.Errorf("transition %d rolled back from %d to %d", i, old.Size, new.Size)
		}
		if new.Hash != f.log.Root(new.Size) {
			t.Errorf("transition %d stored a wrong root for size %d", i, new.Size)
		}
		if i > 0 && !transitions[i-1][1].Equal(old) {
			t.Errorf("transition %d doesn't start where transition %d ended", i, i-1)
		}
	}
	if got := len(transitions); got != sum(cosigned) {
		t.Errorf("%d state updates for %d cosignatures", got, sum(cosigned))
	}
	if st := f.state(t); st.Size != maxSize {
		t.Errorf("final size %d, want %d", st.Size, maxSize)
	}
	// How often the compare-and-swap caught a concurrent update; racy, so
	// only logged.
	t.Logf("%d updates attempted, %d succeeded", attempts.Load(), len(transitions))
}

func sum(m map[uint64]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestMonitoring checks GET <origin hash>/checkpoint and Latest.
func TestMonitoring(t *testing.T) {
	f := newFixture(t)
	hash := sha256.Sum256([]byte(logOrigin))
	path := "/" + hex.EncodeToString(hash[:]) + "/checkpoint"
	// c2sp.org/tlog-witness: 404 if the witness never cosigned for the log.
	if r := f.do("GET", path, nil); r.status != http.StatusNotFound {
		t.Errorf("before cosigning: status %d, want 404", r.status)
	}
	if _, err := f.w.Latest(context.Background(), logOrigin); !errors.Is(err, witness.ErrNotCosigned) {
		t.Errorf("Latest before cosigning = %v, want ErrNotCosigned", err)
	}
	f.mustCosign(t, f.log.Request(0, 12))
	r := f.do("GET", path, nil)
	if r.status != http.StatusOK {
		t.Fatalf("status %d %q", r.status, r.body)
	}
	// The checkpoint carries the log's signature and the witness's
	// cosignature, both verified.
	n, err := note.Open([]byte(r.body), note.VerifierList(f.log.Verifier(), f.cosigner.Verifier()))
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Sigs) != 2 {
		t.Errorf("%d verified signatures, want 2", len(n.Sigs))
	}
	latest, err := f.w.Latest(context.Background(), logOrigin)
	if err != nil || string(latest) != r.body {
		t.Errorf("Latest = %q, %v; want the served checkpoint", latest, err)
	}
	all, err := f.w.LatestAll(context.Background())
	if err != nil || len(all) != 1 || string(all[logOrigin]) != r.body {
		t.Errorf("LatestAll = %q, %v", all, err)
	}
	for _, p := range []string{
		"/" + strings.ToUpper(hex.EncodeToString(hash[:])) + "/checkpoint",
		"/" + hex.EncodeToString(make([]byte, 32)) + "/checkpoint",
		"/" + hex.EncodeToString(hash[:]) + "00/checkpoint",
		"/abc/checkpoint",
	} {
		if r := f.do("GET", p, nil); r.status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, r.status)
		}
	}
	if r := f.do("POST", path, nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST %s: status %d, want 405", path, r.status)
	}
}

func TestNewOptions(t *testing.T) {
	l := witnesstest.NewLog(t, logOrigin)
	c := testCosigner(t, "w")
	s := witnesstest.NewMemoryStore()
	for _, tc := range []struct {
		name string
		opts witness.Options
	}{
		{"no store", witness.Options{Cosigner: c}},
		{"no cosigner", witness.Options{Store: s}},
		{"log without keys", witness.Options{Store: s, Cosigner: c, Logs: map[string][]note.Verifier{logOrigin: nil}}},
		{"duplicate key", witness.Options{Store: s, Cosigner: c, Logs: map[string][]note.Verifier{logOrigin: {l.Verifier(), l.Verifier()}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := witness.New(tc.opts); err == nil {
				t.Error("New succeeded")
			}
		})
	}
}
