package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/sys/unix"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/internal/durable"
	"github.com/evident-dev/evident/tile"
)

// The mirror directory holds the log's resources at their URL paths:
//
//	<dir>/checkpoint                      the verified checkpoint, written last
//	<dir>/tile/<L>/<N>[.p/<W>]            hash tiles
//	<dir>/tile/entries/<N>[.p/<W>]        entry bundles
//	<dir>/evidence/sha256/<hex>           envelopes (Options.Envelopes)
//	<dir>/.evident-mirror/                the mirror's own state, never served:
//	    lock                              flock(2)ed by a running Sync
//	    pending                           progress of an unfinished Sync
//
// Every file is written to a temporary file (a dotfile) in its directory and
// renamed into place, so a reader never sees half a file; a killed Sync may
// leave temporary files behind, which are never served or read. Tiles and bundles are not fsynced one by one: one
// syncfs(2) makes them durable before the pending watermark or the
// checkpoint that covers them is written (both fsynced).

const stateDir = ".evident-mirror"

// ErrLocked is returned by Sync when another Sync holds the directory.
var ErrLocked = errors.New("mirror: another sync is running on this directory")

type store struct {
	dir     string
	durable bool
	dirs    sync.Map // directories known to exist
}

func newStore(dir string, durable bool) *store {
	return &store{dir: dir, durable: durable}
}

func (s *store) path(p string) string { return filepath.Join(s.dir, filepath.FromSlash(p)) }

// init creates the state directory.
func (s *store) init() error {
	return os.MkdirAll(filepath.Join(s.dir, stateDir), 0o755)
}

// lock takes the directory's lock; unlock releases it.
func (s *store) lock() (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Join(s.dir, stateDir), 0o755); err != nil {
		return nil, fmt.Errorf("couldn't create mirror directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(s.dir, stateDir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("couldn't lock mirror directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("couldn't lock mirror directory: %w", err)
	}
	return func() { f.Close() }, nil
}

func (s *store) mkdir(d string) error {
	if _, ok := s.dirs.Load(d); ok {
		return nil
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	s.dirs.Store(d, true)
	return nil
}

// write stores data at p atomically. sync fsyncs the file and its directory
// (used for the checkpoint and the pending state).
func (s *store) write(p string, data []byte, sync bool) error {
	return s.writeFrom(p, sync, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeFrom stores what fill writes at p atomically. If fill fails, nothing
// is stored.
func (s *store) writeFrom(p string, sync bool, fill func(io.Writer) error) error {
	dst := s.path(p)
	if err := s.mkdir(filepath.Dir(dst)); err != nil {
		return fmt.Errorf("couldn't store %s: %w", p, err)
	}
	// The temporary file is a dotfile, no path of the tlog-tiles API, so it
	// is never served. The mirror is public data, served as it is: readable
	// by all (as the umask allows).
	fillFailed := false
	err := durable.Write(dst, func(w io.Writer) error {
		err := fill(w)
		fillFailed = err != nil
		return err
	}, durable.Options{Perm: 0o644, NoSync: !sync || !s.durable})
	if err != nil && !fillFailed {
		return fmt.Errorf("couldn't store %s: %w", p, err)
	}
	return err // the filler's error, such as a *VerifyError, as it is
}

// flush makes every file written so far durable, with one syncfs(2).
func (s *store) flush() error {
	if !s.durable {
		return nil
	}
	d, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("couldn't sync mirror: %w", err)
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("couldn't sync mirror: %w", err)
	}
	return nil
}

func (s *store) read(p string) ([]byte, error) { return os.ReadFile(s.path(p)) }

func (s *store) exists(p string) bool {
	_, err := os.Stat(s.path(p))
	return err == nil
}

// remove deletes the file at p, and its directory if that is now empty (the
// "<N>.p" directory of a partial tile).
func (s *store) remove(p string) {
	f := s.path(p)
	if os.Remove(f) == nil {
		os.Remove(filepath.Dir(f)) // fails, harmlessly, unless empty
	}
}

// tile returns the stored hash tile or entry bundle t, cut from a wider one
// if that is what is stored. size is the size of the stored checkpoint,
// whose partial tiles are the widest stored. It returns an error wrapping
// fs.ErrNotExist if neither is there.
//
// Older partial tiles are deleted once a wider one is stored (c2sp.org/
// tlog-tiles allows a log to drop a partial tile once the full one exists),
// but their paths stay servable: their bytes are a prefix of the wider tile.
func (s *store) tile(t tile.Tile, size uint64) ([]byte, error) {
	cands := []int{t.Width, tile.FullWidth}
	if w := tile.WidthAt(size, t.Level, t.N); w > t.Width && w < tile.FullWidth {
		cands = append(cands, w)
	}
	for i, w := range cands {
		if i > 0 && w == t.Width {
			continue
		}
		c := t
		c.Width = w
		b, err := s.read(tile.PathFor(c))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if w == t.Width {
			return b, nil
		}
		if t.Entries {
			return bundlePrefix(b, t.Width)
		}
		if len(b) < t.Width*tile.HashSize {
			return nil, fmt.Errorf("%s is %d bytes, too short for %d hashes", tile.PathFor(c), len(b), t.Width)
		}
		return b[:t.Width*tile.HashSize], nil
	}
	return nil, fmt.Errorf("%s: %w", tile.PathFor(t), fs.ErrNotExist)
}

// localTiles returns a tile.ReaderFunc reading stored tiles of a tree no larger
// than size, the stored checkpoint's.
func (s *store) localTiles(size uint64) tile.ReaderFunc {
	return func(ctx context.Context, level uint8, n uint64, width int) ([]byte, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return s.tile(tile.Tile{Level: level, N: n, Width: width}, size)
	}
}

// loadCheckpoint reads and verifies the stored checkpoint. It returns nil
// and no error if there is none.
func (s *store) loadCheckpoint(logKey note.Verifier) (*verified, error) {
	b, err := s.read("checkpoint")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read mirror checkpoint: %w", err)
	}
	v, err := verifiedCheckpoint(b, logKey)
	if err != nil {
		return nil, fmt.Errorf("the mirror's stored checkpoint doesn't verify (was it made with another log key?): %w", err)
	}
	return v, nil
}

// The pending state of an unfinished Sync:
//
//	evident.dev/mirror-pending/v1
//	watermark <entries>
//	<the signed checkpoint being mirrored>
//
// Every full tile and bundle below the watermark (a multiple of 256) is
// stored, verified against that checkpoint, and durable.
const pendingHeader = "evident.dev/mirror-pending/v1\n"

type pending struct {
	cp        *verified
	watermark uint64
}

func (s *store) pendingPath() string { return stateDir + "/pending" }

func (s *store) writePending(cp *verified, watermark uint64) error {
	var b bytes.Buffer
	b.WriteString(pendingHeader)
	b.WriteString("watermark " + strconv.FormatUint(watermark, 10) + "\n")
	b.Write(cp.signed)
	return s.write(s.pendingPath(), b.Bytes(), true)
}

// loadPending returns the pending state, or nil if there is none or it is
// unusable (it is only an optimization: a Sync without it starts over from
// the stored checkpoint).
func (s *store) loadPending(logKey note.Verifier) *pending {
	b, err := s.read(s.pendingPath())
	if err != nil {
		return nil
	}
	rest, ok := bytes.CutPrefix(b, []byte(pendingHeader))
	if !ok {
		return nil
	}
	line, rest, ok := bytes.Cut(rest, []byte("\n"))
	v, found := bytes.CutPrefix(line, []byte("watermark "))
	if !ok || !found {
		return nil
	}
	wm, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil || wm%tile.FullWidth != 0 {
		return nil
	}
	cp, err := verifiedCheckpoint(rest, logKey)
	if err != nil || wm > cp.Size {
		return nil
	}
	return &pending{cp: cp, watermark: wm}
}

func (s *store) clearPending() error {
	err := os.Remove(s.path(s.pendingPath()))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// verified is a checkpoint whose signature verified.
type verified struct {
	checkpoint.Checkpoint
	signed []byte
}

// verifiedCheckpoint verifies that signed is a checkpoint note signed by
// logKey whose origin is the key's name.
func verifiedCheckpoint(signed []byte, logKey note.Verifier) (*verified, error) {
	c, err := checkpoint.Open(signed, note.VerifierList(logKey))
	if err != nil {
		return nil, err
	}
	// c2sp.org/tlog-checkpoint: the origin line identifies the log, and is
	// the name of the log's signing key.
	if c.Origin != logKey.Name() {
		return nil, fmt.Errorf("checkpoint origin %q is not the log key's name %q", c.Origin, logKey.Name())
	}
	return &verified{Checkpoint: c, signed: bytes.Clone(signed)}, nil
}
