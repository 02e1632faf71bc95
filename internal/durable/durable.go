// Package durable replaces files so that a reader, and after a crash the
// file system, finds either the whole old content or the whole new content
// under the name, never a part of either.
//
// The new content goes to a temporary file in the destination's directory
// (a rename is atomic only within one file system, and one within a
// directory is cheaper than across directories, which Linux serializes per
// file system), which is fsynced, closed and renamed over the destination; then the directory is fsynced, because
// the rename is an update of the directory and is not durable until it is
// written out. Without the first fsync a crash after the rename can leave
// an empty file under the name on file systems that delay allocation.
//
// github.com/google/renameio/v2 does the same except the directory fsync,
// and probes $TMPDIR with an extra temporary file and rename on every call
// unless given a directory; this package is the few lines we need.
package durable

import (
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// Options configures [Write]. The zero value is a private, durable write.
type Options struct {
	// Perm is the permission of the new file, before the umask; an
	// existing file's permission is not kept. Default 0o600, readable by
	// its owner only, as os.CreateTemp makes files.
	Perm fs.FileMode
	// NoSync skips both fsyncs. The replacement stays atomic for readers,
	// but a crash may lose it or leave a partial file under the name: for
	// many files that are made durable together afterwards, such as with
	// one syncfs(2). Default false.
	NoSync bool
}

// WriteFile replaces path with data, durably, with permission perm (before
// the umask). The directory of path must exist.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}, Options{Perm: perm})
}

// Write replaces path with what fill writes. If fill fails, path is left as
// it was and fill's error is returned as it is. Other errors are the file
// system's, which name the file. No temporary file is left behind unless
// the process dies during Write; temporary files are dotfiles named
// ".<base of path>.tmp-<random>", so that they are recognisable and hidden.
func Write(path string, fill func(io.Writer) error, opts Options) error {
	perm := opts.Perm
	if perm == 0 {
		perm = 0o600
	}
	dir, base := filepath.Split(path)
	f, err := createTemp(dir, "."+base+".tmp-", perm)
	if err != nil {
		return err
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmp)
		}
	}()
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	if !opts.NoSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	renamed = true
	if opts.NoSync {
		return nil
	}
	return syncDir(dir)
}

// createTemp creates a new file named prefix plus a random number in dir.
// Unlike os.CreateTemp it takes the permission, so that the file never
// exists with another.
func createTemp(dir, prefix string, perm fs.FileMode) (*os.File, error) {
	for range 100 {
		name := filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if !os.IsExist(err) {
			return f, err
		}
	}
	return nil, fmt.Errorf("couldn't create a temporary file for %s in %s: every name tried exists", prefix, dir)
}

// syncDir fsyncs directory dir ("" is the current directory).
func syncDir(dir string) error {
	if dir == "" {
		dir = "."
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
