// Package strayconn opens, for tests, a connection the tool did not open:
// what a health check, a port scanner or a person with nc would hold on the
// server while it runs. The connection is held by another process (the
// test binary, run again), because one from the test's own process would
// add a socket to the process's descriptor count, which the fd cross-check
// of resources-released rightly does not excuse.
package strayconn

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"
)

// envAddr, set in a test binary's environment, makes it the holder of a
// connection to that address instead of running tests.
const envAddr = "SHUTDOWNTEST_STRAYCONN_ADDR"

// holdFor bounds the holder's life: the server closes the connection at
// shutdown long before, and the test closes the holder's stdin at the end.
const holdFor = 2 * time.Minute

// Serve makes this process the holder when the environment asks for it:
// it connects, prints the connection's local address, and holds the
// connection silent until the server closes it or its stdin closes, then
// exits. Call it first in TestMain; otherwise it returns at once.
func Serve() {
	addr := os.Getenv(envAddr)
	if addr == "" {
		return
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, "strayconn:", err)
		os.Exit(1)
	}
	fmt.Println(conn.LocalAddr().String())
	// The process ends when either side lets go; the goroutines end with it.
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); done <- struct{}{} }()
	go func() { _, _ = io.Copy(io.Discard, conn); done <- struct{}{} }()
	select {
	case <-done:
	case <-time.After(holdFor):
	}
	os.Exit(0)
}

// Conn is a connection held by another process.
type Conn struct {
	// Local is the holder's address: the peer address the server sees.
	Local string
	cmd   *exec.Cmd
	stdin io.Closer
}

// Open starts a holder of a connection to addr and returns once it is
// connected, within d. The test binary's TestMain must call Serve.
func Open(addr string, d time.Duration) (*Conn, error) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envAddr+"="+addr)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the holder: %w", err)
	}
	c := &Conn{cmd: cmd, stdin: stdin}
	line := make(chan string, 1)
	// Ends with the holder's first line, or when the holder exits.
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case c.Local = <-line:
		if c.Local != "" {
			return c, nil
		}
		err = errors.New("the holder did not connect")
	case <-time.After(d):
		err = fmt.Errorf("the holder did not connect within %v", d)
	}
	return nil, errors.Join(err, c.Close())
}

// Close lets the holder go and waits for it to exit, killing it if it has
// not within a few seconds.
func (c *Conn) Close() error {
	_ = c.stdin.Close()
	exited := make(chan error, 1)
	go func() { exited <- c.cmd.Wait() }() // ends when the holder exits
	select {
	case err := <-exited:
		return err
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		return fmt.Errorf("the holder did not exit within 5s of its stdin closing: %w", <-exited)
	}
}
