//go:build unix

package reports

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// openDirect opens a path that is not a regular file for writing without
// waiting on anyone: with O_NONBLOCK, opening a FIFO nobody reads fails at
// once with ENXIO instead of blocking until a reader comes. The returned
// file has a write deadline where it can be polled (a FIFO, a terminal);
// where it cannot (/dev/null and most other devices, which take writes
// without waiting) it is put back into blocking mode, as a non-blocking
// write there could fail half-way with EAGAIN.
func openDirect(path string) (*os.File, error) {
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC|syscall.O_NOCTTY, 0)
	if errors.Is(err, syscall.ENXIO) {
		return nil, fmt.Errorf("nothing has it open for reading: %w", err)
	}
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	if err := f.SetWriteDeadline(time.Now().Add(directWriteTimeout)); err != nil {
		if err := syscall.SetNonblock(fd, false); err != nil {
			_ = f.Close()
			return nil, err
		}
	}
	return f, nil
}

// canWrite is access(2) with W_OK: it asks the kernel about the
// permission without opening the file.
func canWrite(path string) error {
	const wOK = 2 // W_OK, the same on every Unix
	return syscall.Access(path, wOK)
}
