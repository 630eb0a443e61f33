//go:build unix

package main

import (
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// startHolder starts this program again as a child that holds l and the
// output for d: it is not waited for, as a forked worker is not.
func startHolder(l net.Listener, d time.Duration, ownGroup bool) error {
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command(os.Args[0], "-hold-fd", "-holder", d.String())
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = os.Stdout, os.Stderr, []*os.File{f}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: ownGroup}
	if err := cmd.Start(); err != nil {
		return err
	}
	return cmd.Process.Release()
}
