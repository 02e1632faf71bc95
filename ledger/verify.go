package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/tile"
	"github.com/transparency-dev/merkle/compact"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
)

// VerifyError is the first problem Verify found, with where it is.
type VerifyError struct {
	// Where names the part of the file: "entry 41", "tile 1/3",
	// "checkpoint 1024", "identity index".
	Where string
	Err   error
}

func (e *VerifyError) Error() string { return fmt.Sprintf("ledger verify: %s: %v", e.Where, e.Err) }
func (e *VerifyError) Unwrap() error { return e.Err }

// verifyChunk is how many entries Verify checks per read transaction, so that
// a long walk over a live ledger doesn't hold one transaction open for ever.
const verifyChunk = 1 << 16

// Verify walks the whole ledger: it recomputes every leaf hash and every
// stored tile hash from the entries, checks the deduplication and secondary
// indexes point at each entry and hold nothing else, checks every stored
// checkpoint's signature (with v) and root, and reports the first problem as
// a *VerifyError. It checks the tree as it was when Verify started; appends
// may continue. Secondary indexes are checked only if Options.Index is set.
func (l *Ledger) Verify(ctx context.Context, v note.Verifier) error {
	w := &verifier{l: l, v: v, rng: l.factory.NewEmptyRange(0), want: map[string]uint64{}}
	err := l.view(ctx, func(tx *bolt.Tx) error {
		w.size = treeSize(tx)
		signed := tx.Bucket(bucketMeta).Get(keyCheckpoint0)
		if signed == nil {
			return &VerifyError{"checkpoint 0", errors.New("missing: every log signs its empty tree first")}
		}
		return w.checkpoint(0, signed)
	})
	if err != nil {
		return err
	}
	for start := uint64(0); start < w.size; start += verifyChunk {
		end := min(start+verifyChunk, w.size)
		if err := l.view(ctx, func(tx *bolt.Tx) error { return w.chunk(tx, start, end) }); err != nil {
			return err
		}
	}
	return l.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLog).Cursor()
		k, _ := c.Seek(statePrefix)
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		if k != nil && (len(k) < 8 || binary.BigEndian.Uint64(k) >= treeSize(tx)) {
			return &VerifyError{fmt.Sprintf("log key %x", k), fmt.Errorf("lies beyond the tree size %d", treeSize(tx))}
		}
		merged, err := readU64(tx.Bucket(bucketMeta), keyMerged)
		if err != nil {
			return &VerifyError{"merge watermark", err}
		}
		logB, size := tx.Bucket(bucketLog), treeSize(tx)
		if err := w.catchUp(tx, merged); err != nil {
			return err
		}
		if err := l.verifyIdentities("identity", tx.Bucket(bucketIdentity), logB, merged, size, l.identity); err != nil {
			return err
		}
		if l.opts.Identity != nil { // else the identity is the leaf hash, and leaves unused
			if err := l.verifyIdentities("leaf-hash", tx.Bucket(bucketLeaves), logB, merged, size, leafHash); err != nil {
				return err
			}
		}
		return w.indexes(tx, logB, merged, size)
	})
}

// catchUp checks the index keys of the entries below merged, the watermark
// in tx, that the walk did not: those a merge passed after the walk read
// their chunk, and any appended since the walk began.
func (w *verifier) catchUp(tx *bolt.Tx, merged uint64) error {
	logB := tx.Bucket(bucketLog)
	check := func(from, to uint64) error {
		for i := from; i < to; i++ {
			e := logB.Get(u64(i))
			if e == nil {
				return &VerifyError{fmt.Sprintf("entry %d", i), errors.New("missing")}
			}
			if err := w.indexed(tx, i, e, leafHash(e)); err != nil {
				return err
			}
		}
		return nil
	}
	next := uint64(0) // the walk's ranges are ascending: check what lies between
	for _, r := range w.counted {
		if err := check(next, min(r[0], merged)); err != nil {
			return err
		}
		next = r[1]
	}
	return check(next, merged)
}

// indexes checks the secondary indexes hold nothing but the keys of logged
// entries: as many keys of the entries below the watermark as they have (the
// walk and catchUp have checked each of those is present), and of entries
// above it, which a merge under way puts, only keys the entry has.
func (w *verifier) indexes(tx *bolt.Tx, logB *bolt.Bucket, merged, size uint64) error {
	if w.l.opts.Index == nil {
		return nil // nothing to check the keys against
	}
	c := tx.Cursor()
	for bname, v := c.Seek([]byte(indexPrefix)); bname != nil && bytes.HasPrefix(bname, []byte(indexPrefix)); bname, v = c.Next() {
		name := string(bname[len(indexPrefix):])
		b := tx.Bucket(bname)
		if v != nil || b == nil {
			return &VerifyError{fmt.Sprintf("index %q", name), errors.New("is not a bucket")}
		}
		counted := uint64(0)
		bc := b.Cursor()
		for k, v := bc.First(); k != nil; k, v = bc.Next() {
			where := fmt.Sprintf("index %q key %x", name, k)
			if v == nil {
				return &VerifyError{where, errors.New("is a bucket, not a key")}
			}
			n, m := binary.Uvarint(k)
			if m <= 0 || len(k) < m+8 || n != uint64(len(k)-m-8) || len(v) != 0 {
				return &VerifyError{where, errors.New("malformed: want a length-prefixed key, an 8-byte entry index and no value")}
			}
			key, i := k[m:len(k)-8], binary.BigEndian.Uint64(k[len(k)-8:])
			if i < merged {
				counted++
				continue
			}
			e, err := pointee(logB, where, i, size)
			if err != nil {
				return err
			}
			keys, err := w.l.opts.Index(e)
			if err != nil {
				return &VerifyError{where, fmt.Errorf("index function refuses entry %d: %w", i, err)}
			}
			if !slices.ContainsFunc(keys, func(ik IndexKey) bool { return ik.Name == name && bytes.Equal(ik.Key, key) }) {
				return &VerifyError{where, fmt.Errorf("points at entry %d, which has no such key", i)}
			}
		}
		if counted != w.want[name] {
			return &VerifyError{fmt.Sprintf("index %q", name), fmt.Errorf("%d keys of merged entries, but those entries have %d", counted, w.want[name])}
		}
	}
	return nil
}

// pointee returns entry i, which the index key at where points at, or an
// error if there is none below size.
func pointee(logB *bolt.Bucket, where string, i, size uint64) ([]byte, error) {
	if i >= size {
		return nil, &VerifyError{where, fmt.Errorf("points at entry %d, beyond the tree size %d", i, size)}
	}
	e := logB.Get(u64(i))
	if e == nil {
		return nil, &VerifyError{where, fmt.Errorf("points at entry %d, which is missing", i)}
	}
	return e, nil
}

// verifyIdentities checks the identity (or leaf-hash) index b holds nothing
// but the keys of logged entries: one for each entry below the watermark
// merged (whose keys the walk and catchUp have checked), and above it only
// keys a merge under way has put, each pointing at the entry whose key
// (keyOf) it is.
func (l *Ledger) verifyIdentities(name string, b, logB *bolt.Bucket, merged, size uint64, keyOf func(entry []byte) [32]byte) error {
	below := uint64(0)
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		where := fmt.Sprintf("%s index key %x", name, k)
		if len(k) != 32 || len(v) != 8 {
			return &VerifyError{where, fmt.Errorf("a %d-byte key with a %d-byte value, want 32 and 8", len(k), len(v))}
		}
		i := binary.BigEndian.Uint64(v)
		if i < merged {
			below++
			continue
		}
		e, err := pointee(logB, where, i, size)
		if err != nil {
			return err
		}
		if id := keyOf(e); !bytes.Equal(id[:], k) {
			return &VerifyError{where, fmt.Errorf("points at entry %d, whose key is %x", i, id)}
		}
	}
	if below != merged {
		return &VerifyError{name + " index", fmt.Errorf("%d keys for the %d merged entries", below, merged)}
	}
	return nil
}

// verifier is the state of one Verify walk.
type verifier struct {
	l     *Ledger
	v     note.Verifier
	size  uint64 // the tree size when the walk began
	rng   *compact.Range
	edge  map[uint8][]byte
	edgeN map[uint8]uint64
	// counted are the ranges of entries [start, end), ascending, whose
	// index keys the walk checked (and counted in want, by index name):
	// those below the watermark when their chunk was walked.
	counted [][2]uint64
	want    map[string]uint64
}

// checkpoint checks a stored checkpoint: its signature, that it is filed
// under its own size, and its root against the entries walked so far.
func (w *verifier) checkpoint(size uint64, signed []byte) error {
	where := fmt.Sprintf("checkpoint %d", size)
	n, err := note.Open(signed, note.VerifierList(w.v))
	if err != nil {
		return &VerifyError{where, fmt.Errorf("signature: %w", err)}
	}
	c, err := checkpoint.Parse([]byte(n.Text))
	if err != nil {
		return &VerifyError{where, err}
	}
	if c.Size != size {
		return &VerifyError{where, fmt.Errorf("filed under the wrong size (it says %d)", c.Size)}
	}
	if c.Origin != w.l.origin {
		return &VerifyError{where, fmt.Errorf("origin %q, want %q", c.Origin, w.l.origin)}
	}
	root := hasher.EmptyRoot()
	if size > 0 {
		if root, err = w.rng.GetRootHash(nil); err != nil {
			return &VerifyError{where, err}
		}
	}
	if !bytes.Equal(root, c.Hash[:]) {
		return &VerifyError{where, errors.New("root hash does not match the entries")}
	}
	return nil
}

// chunk checks the entries [start, end) in one transaction, with the blobs
// and checkpoints filed among them.
func (w *verifier) chunk(tx *bolt.Tx, start, end uint64) error {
	l := w.l
	logB, tiles := tx.Bucket(bucketLog), tx.Bucket(bucketTiles)
	merged, err := readU64(tx.Bucket(bucketMeta), keyMerged)
	if err != nil {
		return &VerifyError{"merge watermark", err}
	}
	if hi := min(end, merged); start < hi {
		w.counted = append(w.counted, [2]uint64{start, hi})
	}
	// Tile bytes are only valid within this transaction.
	w.edge, w.edgeN = make(map[uint8][]byte), make(map[uint8]uint64)
	c := logB.Cursor()
	i := start // the next entry expected
	var entry []byte
	for k, v := c.Seek(u64(start)); k != nil && !bytes.HasPrefix(k, statePrefix); k, v = c.Next() {
		if filedAfter(k) != 0 {
			idx := binary.BigEndian.Uint64(k)
			if idx != i-1 || i == start {
				if idx >= end {
					break // belongs to the next chunk
				}
				return &VerifyError{fmt.Sprintf("log key %x", k), errors.New("filed under no entry")}
			}
			if k[8] == 'c' {
				if err := w.checkpoint(idx+1, v); err != nil {
					return err
				}
				continue
			}
			blob := v
			if blob == nil {
				blob = getBlob(logB, k)
			}
			if blob == nil {
				return &VerifyError{fmt.Sprintf("blob of entry %d", idx), errors.New("bucket without a blob")}
			}
			if l.opts.CheckBlob != nil {
				if err := l.opts.CheckBlob(entry, blob); err != nil {
					return &VerifyError{fmt.Sprintf("blob of entry %d", idx), err}
				}
			}
			continue
		}
		if len(k) != 8 || binary.BigEndian.Uint64(k) > i {
			break // a missing entry: reported below
		}
		if i == end {
			break
		}
		if binary.BigEndian.Uint64(k) != i || v == nil {
			return &VerifyError{fmt.Sprintf("log key %x", k), errors.New("out of place")}
		}
		entry = v
		if err := w.entry(tiles, logB, tx, merged, i, v); err != nil {
			return err
		}
		i++
	}
	if i < end {
		return &VerifyError{fmt.Sprintf("entry %d", i), errors.New("missing")}
	}
	return nil
}

// indexed checks the on-disk indexes point at entry i, e (whose leaf hash
// is leaf), which is below the watermark, and counts its secondary-index
// keys in w.want.
func (w *verifier) indexed(tx *bolt.Tx, i uint64, e []byte, leaf [32]byte) error {
	l := w.l
	where := fmt.Sprintf("entry %d", i)
	if l.opts.Identity != nil {
		if v := tx.Bucket(bucketLeaves).Get(leaf[:]); len(v) != 8 || binary.BigEndian.Uint64(v) != i {
			return &VerifyError{where, errors.New("leaf-hash index does not point at it")}
		}
	}
	id := l.identity(e)
	if v := tx.Bucket(bucketIdentity).Get(id[:]); len(v) != 8 || binary.BigEndian.Uint64(v) != i {
		return &VerifyError{where, errors.New("identity index does not point at it")}
	}
	if l.opts.Index == nil {
		return nil
	}
	keys, err := l.opts.Index(e)
	if err != nil {
		return &VerifyError{where, fmt.Errorf("index function refuses a logged entry: %w", err)}
	}
	for j, k := range keys {
		if slices.ContainsFunc(keys[:j], func(o IndexKey) bool { return o.Name == k.Name && bytes.Equal(o.Key, k.Key) }) {
			continue // one key however often Index names it
		}
		b := tx.Bucket([]byte(indexPrefix + k.Name))
		if b == nil || b.Get(indexKey(k.Key, i)) == nil {
			return &VerifyError{where, fmt.Errorf("missing from index %q under %q", k.Name, k.Key)}
		}
		w.want[k.Name]++
	}
	return nil
}

// entry checks entry i: its size, its place in the dedup and secondary
// indexes, and its hashes in the stored tiles.
func (w *verifier) entry(tiles, logB *bolt.Bucket, tx *bolt.Tx, merged, i uint64, e []byte) error {
	where := fmt.Sprintf("entry %d", i)
	if len(e) == 0 || len(e) > MaxEntrySize {
		return &VerifyError{where, fmt.Errorf("size %d out of range", len(e))}
	}
	leaf := leafHash(e)
	// Below the merge watermark the on-disk indexes must point at the
	// entry; above it, they are rebuilt from the entries on open.
	if i < merged {
		if err := w.indexed(tx, i, e, leaf); err != nil {
			return err
		}
	}
	var verr error
	err := w.rng.Append(leaf[:], func(id compact.NodeID, h []byte) {
		if id.Level%tile.Height != 0 || verr != nil {
			return
		}
		tl, n, pos := uint8(id.Level/tile.Height), id.Index/tile.FullWidth, id.Index%tile.FullWidth
		t, ok := w.edge[tl]
		if !ok || w.edgeN[tl] != n {
			t = readTile(tiles, logB, tl, n)
			count := w.size >> (uint(tl) * tile.Height)
			want, ok := tile.FullWidth*32, len(t) == tile.FullWidth*32
			if n == (count-1)/tile.FullWidth {
				// The right-edge tile may have grown since.
				want = int(count-n*tile.FullWidth) * 32
				ok = len(t) >= want && len(t) <= tile.FullWidth*32
			}
			if !ok {
				verr = &VerifyError{fmt.Sprintf("tile %d/%d", tl, n), fmt.Errorf("%d bytes, want %d", len(t), want)}
				return
			}
			w.edge[tl], w.edgeN[tl] = t, n
		}
		if !bytes.Equal(t[pos*32:pos*32+32], h) {
			if id.Level == 0 {
				verr = &VerifyError{fmt.Sprintf("entry %d", id.Index), fmt.Errorf("its leaf hash does not match tile 0/%d", n)}
			} else {
				verr = &VerifyError{fmt.Sprintf("tile %d/%d", tl, n), fmt.Errorf("hash %d does not match the entries", pos)}
			}
		}
	})
	if err != nil {
		return &VerifyError{where, err}
	}
	return verr
}
