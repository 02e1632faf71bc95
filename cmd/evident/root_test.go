package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestHelp checks that every command documents itself with an example and
// answers --help.
func TestHelp(t *testing.T) {
	a := &app{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "help" || c.Name() == "completion" {
			return
		}
		t.Run(c.CommandPath(), func(t *testing.T) {
			if c.Example == "" {
				t.Errorf("%s has no Example", c.CommandPath())
			}
			if c.Short == "" {
				t.Errorf("%s has no Short description", c.CommandPath())
			}
			var stdout, stderr bytes.Buffer
			args := append(strings.Fields(c.CommandPath())[1:], "--help")
			if code := run(context.Background(), args, nil, &stdout, &stderr); code != exitOK {
				t.Errorf("%v: exit %d\n%s", args, code, stderr.String())
			}
			if !strings.Contains(stdout.String(), "Examples:") {
				t.Errorf("%v printed no examples:\n%s", args, stdout.String())
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(a.rootCmd())
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"--no-such-flag"}, exitError},
		{[]string{"no-such-command"}, exitError},
		{[]string{"query"}, exitError},                         // missing argument
		{[]string{"query", "not-a-purl"}, exitError},           // bad argument
		{[]string{"verify", "/nonexistent/bundle"}, exitError}, // unreadable
		{[]string{"completion", "bash"}, exitOK},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"--config", t.TempDir() + "/config.yaml"}, tt.args...)
			if got := run(context.Background(), args, nil, &stdout, &stderr); got != tt.want {
				t.Errorf("exit %d, want %d\n%s", got, tt.want, stderr.String())
			}
			if tt.want != exitOK && !strings.HasPrefix(stderr.String(), "evident: ") {
				t.Errorf("stderr %q does not say what went wrong", stderr.String())
			}
		})
	}
}

func TestProgress(t *testing.T) {
	tests := []struct {
		terminal bool
		want     string
	}{
		{true, "\r\033[K[===============               ] 5/10  new 3  present 1  refused 1  failed 0"},
		{false, "progress: 5 of 10 done (new 3, already present 1, refused 1, failed 0)\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		p := &progress{status: &status{w: &b, terminal: tt.terminal}, total: 10}
		p.update(3, 1, 1, 0)
		if b.String() != tt.want {
			t.Errorf("terminal %v: drew %q, want %q", tt.terminal, b.String(), tt.want)
		}
		// Too soon after: nothing more.
		p.update(4, 1, 1, 0)
		if b.String() != tt.want {
			t.Errorf("terminal %v: redrew at once: %q", tt.terminal, b.String())
		}
		b.Reset()
		p.clear()
		if want := map[bool]string{true: "\r\033[K", false: ""}[tt.terminal]; b.String() != want {
			t.Errorf("terminal %v: clear wrote %q, want %q", tt.terminal, b.String(), want)
		}
	}
}

func TestStatus(t *testing.T) {
	for _, terminal := range []bool{true, false} {
		var b bytes.Buffer
		s := &status{w: &b, terminal: terminal}
		s.show("one")
		s.show("two") // too soon: not drawn
		s.clear()
		s.show("three") // drawn at once after a clear, on a terminal
		want := map[bool]string{
			true:  "\r\033[Kone\r\033[K\r\033[Kthree",
			false: "one\n",
		}[terminal]
		if b.String() != want {
			t.Errorf("terminal %v: drew %q, want %q", terminal, b.String(), want)
		}
	}

	// A progress waits an interval before its first line: a short run
	// shows none.
	var b bytes.Buffer
	p := newProgress(&b, 10)
	p.update(1, 0, 0, 0)
	p.clear()
	if b.Len() != 0 {
		t.Errorf("a new progress drew %q at once", b.String())
	}
}
