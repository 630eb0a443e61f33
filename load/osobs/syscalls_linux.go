//go:build linux

package osobs

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// syscallInfo names a system call a server thread may be blocked in, and
// says whether its first argument is a descriptor (that is how a thread
// is matched to the connection it serves).
type syscallInfo struct {
	name  string
	fdArg bool
}

// syscalls are the calls every Linux architecture has; syscalls_amd64's
// init adds the older ones only some have.
var syscalls = map[int]syscallInfo{
	unix.SYS_READ: {"read", true}, unix.SYS_WRITE: {"write", true},
	unix.SYS_READV: {"readv", true}, unix.SYS_WRITEV: {"writev", true},
	unix.SYS_RECVFROM: {"recvfrom", true}, unix.SYS_SENDTO: {"sendto", true},
	unix.SYS_RECVMSG: {"recvmsg", true}, unix.SYS_SENDMSG: {"sendmsg", true},
	unix.SYS_ACCEPT: {"accept", true}, unix.SYS_ACCEPT4: {"accept4", true},
	unix.SYS_SHUTDOWN: {"shutdown", true}, unix.SYS_CLOSE: {"close", true},
	unix.SYS_EPOLL_PWAIT: {"epoll_pwait", true}, unix.SYS_PPOLL: {"ppoll", false},
	unix.SYS_PSELECT6: {"pselect6", false}, unix.SYS_FUTEX: {"futex", false},
	unix.SYS_NANOSLEEP: {"nanosleep", false}, unix.SYS_CLOCK_NANOSLEEP: {"clock_nanosleep", false},
	unix.SYS_WAIT4: {"wait4", false}, unix.SYS_WAITID: {"waitid", false},
}

// syscallName names system call nr ("syscall N" for one not listed).
func syscallName(nr int) (name string, fdArg bool) {
	if s, ok := syscalls[nr]; ok {
		return s.name, s.fdArg
	}
	return "syscall " + strconv.Itoa(nr), false
}
