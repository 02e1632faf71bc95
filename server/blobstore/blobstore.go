// Package blobstore is a content-addressed store of envelopes on the local
// file system, beside the ledger. A blob is named by the SHA-256 of its bytes
// and written atomically (temporary file, then rename), so a reader never
// sees a partial blob.
//
// Put does not fsync: Sync flushes every blob written so far with one
// syncfs(2). The node calls Sync before each ledger commit (the ledger's
// BeforeCommit hook), so one flush covers a whole batch of submissions and an
// entry is never durable before its envelope.
//
// Layout: <dir>/sha256/<first 2 hex digits>/<64 hex digits>.
package blobstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ErrNotFound is returned for a digest the store does not hold. It wraps
// fs.ErrNotExist.
var ErrNotFound = fmt.Errorf("blobstore: no such blob: %w", fs.ErrNotExist)

// Store is a directory of blobs.
type Store struct {
	dir string
}

// Open opens (creating if needed) the store in dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "sha256"), 0o750); err != nil {
		return nil, fmt.Errorf("couldn't create blob store: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o750); err != nil {
		return nil, fmt.Errorf("couldn't create blob store: %w", err)
	}
	return &Store{dir: dir}, nil
}

func (s *Store) path(d [32]byte) string {
	h := hex.EncodeToString(d[:])
	return filepath.Join(s.dir, "sha256", h[:2], h)
}

// Put stores b and returns its digest and whether the store had to write it
// (false: an identical blob was already there).
func (s *Store) Put(b []byte) (digest [32]byte, created bool, err error) {
	digest = sha256.Sum256(b)
	p := s.path(digest)
	if _, err := os.Stat(p); err == nil {
		return digest, false, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return digest, false, fmt.Errorf("couldn't store blob: %w", err)
	}
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "put-*")
	if err != nil {
		return digest, false, fmt.Errorf("couldn't store blob: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	if _, err := f.Write(b); err != nil {
		f.Close()
		return digest, false, fmt.Errorf("couldn't store blob: %w", err)
	}
	if err := f.Close(); err != nil {
		return digest, false, fmt.Errorf("couldn't store blob: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return digest, false, fmt.Errorf("couldn't store blob: %w", err)
	}
	return digest, true, nil
}

// Sync makes every blob Put so far durable, directory entries included, with
// one syncfs(2) of the store's file system.
func (s *Store) Sync() error {
	d, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("couldn't sync blob store: %w", err)
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("couldn't sync blob store: %w", err)
	}
	return nil
}

// Open returns the blob with the given digest and its size. The caller closes
// it. Readers that cannot trust the disk verify the digest as they read.
func (s *Store) Open(ctx context.Context, digest [32]byte) (io.ReadCloser, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(s.path(digest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("couldn't open blob: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("couldn't open blob: %w", err)
	}
	return f, fi.Size(), nil
}

// Get returns the whole blob, after checking its digest.
func (s *Store) Get(digest [32]byte) ([]byte, error) {
	b, err := os.ReadFile(s.path(digest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read blob: %w", err)
	}
	if sha256.Sum256(b) != digest {
		return nil, fmt.Errorf("blob %x is corrupt: its bytes do not hash to its name", digest)
	}
	return b, nil
}

// Has reports whether the store holds the digest.
func (s *Store) Has(digest [32]byte) bool {
	_, err := os.Stat(s.path(digest))
	return err == nil
}

// Delete removes a blob. Deleting a missing blob is not an error.
func (s *Store) Delete(digest [32]byte) error {
	err := os.Remove(s.path(digest))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("couldn't delete blob: %w", err)
	}
	return nil
}
