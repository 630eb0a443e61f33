//go:build unix

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A completed run whose report cannot be written (a FIFO nobody reads:
// it passes the check before the run, which never opens it) prints its
// summary and verdict, still writes the other reports, names the flag,
// the file and the error in one line, and exits 4, over a pass and over a
// failed check alike. An interrupted run still exits 130.
func TestReportNotWrittenExits4(t *testing.T) {
	for _, c := range []struct {
		name    string
		args    []string
		verdict string
		code    int
	}{
		{"pass", nil, "verdict: PASS", exitNoReport},
		{"fail", []string{"--policy", "legacy"}, "verdict: FAIL", exitNoReport},
		{"interrupted", []string{"--iterations", "2"}, "INTERRUPTED", exitInterrupted},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			fifo, md := filepath.Join(dir, "fifo"), filepath.Join(dir, "r.md")
			if err := syscall.Mkfifo(fifo, 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if c.code == exitInterrupted {
				cancel()
			}
			defer cancel()
			var out, errb strings.Builder
			args := append(append([]string{"shutdowntest", "--junit", fifo, "--markdown", md}, quick...), c.args...)
			code := run(ctx, args, &out, &errb, false, nil)
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, c.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), c.verdict) {
				t.Errorf("the summary does not say %q:\n%s", c.verdict, out.String())
			}
			var line string
			for _, l := range strings.Split(errb.String(), "\n") {
				if strings.Contains(l, "--junit") {
					line += l
				}
			}
			if !strings.Contains(line, fifo) || !strings.Contains(line, "nothing has it open for reading") {
				t.Errorf("no one line naming --junit, %s and the error in stderr:\n%s", fifo, errb.String())
			}
			if b, err := os.ReadFile(md); err != nil || len(b) == 0 {
				t.Errorf("the other report was not written: %v", err)
			}
		})
	}
}
