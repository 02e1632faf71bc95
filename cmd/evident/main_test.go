package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// binDir holds the evident and evidentd binaries the tests run, built once
// by TestMain: the tests run the real programs, as users do.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "evident-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The go command that runs the tests is on PATH, or next to GOROOT.
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	for _, pkg := range []string{".", "../evidentd"} {
		name := filepath.Base(pkg)
		if pkg == "." {
			name = "evident"
		}
		cmd := exec.Command(gobin, "build", "-o", filepath.Join(dir, name), pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "couldn't build %s: %v\n", pkg, err)
			return 1
		}
	}
	binDir = dir
	return m.Run()
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", binDir+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("EVIDENT_CONFIG", filepath.Join(env.WorkDir, "config.yaml"))
			env.Setenv("XDG_STATE_HOME", filepath.Join(env.WorkDir, "state"))
			env.Setenv("SHARED", sharedRoot())
			return nil
		},
		// [shared]: the shared corpus of real evidence is here.
		Condition: func(cond string) (bool, error) {
			if cond != "shared" {
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			_, err := os.Stat(filepath.Join(sharedRoot(), "evidence"))
			return err == nil, nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"freeport":   cmdFreeport,
			"waitnode":   cmdWaitNode,
			"grepenv":    cmdGrepEnv,
			"appendline": cmdAppendLine,
			"replace":    cmdReplace,
			"filemode":   cmdFileMode,
			"exitcode":   cmdExitCode,
			"unix2dos":   cmdUnix2Dos,
			"sha256":     cmdSHA256,
		},
	})
}

// sharedRoot returns the absolute path of the shared test data
// (../shared/testdata beside the project, or $EVIDENT_TESTDATA/..).
func sharedRoot() string {
	dir := filepath.Join("..", "..", "..", "shared", "testdata")
	if d := os.Getenv("EVIDENT_TESTDATA"); d != "" {
		dir = filepath.Dir(d)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	return abs
}

// freeport VAR sets VAR to a free TCP port on the loopback interface.
func cmdFreeport(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	ts.Setenv(args[0], strconv.Itoa(freePort(ts)))
}

func freePort(ts interface{ Fatalf(string, ...any) }) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ts.Fatalf("freeport: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitnode URL waits until the node at URL serves its checkpoint.
func cmdWaitNode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitnode URL")
	}
	if err := waitNode(args[0], 20*time.Second); err != nil {
		ts.Fatalf("%v", err)
	}
}

func waitNode(url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", url+"/checkpoint", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node at %s not ready after %v (last error: %v)", url, timeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// grepenv VAR REGEXP sets VAR to the first submatch of REGEXP in the
// standard output of the last command.
func cmdGrepEnv(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: grepenv VAR REGEXP")
	}
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	m := re.FindStringSubmatch(ts.ReadFile("stdout"))
	if len(m) < 2 {
		ts.Fatalf("grepenv: no match for %q in stdout", args[1])
	}
	ts.Setenv(args[0], m[1])
}

// appendline FILE LINE... appends lines to a file, creating it if need be.
func cmdAppendLine(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: appendline FILE LINE...")
	}
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	ts.Check(err)
	for _, l := range args[1:] {
		_, err := f.WriteString(l + "\n")
		ts.Check(err)
	}
	ts.Check(f.Close())
}

// replace FILE OLD NEW replaces the first OLD in FILE by NEW, failing if
// there is none.
func cmdReplace(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: replace FILE OLD NEW")
	}
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	if !strings.Contains(string(b), args[1]) {
		ts.Fatalf("replace: %q not found in %s", args[1], args[0])
	}
	ts.Check(os.WriteFile(path, []byte(strings.Replace(string(b), args[1], args[2], 1)), 0o644))
}

// filemode FILE MODE checks a file's permission bits (octal).
func cmdFileMode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: filemode FILE MODE")
	}
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	if got := fi.Mode().Perm(); (uint64(got) == want) == neg {
		ts.Fatalf("%s has mode %#o; want %s%#o", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// exitcode N PROGRAM ARGS... runs PROGRAM like exec does and checks that it
// exits with code N.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// unix2dos FILE makes the line endings of FILE CRLF (testscript archives
// hold LF), failing if it already has a CR.
func cmdUnix2Dos(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: unix2dos FILE")
	}
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	if bytes.IndexByte(b, '\r') >= 0 {
		ts.Fatalf("unix2dos: %s already has a CR", args[0])
	}
	ts.Check(os.WriteFile(path, bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")), 0o644))
}

// sha256 VAR FILE sets VAR to the SHA-256 of FILE, in lowercase hex.
func cmdSHA256(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: sha256 VAR FILE")
	}
	b, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	sum := sha256.Sum256(b)
	ts.Setenv(args[0], hex.EncodeToString(sum[:]))
}
