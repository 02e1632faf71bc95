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
//	meta         "format" -> formatVersion; "merged" -> uint64: the keys of
//	             entries below it are in identity, leaves and x/, the rest in
//	             memory (see dedup.go), though a merge under way, or cut
//	             short by a crash, may have put some of them already;
//	             "checkpoint0" -> the checkpoint of the empty tree;
//	             "schema" -> Options.Schema the entries were written under
//	             (absent if none was given)
//	log          the log itself, in one key order:
//	             log index (8) -> entry;
//	             log index (8) || 'b' -> the blob stored with that entry by
//	             AppendWithBlobs (the node's envelope); a blob of largeValue
//	             bytes or more is a bucket holding it under "v";
//	             log index (8) || 'c' -> the checkpoint signed at the tree
//	             size that entry ends, if one was;
//	             and, after every entry, the partial tiles of the right edge:
//	             statePrefix || "edge" || level (1) -> tile index (8) ||
//	             hashes: the partial tile at the right edge of that level,
//	             absent when the level ends on a full tile
//	             The tree size is the last entry's index + 1, and the latest
//	             checkpoint the last one filed: neither is stored twice.
//	tiles        level (1) || tile index (8) -> a full tile's 256 hashes, 32
//	             bytes each, as c2sp.org/tlog-tiles serves them
//	identity     identity (32) -> log index (8), for deduplication, for
//	             entries below the merge watermark
//	leaves       leaf hash (32) -> log index (8), only when Options.Identity
//	             is set (otherwise identity is the leaf hash), likewise
//	x/<name>     secondary index <name>: uvarint(len(key)) || key || log
//	             index (8) -> empty
//
// The layout keeps what a batch rewrites small. bbolt copies every page it
// changes, and the path from it to the root, and never splits a leaf of four
// values or fewer. So a batch's entries, blobs, checkpoint, partial tiles and
// size all land at the right end of the one log bucket: the batch writes its
// new pages, the last leaf or two and their branch path, not a leaf and path
// in each of six buckets. And nothing large sits beside its neighbours, where
// appending would rewrite three or four of them: a large blob is a bucket of
// its own, full tiles live in their own bucket, and an entry bundle is a key
// range of entries, written once each. (Format 1 wrote about ten bytes for
// every byte of entry: it appended 256 KiB bundle values beside each other
// and staged every entry in a tail bucket first.)
const formatVersion = "evident-ledger/3"

var (
	bucketMeta     = []byte("meta")
	bucketLog      = []byte("log")
	bucketTiles    = []byte("tiles")
	bucketIdentity = []byte("identity")
	bucketLeaves   = []byte("leaves")

	keyFormat      = []byte("format")
	keySchema      = []byte("schema")
	keyMerged      = []byte("merged")
	keyCheckpoint0 = []byte("checkpoint0")
	keyBlobValue   = []byte("v")

	// statePrefix sorts after every key of an entry: log indices stay below
	// MaxTreeSize.
	statePrefix = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

	indexPrefix = "x/"
)

// MaxTreeSize bounds the log, keeping its keys below the state's.
const MaxTreeSize = 1 << 62

func stateKey(name string) []byte { return append(append([]byte(nil), statePrefix...), name...) }

func edgeKey(level uint8) []byte { return append(stateKey("edge"), level) }

func blobKey(index uint64) []byte { return append(u64(index), 'b') }

// filedAfter returns 'b' or 'c' for the key of a blob or checkpoint filed
// after an entry, and 0 for any other key.
func filedAfter(k []byte) byte {
	if len(k) == 9 && (k[8] == 'b' || k[8] == 'c') {
		return k[8]
	}
	return 0
}

// checkpointKey is where the checkpoint of a tree of size >= 1 is kept:
// right after the tree's last entry.
func checkpointKey(size uint64) []byte { return append(u64(size-1), 'c') }

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
			hint := "it is not an Evident ledger"
			if bytes.HasPrefix(v, []byte("evident-ledger/")) {
				hint = "serve it with the build that wrote it, or move it aside to start a new log"
			}
			return fmt.Errorf("%w: %s has format %q, this build reads %q; %s", ErrUnrecognized, path, v, formatVersion, hint)
		}
		return nil
	})
}

// initFormat creates the buckets of a new file and stamps its version and
// schema (Options.Schema). A ledger that holds entries keeps the schema it
// has: one made for other entries, or before schemas were recorded, is
// refused.
func initFormat(tx *bolt.Tx, schema string) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	if err := checkSchema(tx, meta, schema); err != nil {
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
	for _, b := range [][]byte{bucketLog, bucketTiles, bucketIdentity, bucketLeaves} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}

// checkSchema records schema in a ledger that holds no entries, and refuses
// one whose entries were written under another schema.
func checkSchema(tx *bolt.Tx, meta *bolt.Bucket, schema string) error {
	if schema == "" {
		return nil
	}
	got := meta.Get(keySchema)
	if string(got) == schema {
		return nil
	}
	empty := true
	if lb := tx.Bucket(bucketLog); lb != nil {
		if k, _ := lb.Cursor().First(); k != nil && !bytes.HasPrefix(k, statePrefix) {
			empty = false
		}
	}
	if !empty {
		was := fmt.Sprintf("schema %q", got)
		if got == nil {
			was = "no schema (it was made by an earlier version)"
		}
		return fmt.Errorf("%w: its entries were written with %s, and this build writes %q; "+
			"serve it with the build that made it, or move it aside to start a new log", ErrUnrecognized, was, schema)
	}
	return meta.Put(keySchema, []byte(schema))
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

// readTile returns the stored tile at level and index n within tx: a full one
// from tiles, or the partial right-edge one from the log's state; nil if there
// is none. The bytes are valid only within tx.
func readTile(tiles, log *bolt.Bucket, level uint8, n uint64) []byte {
	if t := tiles.Get(tileKey(level, n)); t != nil {
		return t
	}
	v := log.Get(edgeKey(level))
	if len(v) < 8 || binary.BigEndian.Uint64(v) != n {
		return nil
	}
	return v[8:]
}

// forEntries calls fn with each entry in [start, end), in order, skipping
// the blobs and checkpoints between them. Every entry in the range must be
// stored. The entries are valid only within the transaction.
func forEntries(log *bolt.Bucket, start, end uint64, fn func(i uint64, e []byte) error) error {
	if start >= end {
		return nil
	}
	c := log.Cursor()
	i := start
	for k, v := c.Seek(u64(start)); k != nil && i < end; k, v = c.Next() {
		if filedAfter(k) != 0 {
			continue
		}
		if len(k) != 8 || binary.BigEndian.Uint64(k) != i || v == nil {
			break
		}
		if err := fn(i, v); err != nil {
			return err
		}
		i++
	}
	if i < end {
		return &missingEntryError{i}
	}
	return nil
}

// latestCheckpoint returns the last checkpoint filed in the log, or the
// empty tree's. It walks back from the right edge past the entries appended
// since that checkpoint: none when one is signed per batch, an interval's
// worth otherwise.
func latestCheckpoint(log, meta *bolt.Bucket) []byte {
	c := log.Cursor()
	var k, v []byte
	if k, _ = c.Seek(statePrefix); k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for ; k != nil; k, v = c.Prev() {
		if filedAfter(k) == 'c' {
			return v
		}
	}
	return meta.Get(keyCheckpoint0)
}

// lastEntry returns the key of the last entry stored in the log, or nil if
// it holds none.
func lastEntry(log *bolt.Bucket) []byte {
	c := log.Cursor()
	k, _ := c.Seek(statePrefix)
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	for filedAfter(k) != 0 {
		k, _ = c.Prev()
	}
	return k
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
