package witnesstest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/witness"
)

// Log is a Merkle log in memory, for tests: it appends leaves, signs
// checkpoints and makes RFC 6962 consistency proofs. Two Logs made with the
// same origin share a signing key, so diverging their leaves makes a fork.
type Log struct {
	origin string
	signer note.Signer
	verif  note.Verifier
	rf     *compact.RangeFactory
	cr     *compact.Range
	nodes  map[compact.NodeID][]byte
	roots  [][32]byte // roots[n] is the root of the first n leaves
}

// NewLog returns an empty log named origin, with a signing key derived from
// origin.
func NewLog(t testing.TB, origin string) *Log {
	t.Helper()
	seed := sha256.Sum256([]byte("witnesstest log key " + origin))
	skey, vkey, err := note.GenerateKey(bytes.NewReader(seed[:]), origin)
	if err != nil {
		t.Fatalf("couldn't generate log key: %v", err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatalf("couldn't load log key: %v", err)
	}
	verif, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatalf("couldn't load log verifier: %v", err)
	}
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	return &Log{
		origin: origin,
		signer: signer,
		verif:  verif,
		rf:     rf,
		cr:     rf.NewEmptyRange(0),
		nodes:  make(map[compact.NodeID][]byte),
		roots:  [][32]byte{[32]byte(rfc6962.DefaultHasher.EmptyRoot())},
	}
}

// Origin returns the log's origin.
func (l *Log) Origin() string { return l.origin }

// Verifier returns the verifier of the log's checkpoint signatures.
func (l *Log) Verifier() note.Verifier { return l.verif }

// Size returns the number of leaves.
func (l *Log) Size() uint64 { return l.cr.End() }

// Append appends n leaves, "leaf <index>".
func (l *Log) Append(n int) {
	for range n {
		l.AppendData(fmt.Appendf(nil, "leaf %d", l.Size()))
	}
}

// AppendData appends one leaf.
func (l *Log) AppendData(data []byte) {
	err := l.cr.Append(rfc6962.DefaultHasher.HashLeaf(data), func(id compact.NodeID, h []byte) {
		l.nodes[id] = h
	})
	if err != nil {
		panic(err)
	}
	root, err := l.cr.GetRootHash(nil)
	if err != nil {
		panic(err)
	}
	l.roots = append(l.roots, [32]byte(root))
}

// Root returns the root hash of the first size leaves.
func (l *Log) Root(size uint64) [32]byte { return l.roots[size] }

// Checkpoint returns the log's signed checkpoint for its first size leaves.
func (l *Log) Checkpoint(size uint64) []byte {
	return l.Sign(checkpoint.Checkpoint{Origin: l.origin, Size: size, Hash: l.Root(size)})
}

// Sign returns c signed by the log's key, whatever c says.
func (l *Log) Sign(c checkpoint.Checkpoint) []byte {
	signed, err := note.Sign(&note.Note{Text: string(c.Marshal())}, l.signer)
	if err != nil {
		panic(err)
	}
	return signed
}

// ConsistencyProof returns the RFC 6962 consistency proof from size m to
// size n.
func (l *Log) ConsistencyProof(m, n uint64) [][]byte {
	nodes, err := proof.Consistency(m, n)
	if err != nil {
		panic(err)
	}
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		h, ok := l.nodes[id]
		if !ok {
			panic(fmt.Sprintf("witnesstest: no node %+v", id))
		}
		hashes[i] = bytes.Clone(h)
	}
	p, err := nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
	if err != nil {
		panic(err)
	}
	return p
}

// Request returns an add-checkpoint request body for the checkpoint of
// size, with the consistency proof from old.
func (l *Log) Request(old, size uint64) []byte {
	r := witness.AddCheckpointRequest{OldSize: old, Checkpoint: l.Checkpoint(size)}
	if old > 0 {
		r.Proof = l.ConsistencyProof(old, size)
	}
	return r.Marshal()
}
