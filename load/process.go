package load

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Bounds of the process handling.
const (
	// outputTail is how many of the server's last output lines a report
	// keeps; outputLineMax how long one may be.
	outputTail    = 20
	outputLineMax = 512
	// outputWait bounds the wait for the server's output once it has
	// exited (a child it left behind may hold the pipe open).
	outputWait = 2 * time.Second
	// pidPoll is how often a process that is not the tool's child is
	// looked at.
	pidPoll = 10 * time.Millisecond
)

// proc is the server's process: launched by the tool, or named by --pid.
// done is closed once it has ended and, when launched, its output read.
type proc struct {
	pid      int
	launched bool
	cmd      *exec.Cmd
	group    group // a launched process's group: it and its children
	out      *tail
	done     chan struct{}
	stop     chan struct{} // ends the watch of a --pid process
	stopOnce sync.Once

	mu     sync.Mutex
	exit   ProcessExit
	exitAt time.Time
}

// launch starts args in a process group of its own (so that the whole
// group can be killed), its stdout and stderr kept by a tail and copied to
// log when set.
func launch(args []string, log io.Writer) (*proc, error) {
	cmd := exec.Command(args[0], args[1:]...)
	t := &tail{log: log}
	// A pipe of the tool's own rather than exec's copying: Wait then
	// returns when the process exits, so its exit time is not held back
	// by a child that keeps the output open; the output's wait is bounded
	// below.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: output pipe: %w", args[0], err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	ownGroup(cmd)
	err = cmd.Start()
	pw.Close() // the children hold the write end now
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("start %s: %w", args[0], err)
	}
	g, err := newGroup(cmd.Process)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		pr.Close()
		return nil, fmt.Errorf("start %s: %w", args[0], err)
	}
	p := &proc{pid: cmd.Process.Pid, launched: true, cmd: cmd, group: g, out: t, done: make(chan struct{})}
	copied := make(chan struct{})
	// Copies the output until every holder of the pipe's write end has
	// closed it, or the pipe is closed below.
	go func() {
		defer close(copied)
		_, _ = io.Copy(t, pr)
	}()
	// Waits for the process, then for its output, bounded; ends when it
	// exits, which the iteration forces (kill) before it waits for done.
	go func() {
		defer close(p.done)
		err := cmd.Wait()
		p.recordExit(time.Now(), cmd.ProcessState, err)
		select {
		case <-copied:
		case <-time.After(outputWait):
		}
		pr.Close()
		<-copied
	}()
	return p, nil
}

// recordExit records how a launched process ended, and when.
func (p *proc) recordExit(now time.Time, st *os.ProcessState, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.exitAt = now
	p.exit.Exited = true
	switch {
	case st == nil:
		p.exit.Detail = err.Error()
	case st.Exited():
		p.exit.Status, p.exit.StatusKnown, p.exit.Detail = st.ExitCode(), true, st.String()
	default:
		p.exit.Detail = st.String()
	}
}

// attach watches a process the tool did not start: it only sees that it
// has gone, not its status.
func attach(pid int) (*proc, error) {
	if !alive(pid) {
		return nil, fmt.Errorf("no process %d", pid)
	}
	p := &proc{pid: pid, done: make(chan struct{}), stop: make(chan struct{}), out: &tail{}}
	// Polls until the process has gone or the iteration stops watching.
	go func() {
		tick := time.NewTicker(pidPoll)
		defer tick.Stop()
		for alive(pid) {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
		p.mu.Lock()
		p.exitAt, p.exit.Exited, p.exit.Detail = time.Now(), true, "gone (not the tool's child: status unknown)"
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended (and, when launched, its
// output been read).
func (p *proc) exited() bool { return closed(p.done) }

// peek is how the process has ended so far (Exited false while it runs),
// and when, on clock.
func (p *proc) peek(clock func(time.Time) time.Duration) (ProcessExit, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.exit.Exited {
		return p.exit, 0
	}
	return p.exit, clock(p.exitAt)
}

// end makes sure the process has ended before the iteration does: one
// still running is killed with its group (a launched one; a --pid process
// is only signalled KILL). It waits for it, bounded, and returns how it
// ended.
func (p *proc) end() (exit ProcessExit, exitAt, killAt time.Time) {
	killed := false
	if !p.exited() {
		killed, killAt = true, time.Now()
		if p.launched {
			_ = p.group.kill()
		} else {
			_ = killProcess(p.pid)
		}
	}
	select {
	case <-p.done:
	case <-time.After(outputWait + 3*time.Second):
	}
	if p.stop != nil {
		p.stopOnce.Do(func() { close(p.stop) })
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.exit.Killed = killed
	return p.exit, p.exitAt, killAt
}

// release kills what is left of a launched process's group once the
// process has ended and its port been checked: a child it left behind
// (a forked worker holding the port) must not outlive the iteration.
func (p *proc) release() {
	if p.launched {
		_ = p.group.kill() // none left is the usual case, not an error
		p.group.close()
	}
}

// tail keeps the last outputTail lines written to it, and copies
// everything to log when set.
type tail struct {
	log     io.Writer
	mu      sync.Mutex
	partial []byte
	lines   []string
	n       int
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.log != nil {
		_, _ = t.log.Write(b) // a failing log must not stop the server
	}
	t.partial = append(t.partial, b...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		t.add(string(t.partial[:i]))
		t.partial = t.partial[i+1:]
	}
	if len(t.partial) > outputLineMax {
		t.add(string(t.partial))
		t.partial = t.partial[:0]
	}
	return len(b), nil
}

func (t *tail) add(line string) {
	line = strings.TrimRight(line, "\r")
	if len(line) > outputLineMax {
		line = line[:outputLineMax] + "…"
	}
	t.n++
	t.lines = append(t.lines, line)
	if len(t.lines) > outputTail {
		t.lines = t.lines[len(t.lines)-outputTail:]
	}
}

// last is the lines kept, an unfinished last line included, and how many
// lines were written in all.
func (t *tail) last() ([]string, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]string{}, t.lines...)
	n := t.n
	if len(t.partial) > 0 {
		out = append(out, string(t.partial))
		n++
	}
	if len(out) > outputTail {
		out = out[len(out)-outputTail:]
	}
	return out, n
}

// lastWords is the tail in one line, for an error message.
func (t *tail) lastWords() string {
	lines, _ := t.last()
	if len(lines) == 0 {
		return "it wrote nothing"
	}
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return "its last output: " + strings.Join(lines, " | ")
}

var errNoProcess = errors.New("no server process: launch it after -- or give --pid")
