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
//	             leaves, the rest only in memory (see dedup.go)
//	tiles        level (1 byte) || tile index (8) -> the tile's hashes, 32
//	             bytes each, as c2sp.org/tlog-tiles serves them; the right-edge
//	             tile of each level is partial and rewritten as it grows
//	bundles      bundle index (8) -> a full entry bundle (256 entries, each
//	             prefixed by its 16-bit big-endian length, c2sp.org/tlog-tiles)
//	tail         log index (8) -> entry, for entries of the partial bundle at
//	             the right edge; moved into bundles when it fills
//	identity     identity (32) -> log index (8), for deduplication, for
//	             entries below the merge watermark
//	leaves       leaf hash (32) -> log index (8), only when Options.Identity
//	             is set (otherwise identity is the leaf hash), likewise
//	checkpoints  tree size (8) -> signed checkpoint note, every one signed
//	blobs        log index (8) -> content stored with that entry by
//	             AppendWithBlobs (the node's envelopes), in the entry's
//	             transaction
//	x/<name>     secondary index <name>: uvarint(len(key)) || key || log
//	             index (8) -> empty
const formatVersion = "evident-ledger/1"

var (
	bucketMeta        = []byte("meta")
	bucketTiles       = []byte("tiles")
	bucketBundles     = []byte("bundles")
	bucketTail        = []byte("tail")
	bucketIdentity    = []byte("identity")
	bucketLeaves      = []byte("leaves")
	bucketCheckpoints = []byte("checkpoints")
	bucketBlobs       = []byte("blobs")

	keyFormat     = []byte("format")
	keySize       = []byte("size")
	keyCheckpoint = []byte("checkpoint")
	keyMerged     = []byte("merged")

	indexPrefix = "x/"
)

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
	for _, b := range [][]byte{bucketTiles, bucketBundles, bucketTail, bucketIdentity, bucketLeaves, bucketCheckpoints, bucketBlobs} {
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
