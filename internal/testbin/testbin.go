// Package testbin builds the Go programs tests run as real servers (the
// net/http server of testdata/goserver, the tool itself for serve), each
// once per test binary, into one temporary directory that Remove deletes:
// a package's TestMain calls it when its tests are done. The tests of load
// and of the command share it.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

var (
	mu    sync.Mutex
	dir   string
	built = map[string]string{}
)

// Build compiles the package at pkg, a path from the module's root ("."
// for the tool, "testdata/goserver"), and returns its binary's path; a
// package is built once per test binary.
func Build(pkg string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if bin, ok := built[pkg]; ok {
		return bin, nil
	}
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("testbin: cannot locate its own source")
	}
	root := filepath.Join(filepath.Dir(self), "..", "..")
	if dir == "" {
		d, err := os.MkdirTemp("", "shutdowntest-testbin")
		if err != nil {
			return "", err
		}
		dir = d
	}
	bin := filepath.Join(dir, fmt.Sprintf("bin%d", len(built)))
	cmd := exec.Command("go", "build", "-o", bin, "./"+filepath.ToSlash(filepath.Clean(pkg)))
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	built[pkg] = bin
	return bin, nil
}

// Remove deletes what Build made.
func Remove() {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
	dir, built = "", map[string]string{}
}
