// Package boltstore is a durable witness.Store on bbolt.
//
// Layout, inside one top-level bucket (Options.Bucket):
//
//	state/<origin>                        0x01 || size (8 bytes, big-endian) || root hash (32) || signed note
//	misbehaviour/<origin> 0x00 <SHA-256>   the witness.Misbehaviour file encoding, keyed by its hash
//
// Origins never contain 0x00 (c2sp.org/tlog-checkpoint forbids control
// characters), so a prefix scan for "<origin> 0x00" finds one log's records.
package boltstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/evident-dev/evident/witness"
)

// Options configure a Store.
type Options struct {
	// Bucket is the top-level bucket the store keeps its data in, so that
	// it can share a database with other data. Default: "witness".
	Bucket string
	// GroupCommit makes Update use bbolt's DB.Batch: concurrent updates
	// (of different logs, typically) share one transaction and one fsync,
	// and each waits up to the database's MaxBatchDelay (default 10ms) for
	// company. Default: false, one transaction per Update, the lowest
	// latency for a witness that cosigns a few checkpoints per second.
	GroupCommit bool
}

// Store is a witness.Store in a bbolt database.
type Store struct {
	db          *bbolt.DB
	bucket      []byte
	groupCommit bool
	owned       bool
}

var (
	stateBucket = []byte("state")
	badBucket   = []byte("misbehaviour")
)

const stateVersion = 1

// Open opens (creating if needed) the bbolt database at path and returns a
// Store in it. Close closes the database.
func Open(path string, opts Options) (*Store, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("couldn't open witness database: %w", err)
	}
	s, err := New(db, opts)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

// New returns a Store in db, creating its buckets if needed. The caller
// keeps ownership of db: Close leaves it open.
func New(db *bbolt.DB, opts Options) (*Store, error) {
	if opts.Bucket == "" {
		opts.Bucket = "witness"
	}
	s := &Store{db: db, bucket: []byte(opts.Bucket), groupCommit: opts.GroupCommit}
	err := db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(s.bucket)
		if err != nil {
			return err
		}
		if _, err := b.CreateBucketIfNotExists(stateBucket); err != nil {
			return err
		}
		_, err = b.CreateBucketIfNotExists(badBucket)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't create witness buckets: %w", err)
	}
	return s, nil
}

// Close closes the database if Open opened it.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	return s.db.Close()
}

func (s *Store) sub(tx *bbolt.Tx, name []byte) *bbolt.Bucket {
	return tx.Bucket(s.bucket).Bucket(name)
}

func encodeState(st witness.State) []byte {
	b := make([]byte, 0, 1+8+32+len(st.Checkpoint))
	b = append(b, stateVersion)
	b = binary.BigEndian.AppendUint64(b, st.Size)
	b = append(b, st.Hash[:]...)
	return append(b, st.Checkpoint...)
}

func decodeState(v []byte) (witness.State, error) {
	if len(v) < 1+8+32 || v[0] != stateVersion {
		return witness.State{}, errors.New("corrupt witness state record")
	}
	var st witness.State
	st.Size = binary.BigEndian.Uint64(v[1:])
	copy(st.Hash[:], v[9:41])
	st.Checkpoint = bytes.Clone(v[41:])
	return st, nil
}

// Get implements witness.Store.
func (s *Store) Get(ctx context.Context, origin string) (witness.State, error) {
	if err := ctx.Err(); err != nil {
		return witness.State{}, err
	}
	var st witness.State
	err := s.db.View(func(tx *bbolt.Tx) error {
		v := s.sub(tx, stateBucket).Get([]byte(origin))
		if v == nil {
			return nil
		}
		var err error
		st, err = decodeState(v)
		return err
	})
	if err != nil {
		return witness.State{}, fmt.Errorf("couldn't read state of %q: %w", origin, err)
	}
	return st, nil
}

// Update implements witness.Store.
func (s *Store) Update(ctx context.Context, origin string, old, new witness.State) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(origin) == 0 {
		return errors.New("couldn't update state: empty origin")
	}
	var changed bool
	// Batch may call the function more than once; it sets changed anew
	// each time and, on a mismatch, writes nothing and returns nil so as
	// not to fail the other updates of the batch.
	fn := func(tx *bbolt.Tx) error {
		changed = false
		b := s.sub(tx, stateBucket)
		cur := witness.State{}
		if v := b.Get([]byte(origin)); v != nil {
			var err error
			if cur, err = decodeState(v); err != nil {
				return err
			}
		}
		if !cur.Equal(old) {
			changed = true
			return nil
		}
		return b.Put([]byte(origin), encodeState(new))
	}
	var err error
	if s.groupCommit {
		err = s.db.Batch(fn)
	} else {
		err = s.db.Update(fn)
	}
	if err != nil {
		return fmt.Errorf("couldn't update state of %q: %w", origin, err)
	}
	if changed {
		return witness.ErrStateChanged
	}
	return nil
}

// List implements witness.Store.
func (s *Store) List(ctx context.Context) (map[string]witness.State, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := make(map[string]witness.State)
	err := s.db.View(func(tx *bbolt.Tx) error {
		return s.sub(tx, stateBucket).ForEach(func(k, v []byte) error {
			st, err := decodeState(v)
			if err != nil {
				return fmt.Errorf("%q: %w", k, err)
			}
			m[string(k)] = st
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't list witness state: %w", err)
	}
	return m, nil
}

// RecordMisbehaviour implements witness.Store.
func (s *Store) RecordMisbehaviour(ctx context.Context, m witness.Misbehaviour) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	enc, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("couldn't record misbehaviour: %w", err)
	}
	sum := sha256.Sum256(enc)
	key := append(append([]byte(m.Origin), 0), sum[:]...)
	err = s.db.Update(func(tx *bbolt.Tx) error {
		return s.sub(tx, badBucket).Put(key, enc)
	})
	if err != nil {
		return fmt.Errorf("couldn't record misbehaviour: %w", err)
	}
	return nil
}

// ListMisbehaviour implements witness.Store.
func (s *Store) ListMisbehaviour(ctx context.Context, origin string) ([]witness.Misbehaviour, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var prefix []byte
	if origin != "" {
		prefix = append([]byte(origin), 0)
	}
	var ms []witness.Misbehaviour
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := s.sub(tx, badBucket).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			m, err := witness.ParseMisbehaviour(v)
			if err != nil {
				return fmt.Errorf("record %x: %w", k, err)
			}
			ms = append(ms, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't list misbehaviour: %w", err)
	}
	return ms, nil
}
