// Package tpcserver builds testdata/tpcserver, a thread-per-connection C
// server the OS-sampling tests run as an external target: the tests of
// load/osobs and of the command share this one build step.
package tpcserver

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Build compiles the server with the C compiler into t's temporary
// directory and returns the binary's path. Without a compiler the test is
// skipped, except in CI, which must have one (gcc; .ci/run installs it).
func Build(t testing.TB) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no C compiler: CI must have one (gcc)")
		}
		t.Skip("no C compiler")
	}
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("tpcserver: cannot locate its own source")
	}
	src := filepath.Join(filepath.Dir(self), "..", "..", "testdata", "tpcserver", "tpc.c")
	bin := filepath.Join(t.TempDir(), "tpc")
	if out, err := exec.Command(cc, "-O1", "-Wall", "-pthread", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("build tpc: %v\n%s", err, out)
	}
	return bin
}
