// Package osobs samples a server process from the operating system, without
// its cooperation: its threads (what each is blocked in, and on which
// descriptor) and its TCP sockets (state and peer), over the run, so that
// each client of the tool can be matched to its server socket and, for a
// thread-per-connection server, to the thread serving it.
//
// The process is the one the tool launched (or was given) and its
// descendants, found afresh at each sample: a pre-fork server serves its
// clients in workers it started. Descriptor numbers are per process, so
// threads and sockets carry their process's id.
//
// On Linux the threads come from /proc/PID/task and the sockets from
// /proc/PID/fd, their TCP state from the kernel's socket diagnostics
// (NETLINK_SOCK_DIAG), or /proc/PID/net/tcp{,6} where netlink is not
// available. On Windows the threads come from a Toolhelp32 snapshot and the
// connections from GetExtendedTcpTable; Windows shows neither a thread's
// state nor what it is blocked on, so its threads only count. Elsewhere
// sampling is unavailable, and says so.
//
// The data model is small on purpose, so the reports read it directly: a
// Record is a run of Samples, each the process's Threads and Sockets at
// one instant on the iteration's clock.
package osobs

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// Thread is one thread of the process tree, as one sample saw it.
type Thread struct {
	PID int `json:"pid"` // its process
	TID int `json:"tid"`
	// State is the kernel's one-letter state (R running, S sleeping, D
	// in uninterruptible wait, Z zombie, T stopped); empty where the
	// system does not show it (Windows).
	State string `json:"state"`
	// Wchan is the kernel function the thread sleeps in (empty when
	// running, or not shown).
	Wchan string `json:"wchan"`
	// Syscall is the system call the thread is blocked in, by name
	// ("read", "epoll_wait", "syscall 232" for one not named here);
	// empty when it runs or the kernel does not let it be seen.
	Syscall string `json:"syscall"`
	// FD is the descriptor the system call works on (its first
	// argument, for the calls that take one); -1 when none.
	FD int `json:"fd"`
}

// Socket is one TCP socket of the process tree, as one sample saw it: one
// per process holding it (a listener inherited by every worker is there
// once for each).
type Socket struct {
	PID int `json:"pid"` // the process holding it by FD
	// Inode is the socket's identity on Linux; 0 on Windows, where a
	// socket is known by its addresses (Key).
	Inode uint64 `json:"inode"`
	// FD is the process's descriptor for it; -1 where not known
	// (Windows).
	FD int `json:"fd"`
	// Local and Peer are host:port ("[::1]:80" for IPv6); Peer is
	// "0.0.0.0:0" for a listener.
	Local string `json:"local"`
	Peer  string `json:"peer"`
	// TCPState is ESTABLISHED, LISTEN, CLOSE_WAIT, FIN_WAIT1, FIN_WAIT2,
	// …, as netstat names them.
	TCPState string `json:"tcp_state"`
}

// Key identifies a socket in its process across samples: its inode, or
// its addresses where the system has no inode.
func (s Socket) Key() string {
	id := s.Local + ">" + s.Peer
	if s.Inode != 0 {
		id = strconv.FormatUint(s.Inode, 10)
	}
	return strconv.Itoa(s.PID) + "/" + id
}

// Socket states this package names.
const (
	StateEstablished = "ESTABLISHED"
	StateListen      = "LISTEN"
	// StateGone is a socket no longer in the process's descriptor
	// table (closed by it, or by the kernel at its exit).
	StateGone = "gone"
)

// Sample is the process tree at one instant: At is when it was taken,
// Until the last instant a sample found it unchanged (a Record keeps
// changes only). Gone: no process of the tree existed any more (then
// Threads and Sockets are empty).
type Sample struct {
	At      time.Duration `json:"at"`
	Until   time.Duration `json:"until"`
	Gone    bool          `json:"gone"`
	Threads []Thread      `json:"threads"`
	Sockets []Socket      `json:"sockets"`
}

func (s *Sample) sameAs(o *Sample) bool {
	return s.Gone == o.Gone && slices.Equal(s.Threads, o.Threads) && slices.Equal(s.Sockets, o.Sockets)
}

// Thread returns the thread tid in s, if it was there.
func (s *Sample) Thread(tid int) (Thread, bool) {
	for _, t := range s.Threads {
		if t.TID == tid {
			return t, true
		}
	}
	return Thread{}, false
}

// Alive reports whether process pid was in s (any process, for 0).
func (s *Sample) Alive(pid int) bool {
	return !s.Gone && (pid == 0 || slices.ContainsFunc(s.Threads, func(t Thread) bool { return t.PID == pid }))
}

// Listening reports whether s has a listening socket.
func (s *Sample) Listening() bool {
	for _, k := range s.Sockets {
		if k.TCPState == StateListen {
			return true
		}
	}
	return false
}

// Record is what sampling showed of one process tree over an iteration.
type Record struct {
	// PID is the launched (or given) process, the tree's root.
	PID int
	// Available is false when the process could not be sampled; Why
	// says why (the system, a permission).
	Available bool
	Why       string
	// Method names where the sockets' states came from.
	Method string
	// Samples are the changes, in time order: a sample equal to the one
	// before only moves that one's Until.
	Samples []Sample
	// Taken is how many samples were taken in all; Cost their summed
	// cost (wall time), MaxSockets the most sockets one held.
	Taken      int
	Cost       time.Duration
	MaxSockets int
	// Processes is the most processes one sample followed; Cut the most
	// it left out past maxProcs (at least that many were there).
	Processes int
	Cut       int
	// Interval is the longest pause between two samples while draining:
	// max(10 ms, 20 × a sample's cost). Two events closer than it cannot
	// be told apart.
	Interval time.Duration
	// Baseline indexes Samples: the process before the clients opened.
	// Final, when HasFinal, is the one taken once the port had closed
	// and the settle time passed (a server that keeps running).
	Baseline int
	Final    int
	HasFinal bool
	// GoneAt is when a sample first found the launched process gone
	// (its descendants may outlive it: sampling goes on until every
	// process of the tree is gone).
	GoneAt  time.Duration
	HasGone bool
}

// MeanCost is the average cost of one sample.
func (r *Record) MeanCost() time.Duration {
	if r.Taken == 0 {
		return 0
	}
	return r.Cost / time.Duration(r.Taken)
}

// StateAt is a socket's state from an instant on.
type StateAt struct {
	State string        `json:"state"`
	At    time.Duration `json:"at"`
}

// Conn is what the samples showed of one client connection's server socket:
// the socket whose peer is the client's local address.
type Conn struct {
	// Seen: some sample had the socket; the rest is empty otherwise.
	// PID is the process holding it by FD (the first, if several do).
	Seen  bool
	Inode uint64
	PID   int
	FD    int
	// States are its state's changes, gone included.
	States []StateAt
	// LastOpen is the last instant a sample found it still open on the
	// server's side (ESTABLISHED, or CLOSE_WAIT: the client closed, the
	// server not yet). Closed: a later sample found that the server had
	// closed it (gone from its descriptors, or in a state only the
	// closing side reaches), first at ClosedAt; ClosedAlive: its process
	// (PID) was still alive in that sample (else it was gone with the
	// process).
	LastOpen    time.Duration
	ClosedAt    time.Duration
	Closed      bool
	ClosedAlive bool
	// Thread is the thread of its process seen blocked on its
	// descriptor (0: none), and BlockedIn what it was last seen blocked
	// in, at BlockedAt.
	Thread    int
	BlockedIn string
	BlockedAt time.Duration
}

// openStates are the states of a socket its process has not closed.
var openStates = map[string]bool{StateEstablished: true, "CLOSE_WAIT": true, "SYN_RECV": true}

// State is the socket's last state seen.
func (c Conn) State() string {
	if len(c.States) == 0 {
		return ""
	}
	return c.States[len(c.States)-1].State
}

// Conn follows the server socket whose peer is peer (a client's local
// address) through the samples.
func (r *Record) Conn(peer string) Conn { return r.Conns([]string{peer})[peer] }

// Conns is Conn of every one of peers, in one pass over the samples: each
// sample's sockets are read once, where a Conn for each peer read them all
// again (at 1,000 clients, 100 samples of 1,000 sockets: 100 million
// address parses). A nil record has seen none of them.
func (r *Record) Conns(peers []string) map[string]Conn {
	out := make(map[string]Conn, len(peers))
	want := map[netip.AddrPort][]string{}
	for _, p := range peers {
		out[p] = Conn{}
		if n, ok := normal(p); ok {
			want[n] = append(want[n], p)
		}
	}
	if r == nil || len(want) == 0 {
		return out
	}
	for i := range r.Samples {
		s := &r.Samples[i]
		socks := make(map[netip.AddrPort]Socket, len(want))
		for _, k := range s.Sockets {
			p, ok := normal(k.Peer)
			if _, wanted := want[p]; !ok || !wanted {
				continue
			}
			if _, dup := socks[p]; !dup { // the first, as a scan finds
				socks[p] = k
			}
		}
		for n, ps := range want {
			k, found := socks[n]
			for _, p := range ps {
				c := out[p]
				c.step(s, k, found)
				out[p] = c
			}
		}
	}
	return out
}

// step takes sample s into c: k is the socket of c's peer in it, if found.
func (c *Conn) step(s *Sample, k Socket, found bool) {
	if found && c.Seen && k.Inode != c.Inode {
		found = false // a later connection from the same address
	}
	switch {
	case found:
		c.Seen, c.Inode, c.PID, c.FD = true, k.Inode, k.PID, k.FD
		c.note(k.TCPState, s.At)
		if openStates[k.TCPState] {
			c.LastOpen = s.Until
		} else {
			c.close(s.At, true)
		}
		if t, ok := s.blockedOn(k); ok {
			c.Thread, c.BlockedIn, c.BlockedAt = t.TID, t.BlockedIn(), s.At
		}
	case c.Seen && c.State() != StateGone:
		c.note(StateGone, s.At)
		c.close(s.At, s.Alive(c.PID))
	}
}

// close notes the first sample that found the socket closed by the server.
func (c *Conn) close(at time.Duration, alive bool) {
	if !c.Closed {
		c.Closed, c.ClosedAt, c.ClosedAlive = true, at, alive
	}
}

func (c *Conn) note(state string, at time.Duration) {
	if c.State() != state {
		c.States = append(c.States, StateAt{State: state, At: at})
	}
}

// BlockedIn says what the thread is blocked in, in words: the system call
// and the kernel function ("read in sk_wait_data").
func (t Thread) BlockedIn() string {
	switch {
	case t.Syscall == "" && t.Wchan == "":
		return ""
	case t.Wchan == "":
		return t.Syscall
	case t.Syscall == "":
		return t.Wchan
	}
	return t.Syscall + " in " + t.Wchan
}

// blockedOn finds a thread blocked in a system call on socket k's
// descriptor in a process holding it (the same number in another
// process is another file). Only Linux shows descriptors, and there
// every socket has its inode.
func (s *Sample) blockedOn(k Socket) (Thread, bool) {
	var found Thread
	ok := false
	for _, h := range s.Sockets {
		if h.FD < 0 || h.Inode != k.Inode {
			continue
		}
		for _, t := range s.Threads {
			if t.PID == h.PID && t.FD == h.FD && t.Syscall != "" {
				found, ok = t, true
			}
		}
	}
	return found, ok
}

// normal parses an address, IPv4-mapped IPv6 read as IPv4, so that a
// client's "127.0.0.1:5000" matches a dual-stack server's
// "[::ffff:127.0.0.1]:5000".
func normal(s string) (netip.AddrPort, bool) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}

// Born lists the threads of sample s that the baseline did not have.
func (r *Record) Born(s *Sample) []Thread {
	base := map[int]bool{}
	for _, t := range r.Samples[r.Baseline].Threads {
		base[t.TID] = true
	}
	var out []Thread
	for _, t := range s.Threads {
		if !base[t.TID] {
			out = append(out, t)
		}
	}
	return out
}

// Opened lists the sockets of sample s that the baseline did not have.
func (r *Record) Opened(s *Sample) []Socket {
	base := map[string]bool{}
	for _, k := range r.Samples[r.Baseline].Sockets {
		base[k.Key()] = true
	}
	var out []Socket
	for _, k := range s.Sockets {
		if !base[k.Key()] {
			out = append(out, k)
		}
	}
	return out
}

// tcpStates are the TCP states by the number Linux gives them
// (include/net/tcp_states.h).
var tcpStates = [...]string{1: StateEstablished, 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
	6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: StateListen, 11: "CLOSING", 12: "NEW_SYN_RECV"}

func linuxTCPState(n int) string {
	if n > 0 && n < len(tcpStates) {
		return tcpStates[n]
	}
	return fmt.Sprintf("state %d", n)
}
