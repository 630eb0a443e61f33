package osobs

import "golang.org/x/sys/unix"

// The calls amd64 keeps from before their generic successors; servers
// still use them (epoll_wait in nginx, poll in older loops).
func init() {
	syscalls[unix.SYS_EPOLL_WAIT] = syscallInfo{"epoll_wait", true}
	syscalls[unix.SYS_POLL] = syscallInfo{"poll", false}
	syscalls[unix.SYS_SELECT] = syscallInfo{"select", false}
}
