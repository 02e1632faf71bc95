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

// progress shows how a long command is getting on: a bar redrawn in place
// on a terminal, a plain line every few seconds otherwise.
type progress struct {
	w        io.Writer
	total    int
	terminal bool
	start    time.Time

	mu       sync.Mutex
	last     time.Time
	drawn    bool
	counts   [4]int // new, present, refused, failed
	finished bool
}

// Redraw intervals.
const (
	barInterval  = 100 * time.Millisecond
	lineInterval = 5 * time.Second
)

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total, start: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.terminal = true
	}
	p.last = p.start
	return p
}

// update is called with the counts after each outcome.
func (p *progress) update(newN, present, refused, failed int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts = [4]int{newN, present, refused, failed}
	now := time.Now()
	interval := lineInterval
	if p.terminal {
		interval = barInterval
	}
	if now.Sub(p.last) < interval {
		return
	}
	p.last = now
	p.draw()
}

func (p *progress) draw() {
	done := p.counts[0] + p.counts[1] + p.counts[2] + p.counts[3]
	if !p.terminal {
		fmt.Fprintf(p.w, "progress: %d of %d done (new %d, already present %d, refused %d, failed %d)\n",
			done, p.total, p.counts[0], p.counts[1], p.counts[2], p.counts[3])
		return
	}
	const width = 30
	filled := 0
	if p.total > 0 {
		filled = done * width / p.total
	}
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	fmt.Fprintf(p.w, "\r\033[K[%s] %d/%d  new %d  present %d  refused %d  failed %d",
		bar, done, p.total, p.counts[0], p.counts[1], p.counts[2], p.counts[3])
	p.drawn = true
}

// clear removes the bar before other output; the next update redraws it.
// The caller may hold no lock of p.
func (p *progress) clear() {
	if !p.terminal {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
		p.last = time.Time{}
	}
}

// done removes the bar for good.
func (p *progress) done() {
	p.clear()
	p.mu.Lock()
	p.finished = true
	p.mu.Unlock()
}
