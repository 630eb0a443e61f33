//go:build !windows

package load

import "syscall"

const (
	errnoReset   = syscall.ECONNRESET
	errnoRefused = syscall.ECONNREFUSED
)
