package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// status shows how a long command is getting on in one line: redrawn in
// place on a terminal, printed every few seconds otherwise. It is safe for
// concurrent use.
type status struct {
	w        io.Writer
	terminal bool

	mu    sync.Mutex
	last  time.Time // when the line was drawn last
	drawn bool      // the line is on the terminal now
}

// Redraw intervals.
const (
	barInterval  = 100 * time.Millisecond
	lineInterval = 5 * time.Second
)

// newStatus returns a status line on w, drawn by the first show.
func newStatus(w io.Writer) *status {
	s := &status{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		s.terminal = true
	}
	return s
}

// show draws line, unless the line was drawn less than an interval ago.
func (s *status) show(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	interval := lineInterval
	if s.terminal {
		interval = barInterval
	}
	now := time.Now()
	if now.Sub(s.last) < interval {
		return
	}
	s.last = now
	if !s.terminal {
		fmt.Fprintln(s.w, line)
		return
	}
	fmt.Fprintf(s.w, "\r\033[K%s", line)
	s.drawn = true
}

// clear removes the line from the terminal, before other output or at the
// end; the next show draws it again at once.
func (s *status) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drawn {
		fmt.Fprint(s.w, "\r\033[K")
		s.drawn = false
		s.last = time.Time{}
	}
}

// progress is the status of submitting a known number of envelopes: a bar
// on a terminal.
type progress struct {
	*status
	total int
}

// newProgress returns a progress on w first drawn an interval from now, so
// that a short run shows none.
func newProgress(w io.Writer, total int) *progress {
	p := &progress{status: newStatus(w), total: total}
	p.last = time.Now()
	return p
}

// update is called with the counts after each outcome.
func (p *progress) update(newN, present, refused, failed int) {
	done := newN + present + refused + failed
	if !p.terminal {
		p.show(fmt.Sprintf("progress: %d of %d done (new %d, already present %d, refused %d, failed %d)",
			done, p.total, newN, present, refused, failed))
		return
	}
	const width = 30
	filled := 0
	if p.total > 0 {
		filled = done * width / p.total
	}
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	p.show(fmt.Sprintf("[%s] %d/%d  new %d  present %d  refused %d  failed %d",
		bar, done, p.total, newN, present, refused, failed))
}
