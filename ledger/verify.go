package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/evident-dev/evident/checkpoint"
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
// indexes point at each entry, checks every stored checkpoint's signature
// (with v) and root, and reports the first problem as a *VerifyError. It
// checks the tree as it was when Verify started; appends may continue.
func (l *Ledger) Verify(ctx context.Context, v note.Verifier) error {
	var size uint64
	type cp struct {
		size uint64
		root [32]byte
	}
	var cps []cp
	err := l.view(ctx, func(tx *bolt.Tx) error {
		size = treeSize(tx)
		latest := tx.Bucket(bucketMeta).Get(keyCheckpoint)
		var last []byte
		err := tx.Bucket(bucketCheckpoints).ForEach(func(k, signed []byte) error {
			where := fmt.Sprintf("checkpoint %x", k)
			if len(k) == 8 {
				where = fmt.Sprintf("checkpoint %d", binary.BigEndian.Uint64(k))
			}
			n, err := note.Open(signed, note.VerifierList(v))
			if err != nil {
				return &VerifyError{where, fmt.Errorf("signature: %w", err)}
			}
			c, err := checkpoint.Parse([]byte(n.Text))
			if err != nil {
				return &VerifyError{where, err}
			}
			if len(k) != 8 || c.Size != binary.BigEndian.Uint64(k) {
				return &VerifyError{where, fmt.Errorf("filed under the wrong size (it says %d)", c.Size)}
			}
			if c.Origin != l.origin {
				return &VerifyError{where, fmt.Errorf("origin %q, want %q", c.Origin, l.origin)}
			}
			if c.Size > size {
				return &VerifyError{where, fmt.Errorf("beyond the tree size %d", size)}
			}
			cps = append(cps, cp{c.Size, c.Hash})
			last = signed
			return nil
		})
		if err != nil {
			return err
		}
		if !bytes.Equal(latest, last) {
			return &VerifyError{"checkpoint", errors.New("the latest checkpoint is not the last one signed")}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(cps) == 0 {
		return &VerifyError{"checkpoint", errors.New("no signed checkpoint")}
	}

	rng := l.factory.NewEmptyRange(0)
	edge := make(map[uint8][]byte) // the tile being compared, per level
	edgeN := make(map[uint8]uint64)
	checkRoot := func(n uint64) error {
		for len(cps) > 0 && cps[0].size == n {
			root := hasher.EmptyRoot()
			if n > 0 {
				var err error
				if root, err = rng.GetRootHash(nil); err != nil {
					return err
				}
			}
			if !bytes.Equal(root, cps[0].root[:]) {
				return &VerifyError{fmt.Sprintf("checkpoint %d", n), errors.New("root hash does not match the entries")}
			}
			cps = cps[1:]
		}
		return nil
	}
	if err := checkRoot(0); err != nil {
		return err
	}
	for start := uint64(0); start < size; start += verifyChunk {
		end := min(start+verifyChunk, size)
		err := l.view(ctx, func(tx *bolt.Tx) error {
			tiles := tx.Bucket(bucketTiles)
			ident, leaves := tx.Bucket(bucketIdentity), tx.Bucket(bucketLeaves)
			meta := tx.Bucket(bucketMeta)
			merged, err := readU64(meta, keyMerged)
			if err != nil {
				return &VerifyError{"merge watermark", err}
			}
			err = forEntries(tx.Bucket(bucketEntries), start, end, func(i uint64, e []byte) error {
				where := fmt.Sprintf("entry %d", i)
				if len(e) == 0 || len(e) > MaxEntrySize {
					return &VerifyError{where, fmt.Errorf("size %d out of range", len(e))}
				}
				var leaf [32]byte
				copy(leaf[:], hasher.HashLeaf(e))
				id := leaf
				if l.opts.Identity != nil {
					id = l.opts.Identity(e)
				}
				// Below the merge watermark the on-disk dedup index must
				// point at the entry; above it, it is rebuilt from the
				// entries on open.
				if i < merged {
					if l.opts.Identity != nil {
						if v := leaves.Get(leaf[:]); len(v) != 8 || binary.BigEndian.Uint64(v) != i {
							return &VerifyError{where, errors.New("leaf-hash index does not point at it")}
						}
					}
					if v := ident.Get(id[:]); len(v) != 8 || binary.BigEndian.Uint64(v) != i {
						return &VerifyError{where, errors.New("identity index does not point at it")}
					}
				}
				if l.opts.Index != nil && i < merged {
					keys, err := l.opts.Index(e)
					if err != nil {
						return &VerifyError{where, fmt.Errorf("index function refuses a logged entry: %w", err)}
					}
					for _, k := range keys {
						b := tx.Bucket([]byte(indexPrefix + k.Name))
						if b == nil || b.Get(indexKey(k.Key, i)) == nil {
							return &VerifyError{where, fmt.Errorf("missing from index %q under %q", k.Name, k.Key)}
						}
					}
				}
				var verr error
				err := rng.Append(leaf[:], func(id compact.NodeID, h []byte) {
					if id.Level%TileHeight != 0 || verr != nil {
						return
					}
					tl, n, pos := uint8(id.Level/TileHeight), id.Index/TileWidth, id.Index%TileWidth
					t, ok := edge[tl]
					if !ok || edgeN[tl] != n {
						t = readTile(tiles, meta, tl, n)
						count := size >> (uint(tl) * TileHeight)
						want, ok := TileWidth*32, len(t) == TileWidth*32
						if n == (count-1)/TileWidth {
							// The right-edge tile may have grown since.
							want = int(count-n*TileWidth) * 32
							ok = len(t) >= want && len(t) <= TileWidth*32
						}
						if !ok {
							verr = &VerifyError{fmt.Sprintf("tile %d/%d", tl, n), fmt.Errorf("%d bytes, want %d", len(t), want)}
							return
						}
						edge[tl], edgeN[tl] = t, n
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
				if verr != nil {
					return verr
				}
				return checkRoot(i + 1)
			})
			clear(edge) // tile bytes are only valid within this transaction
			var ve *VerifyError
			var me *missingEntryError
			if errors.As(err, &me) {
				return &VerifyError{fmt.Sprintf("entry %d", me.index), errors.New("missing")}
			}
			if err != nil && !errors.As(err, &ve) {
				return &VerifyError{"entries", err}
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	return l.view(ctx, func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bucketEntries).Cursor().Last(); k != nil {
			var last []byte
			if b := tx.Bucket(bucketEntries).Bucket(k); b != nil {
				last, _ = b.Cursor().Last()
			}
			if len(k) != 8 || len(last) != 1 || binary.BigEndian.Uint64(k)*TileWidth+uint64(last[0]) >= treeSize(tx) {
				return &VerifyError{fmt.Sprintf("entry bundle %x", k), fmt.Errorf("holds entries beyond the tree size %d", treeSize(tx))}
			}
		}
		merged, err := readU64(tx.Bucket(bucketMeta), keyMerged)
		if err != nil {
			return &VerifyError{"merge watermark", err}
		}
		if n := tx.Bucket(bucketIdentity).Stats().KeyN; uint64(n) != merged {
			return &VerifyError{"identity index", fmt.Errorf("%d keys for %d merged entries", n, merged)}
		}
		size := treeSize(tx)
		blobs := tx.Bucket(bucketBlobs)
		return blobs.ForEach(func(k, v []byte) error {
			if v == nil {
				v = getBlob(blobs, k)
			}
			if len(k) != 8 || binary.BigEndian.Uint64(k) >= size || v == nil {
				return &VerifyError{fmt.Sprintf("blob %x", k), errors.New("belongs to no entry")}
			}
			if l.opts.CheckBlob == nil {
				return nil
			}
			i := binary.BigEndian.Uint64(k)
			es, err := l.entriesTx(tx, i, 1)
			if err != nil {
				return &VerifyError{fmt.Sprintf("blob of entry %d", i), err}
			}
			if err := l.opts.CheckBlob(es[0], v); err != nil {
				return &VerifyError{fmt.Sprintf("blob of entry %d", i), err}
			}
			return nil
		})
	})
}
