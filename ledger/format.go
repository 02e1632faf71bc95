package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The bbolt file holds these top-level buckets. Integers are big-endian so
// that keys sort in log order.
//
//	meta         "format" -> formatVersion; "size" -> uint64 tree size;
//	             "checkpoint" -> latest signed checkpoint note;
//	             "merged" -> uint64: entries below it are in identity and
//	             leaves, the rest only in memory (see dedup.go);
//	             "edge" || level (1) -> tile index (8) || hashes: the partial
//	             tile at the right edge of that level, absent when the level
//	             ends on a full tile
//	tiles        level (1) || tile index (8) -> a full tile's 256 hashes, 32
//	             bytes each, as c2sp.org/tlog-tiles serves them
//	entries      bundle index (8) -> a bucket holding that entry bundle:
//	             offset in the bundle (1) -> entry
//	identity     identity (32) -> log index (8), for deduplication, for
//	             entries below the merge watermark
//	leaves       leaf hash (32) -> log index (8), only when Options.Identity
//	             is set (otherwise identity is the leaf hash), likewise
//	checkpoints  tree size (8) -> signed checkpoint note, every one signed
//	blobs        log index (8) -> content stored with that entry by
//	             AppendWithBlobs (the node's envelopes), in the entry's
//	             transaction; a blob of largeValue bytes or more is a bucket
//	             holding it under "v"
//	x/<name>     secondary index <name>: uvarint(len(key)) || key || log
//	             index (8) -> empty
//
// The layout keeps what a batch rewrites small. bbolt rewrites a whole leaf
// page to change one value in it, and never splits a leaf of four values or
// fewer, so appending a value of a page or more beside others rewrites three
// or four of them each time. So nothing large is stored beside its
// neighbours: an entry bundle is a bucket of its entries (written once each,
// never copied into a second value), a large blob is a bucket of its own, and
// the partial tiles that every batch changes live apart from the full ones.
// Format 1 stored each bundle as one 256-entry value and staged the partial
// one in a tail bucket; it wrote ten bytes for every byte of entry.
const formatVersion = "evident-ledger/2"

var (
	bucketMeta        = []byte("meta")
	bucketTiles       = []byte("tiles")
	bucketEntries     = []byte("entries")
	bucketIdentity    = []byte("identity")
	bucketLeaves      = []byte("leaves")
	bucketCheckpoints = []byte("checkpoints")
	bucketBlobs       = []byte("blobs")

	keyFormat     = []byte("format")
	keySize       = []byte("size")
	keyCheckpoint = []byte("checkpoint")
	keyMerged     = []byte("merged")
	keyBlobValue  = []byte("v")

	indexPrefix = "x/"
)

// largeValue is the size from which a blob gets a bucket of its own: a
// quarter page, the size from which bbolt keeps a bucket out of its parent's
// leaf.
const largeValue = pageSize / 4

// pageSize is the bbolt page size of a ledger file.
const pageSize = 16 << 10

// checkFormat opens path read-only and checks that it is a ledger of this
// format version, so that a foreign file is never modified.
func checkFormat(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return fmt.Errorf("couldn't open ledger %s: another process holds it", path)
		}
		return fmt.Errorf("%w: %s: %v", ErrUnrecognized, path, err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return fmt.Errorf("%w: %s has no ledger metadata", ErrUnrecognized, path)
		}
		v := meta.Get(keyFormat)
		if !bytes.Equal(v, []byte(formatVersion)) {
			return fmt.Errorf("%w: %s has format %q, this build reads %q", ErrUnrecognized, path, v, formatVersion)
		}
		return nil
	})
}

// initFormat creates the buckets of a new file and stamps its version.
func initFormat(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	if v := meta.Get(keyFormat); v == nil {
		if tx.Bucket(bucketTiles) != nil {
			return fmt.Errorf("%w: buckets without a format version", ErrUnrecognized)
		}
		if err := meta.Put(keyFormat, []byte(formatVersion)); err != nil {
			return err
		}
	} else if !bytes.Equal(v, []byte(formatVersion)) {
		return fmt.Errorf("%w: format %q", ErrUnrecognized, v)
	}
	for _, b := range [][]byte{bucketTiles, bucketEntries, bucketIdentity, bucketLeaves, bucketCheckpoints, bucketBlobs} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func tileKey(level uint8, n uint64) []byte {
	var b [9]byte
	b[0] = level
	binary.BigEndian.PutUint64(b[1:], n)
	return b[:]
}

// indexKey is the stored form of one secondary-index key: the length-prefixed
// key keeps "abc" and "abcd" apart, and the big-endian log index orders an
// index key's entries oldest first.
func indexKey(key []byte, idx uint64) []byte {
	b := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(key)+8), uint64(len(key)))
	b = append(b, key...)
	return binary.BigEndian.AppendUint64(b, idx)
}

func indexPrefixOf(key []byte) []byte {
	b := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(key)), uint64(len(key)))
	return append(b, key...)
}

func edgeKey(level uint8) []byte { return []byte{'e', 'd', 'g', 'e', level} }

// readTile returns the stored tile at level and index n within tx: a full one
// from tiles, or the partial right-edge one from meta; nil if there is none.
// The bytes are valid only within tx.
func readTile(tiles, meta *bolt.Bucket, level uint8, n uint64) []byte {
	if t := tiles.Get(tileKey(level, n)); t != nil {
		return t
	}
	v := meta.Get(edgeKey(level))
	if len(v) < 8 || binary.BigEndian.Uint64(v) != n {
		return nil
	}
	return v[8:]
}

// bundleEntries calls fn with the entries of bundle n from offset first on,
// in order, until fn returns false. It fails if an offset is missing or out
// of place. The entries are valid only within tx.
func bundleEntries(entries *bolt.Bucket, n uint64, first int, fn func(off int, e []byte) bool) error {
	b := entries.Bucket(u64(n))
	if b == nil {
		return &missingEntryError{n*TileWidth + uint64(first)}
	}
	c := b.Cursor()
	want := first
	for k, v := c.Seek([]byte{byte(first)}); k != nil; k, v = c.Next() {
		if len(k) != 1 || int(k[0]) != want || v == nil {
			return &missingEntryError{n*TileWidth + uint64(want)}
		}
		if !fn(want, v) {
			return nil
		}
		want++
	}
	return nil
}

// missingEntryError reports an entry of the tree that is not stored.
type missingEntryError struct{ index uint64 }

func (e *missingEntryError) Error() string {
	return fmt.Sprintf("%v: entry %d is missing", errCorrupt, e.index)
}
func (e *missingEntryError) Unwrap() error { return errCorrupt }

// putBlob stores blob under key in b, in a bucket of its own when it is
// large (see the layout above).
func putBlob(b *bolt.Bucket, key, blob []byte) error {
	if len(blob) < largeValue {
		return b.Put(key, blob)
	}
	nb, err := b.CreateBucket(key)
	if err != nil {
		return err
	}
	return nb.Put(keyBlobValue, blob)
}

// getBlob returns the blob stored under key in b, or nil.
func getBlob(b *bolt.Bucket, key []byte) []byte {
	if v := b.Get(key); v != nil {
		return v
	}
	if nb := b.Bucket(key); nb != nil {
		return nb.Get(keyBlobValue)
	}
	return nil
}
