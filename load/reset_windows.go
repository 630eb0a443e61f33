package load

import "syscall"

// Winsock's own numbers for the same errors (WSAECONNRESET,
// WSAECONNREFUSED), which the net package passes through on Windows.
const (
	errnoReset   = syscall.Errno(10054)
	errnoRefused = syscall.Errno(10061)
)
