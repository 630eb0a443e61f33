//go:build windows

package load

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
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

// group is a launched process's job object: the process and every
// process it starts (they inherit the job) are ended together. The job
// closes with the tool's last handle to it, killing what is still in it
// (JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE), so nothing outlives the tool even
// when it is killed itself. A child the process starts before it is
// assigned (the instant after CreateProcess) is not in the job.
type group struct{ job windows.Handle }

func newGroup(p *os.Process) (group, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return group{}, fmt.Errorf("create job object: %w", err)
	}
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{
		BasicLimitInformation: windows.JOBOBJECT_BASIC_LIMIT_INFORMATION{LimitFlags: windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE},
	}
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		windows.CloseHandle(job)
		return group{}, fmt.Errorf("set job object limits: %w", err)
	}
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(p.Pid))
	if err != nil {
		windows.CloseHandle(job)
		return group{}, fmt.Errorf("open process %d: %w", p.Pid, err)
	}
	defer windows.CloseHandle(h)
	if err := windows.AssignProcessToJobObject(job, h); err != nil {
		windows.CloseHandle(job)
		return group{}, fmt.Errorf("assign process %d to a job object: %w", p.Pid, err)
	}
	return group{job: job}, nil
}

// kill ends every process in the job.
func (g group) kill() error { return windows.TerminateJobObject(g.job, 1) }

func (g group) close() { windows.CloseHandle(g.job) }

// killProcess terminates pid alone (a --pid process).
func killProcess(pid int) error {
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
