// Package ledger is Evident's append-only, signed Merkle log, stored in one
// bbolt file.
//
// The tree uses RFC 6962 hashing. Its hashes are stored as C2SP tlog-tiles
// (height 8), and entries grouped by C2SP entry bundle, so that serving a tile
// is one key lookup, a bundle one bucket read in key order, and an inclusion
// or consistency proof a handful of lookups, without ever rebuilding the tree.
// Only the right edge of the tree (one partial tile per level and the compact
// range) is kept in memory, so memory stays flat as the log grows.
//
// Appends from many goroutines are group-committed by a single sequencer: one
// bbolt transaction, and so one fsync, per batch. Append returns only once its
// entries are durable. After each batch (or on an interval) the ledger signs a
// C2SP tlog-checkpoint with the node's note key, after checking that the new
// tree is consistent with the last checkpoint it signed.
//
// The file layout is described in format.go.
package ledger

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evident-dev/evident/tile"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
)

// MaxEntrySize is the largest entry the ledger accepts. C2SP tlog-tiles entry
// bundles prefix each entry with a 16-bit big-endian length.
const MaxEntrySize = 1<<16 - 1

// MaxIndexNameSize and MaxIndexKeySize bound an IndexKey's Name and Key: the
// key, with its length and a log index, must fit a bbolt key.
const (
	MaxIndexNameSize = 255
	MaxIndexKeySize  = bolt.MaxKeySize - binary.MaxVarintLen64 - 8
)

var (
	// ErrPushback means the append queue is full; the caller should retry
	// later. A server maps it to "unavailable, retry".
	ErrPushback = errors.New("ledger: too many appends queued, retry later")
	// ErrClosed is returned by calls made after Close.
	ErrClosed = errors.New("ledger: closed")
	// ErrNotFound is returned when an entry, tile, bundle, identity or
	// checkpoint does not exist (for example beyond the current tree size).
	ErrNotFound = errors.New("ledger: not found")
	// ErrUnrecognized is returned by Open for a file that is not an Evident
	// ledger, or one written by a newer format version. The file is left as
	// it is.
	ErrUnrecognized = errors.New("ledger: not a ledger file this version can open")
	// ErrInvalidEntry is returned by Append for an empty or oversized entry,
	// or one the Index function refused. Nothing of that call is stored.
	ErrInvalidEntry = errors.New("ledger: invalid entry")
)

// IndexKey is one secondary-index key of an entry: the entry's log index is
// filed under Key in the index called Name.
type IndexKey struct {
	Name string
	Key  []byte
}

// Options configures a Ledger. The zero value of every field but Signer is a
// sensible default.
type Options struct {
	// Signer signs checkpoints. Its name is the log's origin (c2sp.org/
	// tlog-checkpoint: the origin line is the key name). Required.
	Signer note.Signer

	// Identity returns the deduplication key of an entry: appending an entry
	// whose identity is already in the log returns the existing index.
	// Default (nil): the entry's RFC 6962 leaf hash, SHA-256(0x00 || entry),
	// which then also serves as the leaf-hash index.
	Identity func(entry []byte) [32]byte

	// Index returns the secondary-index keys of an entry. It runs before the
	// entry is queued; an error refuses the whole Append call (wrapped in
	// ErrInvalidEntry) and nothing is stored. The keys are written in the
	// same transaction as the entry, so the log and its indexes never
	// disagree. Default (nil): no secondary indexes.
	Index func(entry []byte) ([]IndexKey, error)

	// Schema names what the entries are and how they are indexed, as the
	// ledger's user defines them (Evident: evidence.EntryHeader). A ledger
	// without entries records it; Open refuses a ledger whose entries were
	// written under another schema, or under none, with ErrUnrecognized.
	// Default "": not recorded or checked.
	Schema string

	// DedupMergeSize is how many of the newest entries' identities are
	// kept in memory (rebuilt from the log on open) before they are merged
	// into the on-disk index in one sorted pass, spread over the following
	// batches; see dedup.go. Memory use is about 100 bytes per entry (twice
	// that with Identity set) plus its index keys, and up to twice
	// DedupMergeSize entries are in memory while a merge runs. Default
	// 65536.
	DedupMergeSize int

	// TileCacheSize is how many full tiles' interior hashes are cached for
	// proofs (8 KiB each). Default 4096 (32 MiB).
	TileCacheSize int

	// CheckBlob, when set, is how Verify checks a blob stored with an
	// entry (the node checks the envelope hashes to the entry's digest).
	// Default: blobs are opaque; Verify only checks each belongs to an
	// entry.
	CheckBlob func(entry, blob []byte) error

	// MaxBatchSize bounds the entries committed in one transaction.
	// Default 1024.
	MaxBatchSize int
	// MaxBatchWait is how long the sequencer waits for more entries once a
	// batch has started before committing it. Positive: up to that long,
	// ending early once no entry arrived for a quarter of it; this suits
	// callers that do much work between appends, such as a node verifying
	// submissions, where fewer, larger commits leave more CPU for that
	// work. Zero (the default) adapts to callers that come straight back:
	// it waits for as many callers as the last batch answered, for at most
	// half the last commit's time (and 5ms). Negative commits at once with
	// whatever has queued.
	MaxBatchWait time.Duration
	// MaxPending bounds the entries queued and not yet committed; beyond it
	// Append returns ErrPushback. Default 65536.
	MaxPending int
	// MaxBatchBytes bounds the entry and blob bytes committed in one
	// transaction (a larger single call is committed alone). Default 64 MiB.
	MaxBatchBytes int64
	// MaxPendingBytes bounds the entry and blob bytes queued and not yet
	// committed; beyond it Append returns ErrPushback (a single call is
	// always admitted when nothing is queued). Default 512 MiB.
	MaxPendingBytes int64

	// CheckpointInterval, when positive, signs a checkpoint at most this
	// often rather than after every batch. Default 0: a checkpoint is
	// signed in the same transaction as each batch, so every durable entry
	// is covered by a signed checkpoint at once.
	CheckpointInterval time.Duration

	// NoSync skips fsync. Only for tests and benchmarks that measure
	// something else: a crash can lose acknowledged entries. Default false.
	NoSync bool

	// Logger receives the ledger's logs. Default: discard.
	Logger *slog.Logger

	// Metrics, when set, receives the ledger's metrics (see metrics.go).
	// Default: none.
	Metrics prometheus.Registerer

	// now is the clock, for tests. Default time.Now.
	now func() time.Time
}

// Appended is the outcome of appending one entry.
type Appended struct {
	// Index is the entry's position in the log.
	Index uint64
	// Duplicate is true when an entry with the same identity was already in
	// the log (or earlier in the same batch); Index is that entry's.
	Duplicate bool
}

// Ledger is an open log. It is safe for concurrent use.
type Ledger struct {
	db       *bolt.DB
	opts     Options
	origin   string
	log      *slog.Logger
	metrics  *metrics
	factory  *compact.RangeFactory
	q        queue
	pending  atomic.Int64
	pendingB atomic.Int64 // bytes
	closing  chan struct{}
	done     chan struct{}
	closeMu  sync.RWMutex // held for reading while enqueuing, for writing by Close
	closed   bool
	seqState *seqState // owned by the sequencer goroutine
	dedup    dedup
	merging  *merge         // the merge under way, or nil; owned by the sequencer
	bg       sync.WaitGroup // goroutines the sequencer starts (merge sorts)
	// sortedRun wakes the sequencer when a merge's next keys are sorted.
	sortedRun chan struct{}
	stepKeys  int // tests: a merge step puts this many keys, whatever its quota
	tiles     *tile.Cache

	// published is what readers see: the latest committed size and signed
	// checkpoint.
	mu        sync.RWMutex
	size      uint64
	cpSize    uint64
	cpNote    []byte
	cpChanged chan struct{} // closed and replaced when a checkpoint is published
}

var hasher = rfc6962.DefaultHasher

// leafHash is e's RFC 6962 leaf hash.
func leafHash(e []byte) (h [32]byte) {
	copy(h[:], hasher.HashLeaf(e))
	return h
}

// identity is e's deduplication key: Options.Identity of it, or its leaf
// hash.
func (l *Ledger) identity(e []byte) [32]byte {
	if l.opts.Identity != nil {
		return l.opts.Identity(e)
	}
	return leafHash(e)
}

// Open opens the ledger in the bbolt file at path, creating it if it does not
// exist. A file that is not an Evident ledger, or of a newer format version,
// is refused with ErrUnrecognized and not modified. ctx bounds the opening,
// not the ledger's life: Close ends that.
func Open(ctx context.Context, path string, opts Options) (*Ledger, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.Signer == nil {
		return nil, errors.New("ledger: Options.Signer is required")
	}
	if opts.MaxBatchSize <= 0 {
		opts.MaxBatchSize = 1024
	}
	if opts.TileCacheSize <= 0 {
		opts.TileCacheSize = 4096
	}
	if opts.DedupMergeSize <= 0 {
		opts.DedupMergeSize = 65536
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 65536
	}
	if opts.MaxBatchBytes <= 0 {
		opts.MaxBatchBytes = 64 << 20
	}
	if opts.MaxPendingBytes <= 0 {
		opts.MaxPendingBytes = 512 << 20
	}
	if opts.MaxPending < opts.MaxBatchSize {
		opts.MaxPending = opts.MaxBatchSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.now == nil {
		opts.now = time.Now
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		if err := checkFormat(path); err != nil {
			return nil, err
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: 5 * time.Second,
		// The freelist is written with each commit. Without it, bbolt
		// rebuilds it on open by walking and order-checking every page:
		// 4.6 s for a ten-million-entry log, against tens of
		// milliseconds, and no append rate measurably lower.
		NoFreelistSync: false,
		FreelistType:   bolt.FreelistMapType,
		NoSync:         opts.NoSync,
		// A large initial map avoids remapping (which waits for every
		// reader) while the file is small.
		InitialMmapSize: 1 << 30,
		// 16 KiB pages hold more entries and tile hashes per page, so a
		// batch writes fewer pages with fewer syscalls (measured: about
		// 10% more appends per second than 4 KiB pages). A page size
		// only applies to a new file.
		PageSize: pageSize,
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't open ledger %s: %w", path, err)
	}
	l := &Ledger{
		db:        db,
		opts:      opts,
		origin:    opts.Signer.Name(),
		log:       opts.Logger,
		factory:   &compact.RangeFactory{Hash: hasher.HashChildren},
		q:         queue{wake: make(chan struct{}, 1)},
		closing:   make(chan struct{}),
		sortedRun: make(chan struct{}, 1),
		tiles:     tile.NewCache(opts.TileCacheSize),
		done:      make(chan struct{}),
	}
	l.metrics = newMetrics(opts.Metrics, l)
	if err := db.Update(func(tx *bolt.Tx) error { return initFormat(tx, opts.Schema) }); err != nil {
		db.Close()
		return nil, fmt.Errorf("couldn't initialise ledger %s: %w", path, err)
	}
	st, err := l.loadState(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	l.seqState = st
	l.publish(st)
	go l.sequence()
	return l, nil
}

// Origin returns the log's origin line (the checkpoint signer's name).
func (l *Ledger) Origin() string { return l.origin }

// Size returns the number of entries committed to the log.
func (l *Ledger) Size() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.size
}

// Checkpoint returns the latest signed checkpoint (a C2SP signed note) and
// the tree size it commits to. Before the first entry it is a checkpoint of
// the empty tree. The caller must not modify the returned bytes.
func (l *Ledger) Checkpoint() (signed []byte, size uint64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.cpNote, l.cpSize
}

// Close stops accepting appends, commits what is queued, and closes the file.
func (l *Ledger) Close() error {
	l.closeMu.Lock()
	if l.closed {
		l.closeMu.Unlock()
		return nil
	}
	l.closed = true
	close(l.closing)
	l.closeMu.Unlock()
	<-l.done
	l.bg.Wait()
	return l.db.Close()
}

func (l *Ledger) publish(st *seqState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.size = st.size
	if st.cpSize != l.cpSize || l.cpChanged == nil {
		if l.cpChanged != nil {
			close(l.cpChanged)
		}
		l.cpChanged = make(chan struct{})
	}
	l.cpSize = st.cpSize
	l.cpNote = st.cpNote
}

// WaitForCheckpoint waits until a signed checkpoint covers at least size
// entries and returns it. With the default CheckpointInterval (a checkpoint
// per batch) an index Append returned is covered at once.
func (l *Ledger) WaitForCheckpoint(ctx context.Context, size uint64) (signed []byte, cpSize uint64, err error) {
	for {
		l.mu.RLock()
		signed, cpSize, ch := l.cpNote, l.cpSize, l.cpChanged
		l.mu.RUnlock()
		if cpSize >= size {
			return signed, cpSize, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-l.done:
			return nil, 0, ErrClosed
		}
	}
}

// view runs fn in a read transaction.
func (l *Ledger) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.db.View(fn)
}
