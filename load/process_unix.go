//go:build unix

package load

import (
	"context"
	"errors"
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

// killGroup kills pid's process group when the tool launched it (the
// group's id is its pid), else the process alone.
func killGroup(pid int, group bool) error {
	if group {
		return syscall.Kill(-pid, syscall.SIGKILL)
	}
	return syscall.Kill(pid, syscall.SIGKILL)
}

// alive reports whether pid exists (a zombie still does).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// shellCommand runs a trigger's command line with the platform's shell.
func shellCommand(ctx context.Context, line string) *exec.Cmd {
	return exec.CommandContext(ctx, "/bin/sh", "-c", line)
}
