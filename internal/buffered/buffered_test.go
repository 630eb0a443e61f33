package buffered

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// countingWriter counts the writes that reach it.
type countingWriter struct {
	bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	return c.Buffer.Write(p)
}

func TestWriteBuffersAndFlushes(t *testing.T) {
	var dst countingWriter
	err := Write(&dst, func(w io.Writer) error {
		for _, s := range []string{"GET / HTTP/1.1\r\n", "Host: x\r\n", "\r\n"} {
			if _, err := io.WriteString(w, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || dst.String() != "GET / HTTP/1.1\r\nHost: x\r\n\r\n" || dst.writes != 1 {
		t.Errorf("wrote %q in %d writes, %v; want it all in one write", dst.String(), dst.writes, err)
	}
}

func TestWriteReturnsTheWritersError(t *testing.T) {
	var dst bytes.Buffer
	bad := errors.New("bad")
	if err := Write(&dst, func(w io.Writer) error { _, _ = io.WriteString(w, "x"); return bad }); !errors.Is(err, bad) {
		t.Errorf("error %v, want %v", err, bad)
	}
	// What was written before the error is not flushed, and the next
	// Write's buffer starts empty.
	if err := Write(&dst, func(w io.Writer) error { _, err := io.WriteString(w, "y"); return err }); err != nil || dst.String() != "y" {
		t.Errorf("after an error: %q, %v; want only the next write's y", dst.String(), err)
	}
}
