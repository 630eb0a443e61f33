package load

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
	cmd.Stdout, cmd.Stderr = t, t
	cmd.WaitDelay = outputWait
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", args[0], err)
	}
	p := &proc{pid: cmd.Process.Pid, launched: true, cmd: cmd, out: t, done: make(chan struct{})}
	// Waits for the process and its output; ends when it exits, which
	// the iteration forces (kill) before it waits for done.
	go func() {
		defer close(p.done)
		err := cmd.Wait()
		now := time.Now()
		st := cmd.ProcessState
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
	}()
	return p, nil
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

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

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
func (p *proc) end() (ProcessExit, time.Time) {
	killed := false
	if !p.exited() {
		killed = true
		_ = killGroup(p.pid, p.launched)
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
	return p.exit, p.exitAt
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
