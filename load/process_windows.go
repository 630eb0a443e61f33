//go:build windows

package load

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// Windows has no signals to send to another process: a launched process
// in its own process group gets CTRL_BREAK_EVENT instead.
const (
	signalsSupported   = false
	ctrlBreakSupported = true
)

func signalByName(string) (syscall.Signal, bool) { return 0, false }

// ownGroup starts the command in a new process group, so that
// CTRL_BREAK_EVENT reaches it and not the tool.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

func sendSignal(int, string) error {
	return errors.New("signals are not available on Windows; use ctrl-break")
}

var generateConsoleCtrlEvent = syscall.NewLazyDLL("kernel32.dll").NewProc("GenerateConsoleCtrlEvent")

// sendCtrlBreak sends CTRL_BREAK_EVENT to the process group pid leads.
func sendCtrlBreak(pid int) error {
	const ctrlBreakEvent = 1
	if r, _, err := generateConsoleCtrlEvent.Call(ctrlBreakEvent, uintptr(pid)); r == 0 {
		return err
	}
	return nil
}

// killGroup terminates the process. Its children are not reached: a job
// object would be needed for that (left for later; the README says so).
func killGroup(pid int, _ bool) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// alive reports whether pid is still running.
func alive(pid int) bool {
	const queryLimited = 0x1000 // PROCESS_QUERY_LIMITED_INFORMATION
	const stillActive = 259
	h, err := syscall.OpenProcess(queryLimited, false, uint32(pid))
	if err != nil {
		return false
	}
	defer syscall.CloseHandle(h)
	var code uint32
	if err := syscall.GetExitCodeProcess(h, &code); err != nil {
		return false
	}
	return code == stillActive
}

// shellCommand runs a trigger's command line with the platform's shell.
func shellCommand(ctx context.Context, line string) *exec.Cmd {
	return exec.CommandContext(ctx, "cmd", "/C", line)
}
