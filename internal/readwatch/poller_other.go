//go:build !linux

package readwatch

import "syscall"

// poller is Linux's epoll; elsewhere there is none and every watch takes
// a goroutine.
type poller struct{ spill func(func()) }

func newPoller() *poller { return nil }

func (*poller) watch(syscall.RawConn, func()) (func() bool, bool) { return nil, false }

func (*poller) close() bool { return true }
