//go:build unix

package load

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// Signals are the trigger's; ctrl-break is Windows's.
const (
	signalsSupported   = true
	ctrlBreakSupported = false
)

var signals = map[string]syscall.Signal{
	"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "HUP": syscall.SIGHUP,
}

func signalByName(name string) (syscall.Signal, bool) {
	s, ok := signals[name]
	return s, ok
}

// ownGroup starts the command in a process group of its own, whose id is
// its pid: the whole group (a shell and the server it started, workers)
// can then be killed at once.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// sendSignal sends the named signal to pid.
func sendSignal(pid int, name string) error {
	s, ok := signalByName(name)
	if !ok {
		return errors.New("unknown signal " + name)
	}
	return syscall.Kill(pid, s)
}

// sendCtrlBreak is Windows's; ParseTrigger refuses it here.
func sendCtrlBreak(int) error { return errors.New("ctrl-break is only available on Windows") }

// group is a launched process's group: its id is the process's pid.
type group struct{ pgid int }

func newGroup(p *os.Process) (group, error) { return group{pgid: p.Pid}, nil }

// kill kills every process of the group. Once the process that led it has
// been waited for, its id cannot be reused while a member of the group is
// alive, so this reaches only what the server left behind.
func (g group) kill() error { return syscall.Kill(-g.pgid, syscall.SIGKILL) }

func (group) close() {}

// killProcess kills pid alone (a --pid process: its group is not the
// tool's to kill).
func killProcess(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

// alive reports whether pid exists (a zombie still does).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// shellCommand runs a trigger's command line with the platform's shell.
func shellCommand(ctx context.Context, line string) *exec.Cmd {
	return exec.CommandContext(ctx, "/bin/sh", "-c", line)
}
