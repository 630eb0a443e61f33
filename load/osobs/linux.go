//go:build linux

package osobs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// procSource samples a process and its descendants through /proc. Its
// TCP states come from netlink sock_diag when the process shares the
// tool's network namespace and netlink answers, else from the process's
// own /proc/PID/net/tcp{,6}.
type procSource struct {
	tree    *procTree
	port    uint16
	netlink bool
	buf     []byte
	// known are the TCP sockets a dump found, by inode, to be looked up
	// by id from then on; other are the socket inodes a dump did not
	// return (not TCP, or not on the port).
	known map[uint64]diagSock
	other map[uint64]bool
}

func open(pid int, port uint16) (source, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	if _, err := os.Stat(dir + "/task"); err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	if _, err := os.ReadDir(dir + "/fd"); err != nil {
		return nil, fmt.Errorf("process %d: its descriptors cannot be read: %w", pid, err)
	}
	s := &procSource{tree: newProcTree("/proc", pid), port: port, buf: make([]byte, 4096)}
	self, err1 := os.Readlink("/proc/self/ns/net")
	its, err2 := os.Readlink(dir + "/ns/net")
	if err1 == nil && err2 == nil && self == its {
		_, err := diagDump(holders{}, port)
		s.netlink = err == nil
	}
	return s, nil
}

func (s *procSource) method() string {
	if s.netlink {
		return "netlink sock_diag"
	}
	return "/proc/PID/net/tcp"
}

func (s *procSource) read() (reading, error) {
	pids, cut := s.tree.walk()
	r := reading{cut: cut}
	inodes := holders{}
	netDir := ""
	for _, pid := range pids {
		dir := s.tree.proc + "/" + strconv.Itoa(pid)
		threads, alive, err := s.threads(dir, pid)
		if err != nil {
			return reading{}, err
		}
		if !alive {
			continue
		}
		r.procs++
		r.threads = append(r.threads, threads...)
		s.socketInodes(dir, pid, inodes)
		if netDir == "" {
			netDir = dir
		}
	}
	if r.procs == 0 {
		r.gone = true
		return r, nil
	}
	if len(inodes) > 0 {
		var sockets []Socket
		var err error
		if s.netlink {
			sockets, err = s.diag(inodes)
		} else {
			sockets, err = procNetTCP(netDir, inodes, s.port)
		}
		if err != nil {
			return reading{}, err
		}
		r.sockets = inodes.expand(sockets)
	}
	return r, nil
}

// threads reads the threads of process pid (its /proc directory dir);
// alive is false when it has exited, reaped or not.
func (s *procSource) threads(dir string, pid int) (threads []Thread, alive bool, err error) {
	tids, err := readNames(dir + "/task")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	threads = make([]Thread, 0, len(tids))
	zombies := 0
	for _, name := range tids {
		tid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		t, ok := s.thread(dir, pid, tid)
		if !ok {
			continue // exited meanwhile
		}
		if t.State == "Z" || t.State == "X" {
			zombies++
		}
		threads = append(threads, t)
	}
	// Exited but not yet reaped: its descriptors are already closed.
	return threads, len(threads) > zombies, nil
}

// diag reads the states of inodes' sockets: by a dump when one is not yet
// known, else by looking each up.
func (s *procSource) diag(inodes holders) ([]Socket, error) {
	var look []diagSock
	for ino := range inodes {
		k, ok := s.known[ino]
		if !ok && !s.other[ino] {
			return s.learn(inodes)
		}
		if ok {
			look = append(look, k)
		}
	}
	return diagLookup(look, inodes)
}

// learn dumps the TCP sockets on the port and remembers which of inodes
// they are.
func (s *procSource) learn(inodes holders) ([]Socket, error) {
	found, err := diagDump(inodes, s.port)
	if err != nil {
		return nil, err
	}
	s.known, s.other = map[uint64]diagSock{}, map[uint64]bool{}
	out := make([]Socket, 0, len(found))
	for _, k := range found {
		s.known[k.Inode] = k
		out = append(out, k.Socket)
	}
	for ino := range inodes {
		if _, ok := s.known[ino]; !ok {
			s.other[ino] = true
		}
	}
	return out, nil
}

// thread reads one thread's state, wait channel and system call.
func (s *procSource) thread(dir string, pid, tid int) (Thread, bool) {
	base := dir + "/task/" + strconv.Itoa(tid) + "/"
	t := Thread{PID: pid, TID: tid, FD: -1}
	stat, ok := s.readFile(base + "stat")
	if !ok {
		return t, false
	}
	// The state follows the command name, which may hold spaces and
	// parentheses: it is after the last ')'.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		t.State = string(stat[i+2 : i+3])
	}
	if w, ok := s.readFile(base + "wchan"); ok && len(w) > 0 && string(w) != "0" {
		t.Wchan = string(w)
	}
	// The syscall file needs the right to ptrace the thread (the tool's
	// own child, or root); without it the thread still counts.
	if sc, ok := s.readFile(base + "syscall"); ok {
		t.Syscall, t.FD = parseSyscall(string(sc))
	}
	return t, true
}

// parseSyscall reads /proc/PID/task/TID/syscall: "running", or the call's
// number and its arguments in hex ("-1 …" when blocked outside a call).
func parseSyscall(line string) (name string, fd int) {
	f := strings.Fields(line)
	if len(f) < 2 {
		return "", -1
	}
	nr, err := strconv.Atoi(f[0])
	if err != nil || nr < 0 {
		return "", -1
	}
	name, fdArg := syscallName(nr)
	if !fdArg {
		return name, -1
	}
	arg, err := strconv.ParseUint(strings.TrimPrefix(f[1], "0x"), 16, 64)
	if err != nil || arg > 1<<31 {
		return name, -1
	}
	return name, int(arg)
}

// socketInodes adds the sockets process pid (its /proc directory dir)
// holds to inodes.
func (s *procSource) socketInodes(dir string, pid int, inodes holders) {
	names, err := readNames(dir + "/fd")
	if err != nil {
		return
	}
	for _, n := range names {
		link, err := os.Readlink(dir + "/fd/" + n)
		if err != nil {
			continue
		}
		ino, ok := strings.CutPrefix(link, "socket:[")
		if !ok {
			continue
		}
		v, err := strconv.ParseUint(strings.TrimSuffix(ino, "]"), 10, 64)
		fd, err2 := strconv.Atoi(n)
		if err == nil && err2 == nil {
			inodes[v] = append(inodes[v], holder{pid: pid, fd: fd})
		}
	}
}

// readFile reads a small /proc file into the source's buffer, trimmed;
// the result is valid until the next call.
func (s *procSource) readFile(path string) ([]byte, bool) { return readSmall(path, s.buf) }

// readSmall reads a small /proc file into buf, trimmed.
func readSmall(path string, buf []byte) ([]byte, bool) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false
	}
	defer unix.Close(fd)
	n, err := unix.Read(fd, buf)
	if err != nil || n < 0 {
		return nil, false
	}
	return bytes.TrimSpace(buf[:n]), true
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// procNetTCP reads the TCP sockets of inodes on local port port (any when
// 0) from the process's own network namespace's tables.
func procNetTCP(dir string, inodes holders, port uint16) ([]Socket, error) {
	var out []Socket
	for _, name := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(dir + "/net/" + name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, parseProcNetTCP(b, inodes, port)...)
	}
	return out, nil
}
