package load

import (
	"errors"
	"syscall"
)

// isReset reports a connection reset by the peer.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, errnoReset)
}

// isRefused reports a refused connection.
func isRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, errnoRefused)
}
