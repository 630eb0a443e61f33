//go:build unix

package reports

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func mkfifo(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// stillFIFO fails when path was replaced by something else.
func stillFIFO(t *testing.T, path string) {
	t.Helper()
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != fs.ModeNamedPipe {
		t.Errorf("%s is no longer a FIFO: %v %v", path, fi, err)
	}
}

// openReader opens the read end without waiting for a writer.
func openReader(t *testing.T, path string) *os.File {
	t.Helper()
	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// bounded runs f and fails the test if it has not returned within a
// deadline far beyond what it should take.
func bounded(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	// Ends when f returns; if f hangs the test fails and says so.
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not return within 10s", what)
		return nil
	}
}

func TestWriteToFIFOWithReader(t *testing.T) {
	fifo := mkfifo(t)
	r := openReader(t, fifo)
	if err := bounded(t, "the write", func() error { return NewBatch().Write("--junit fifo", fifo, text("<testsuites/>")) }); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r) // EOF: the writer has closed
	if err != nil || string(got) != "<testsuites/>" {
		t.Errorf("the reader got %q (%v)", got, err)
	}
	stillFIFO(t, fifo)
	noTemps(t, filepath.Dir(fifo))
}

func TestWriteToFIFOWithoutReaderFailsAtOnce(t *testing.T) {
	fifo := mkfifo(t)
	err := bounded(t, "the write", func() error { return NewBatch().Write("--junit fifo", fifo, text("x")) })
	if err == nil || !strings.Contains(err.Error(), "nothing has it open for reading") || !strings.Contains(err.Error(), fifo) {
		t.Errorf("error %v, want one naming %s and saying nothing reads it", err, fifo)
	}
	stillFIFO(t, fifo)
}

// A reader that opens the FIFO and stops reading fails the write after
// directWriteTimeout; it does not hold the tool.
func TestWriteToFIFOWhoseReaderStopsIsBounded(t *testing.T) {
	was := directWriteTimeout
	directWriteTimeout = 100 * time.Millisecond
	t.Cleanup(func() { directWriteTimeout = was })
	fifo := mkfifo(t)
	openReader(t, fifo)
	big := strings.Repeat("x", 4<<20) // far more than a pipe buffer
	err := bounded(t, "the write", func() error { return NewBatch().Write("--html fifo", fifo, text(big)) })
	if err == nil || !strings.Contains(err.Error(), "did not take the whole report within") {
		t.Errorf("error %v, want the deadline's", err)
	}
	stillFIFO(t, fifo)
}

// The check before the run never opens a FIFO: opening one blocks until a
// reader comes (or, without blocking, fails), so a check that opened it
// would hang here or fail.
func TestCheckWritableDoesNotOpenFIFO(t *testing.T) {
	fifo := mkfifo(t)
	if err := bounded(t, "the check", func() error { return CheckWritable(fifo) }); err != nil {
		t.Errorf("a writable FIFO failed the check: %v", err)
	}
	stillFIFO(t, fifo)
	if os.Geteuid() == 0 {
		t.Skip("root may write anything: no read-only case")
	}
	if err := os.Chmod(fifo, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := bounded(t, "the check", func() error { return CheckWritable(fifo) }); err == nil {
		t.Error("a read-only FIFO passed the check")
	}
}
