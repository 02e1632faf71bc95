package durable

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
)

// files lists the names in dir, so a test can see leftover temporary files.
func files(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFile(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	tests := []struct {
		name string
		data string
		perm fs.FileMode
		want fs.FileMode
	}{
		{"new file", "first", 0o644, 0o644},
		{"replace", "second, longer than the first", 0o600, 0o600},
		{"replace with less", "3", 0o666, 0o644}, // the umask applies
		{"empty", "", 0o644, 0o644},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := WriteFile(path, []byte(tt.data), tt.perm); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != tt.data {
				t.Errorf("read %q, %v; want %q", got, err, tt.data)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tt.want {
				t.Errorf("mode %v, want %v", fi.Mode().Perm(), tt.want)
			}
			if names := files(t, dir); len(names) != 1 || names[0] != "state" {
				t.Errorf("directory holds %q, want only state", names)
			}
		})
	}
}

func TestWriteDefaultPerm(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	if err := Write(path, func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }, Options{}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestWriteFailure injects failures at each step and checks that the old
// content stays, whole, and that no temporary file is left.
func TestWriteFailure(t *testing.T) {
	errFill := errors.New("the source broke")
	halfThenFail := func(w io.Writer) error {
		io.WriteString(w, "the new content, half of it")
		return errFill
	}
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) string // returns the path to write
		fill    func(io.Writer) error
		old     string // the content that must stay; "" if none
		wantErr func(error) bool
	}{
		{
			name: "fill fails over an old file",
			setup: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "f")
				if err := os.WriteFile(p, []byte("the old content"), 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			},
			fill:    halfThenFail,
			old:     "the old content",
			wantErr: func(err error) bool { return err == errFill },
		},
		{
			name:    "fill fails, no old file",
			setup:   func(t *testing.T, dir string) string { return filepath.Join(dir, "f") },
			fill:    halfThenFail,
			wantErr: func(err error) bool { return err == errFill },
		},
		{
			// The rename fails after the data is written and synced.
			name: "rename over a directory",
			setup: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "d")
				if err := os.MkdirAll(filepath.Join(p, "child"), 0o755); err != nil {
					t.Fatal(err)
				}
				return p
			},
			fill:    func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err },
			wantErr: func(err error) bool { var le *os.LinkError; return errors.As(err, &le) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tt.setup(t, dir)
			before := files(t, dir)
			err := Write(path, tt.fill, Options{Perm: 0o644})
			if !tt.wantErr(err) {
				t.Errorf("Write: %v", err)
			}
			if tt.old != "" {
				if got, err := os.ReadFile(path); err != nil || string(got) != tt.old {
					t.Errorf("after the failure the file holds %q (%v), want %q", got, err, tt.old)
				}
			} else if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
				t.Errorf("after the failure %s exists", path)
			}
			if after := files(t, dir); !slices.Equal(after, before) {
				t.Errorf("directory holds %q, was %q", after, before)
			}
		})
	}
}

func TestWriteMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "f")
	err := WriteFile(path, []byte("x"), 0o644)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Write into a missing directory: %v, want an error wrapping fs.ErrNotExist", err)
	}
}

// TestWriteConcurrentReaders replaces a file again and again while readers
// read it: every read must find one whole version.
func TestWriteConcurrentReaders(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tile")
	versions := [][]byte{bytes.Repeat([]byte("a"), 256<<10), bytes.Repeat([]byte("b"), 200<<10)}
	if err := WriteFile(path, versions[0], 0o644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []int
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				b, err := os.ReadFile(path)
				if err != nil || (!bytes.Equal(b, versions[0]) && !bytes.Equal(b, versions[1])) {
					mu.Lock()
					bad = append(bad, len(b))
					mu.Unlock()
				}
			}
		})
	}
	for i := range 200 {
		v := versions[i%2]
		opts := Options{Perm: 0o644, NoSync: i%20 != 0} // some durable, most fast
		if err := Write(path, func(w io.Writer) error {
			// In pieces, so that a non-atomic write would be seen half done.
			for p := range slices.Chunk(v, 16<<10) {
				if _, err := w.Write(p); err != nil {
					return err
				}
			}
			return nil
		}, opts); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Errorf("%d reads found neither version (lengths %v)", len(bad), bad[:min(len(bad), 10)])
	}
	if names := files(t, filepath.Dir(path)); len(names) != 1 {
		t.Errorf("directory holds %q, want only tile", names)
	}
}
