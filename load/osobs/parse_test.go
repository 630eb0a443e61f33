package osobs

import (
	"encoding/binary"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestParseProcNetTCP(t *testing.T) {
	// Written by the kernel of a little-endian machine: 127.0.0.1:8080
	// listening, and an accepted connection from 127.0.0.1:40000.
	table := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0 100 0 0 10 0\n" +
		"   1: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 222 1 0 20 4 30 10 -1\n" +
		"   2: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 333 1 0 20 4 30 10 -1\n"
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the fixed table is a little-endian kernel's")
	}
	// Inode 222 is held by two processes (a connection inherited by a
	// child): one socket each, with its own descriptor.
	inodes := holders{111: {{1, 3}}, 222: {{1, 7}, {2, 4}}, 333: {{1, 9}}}
	got := inodes.expand(parseProcNetTCP([]byte(table), inodes, 8080))
	want := []Socket{
		{PID: 1, Inode: 111, FD: 3, Local: "127.0.0.1:8080", Peer: "0.0.0.0:0", TCPState: StateListen},
		{PID: 1, Inode: 222, FD: 7, Local: "127.0.0.1:8080", Peer: "127.0.0.1:40000", TCPState: StateEstablished},
		{PID: 2, Inode: 222, FD: 4, Local: "127.0.0.1:8080", Peer: "127.0.0.1:40000", TCPState: StateEstablished},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %+v, want %+v (inode 333 is on another local port)", got, want)
	}
	six := "  sl  local_address                         remote_address                        st\n" +
		"   0: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:9C41 08 0:0 0:0 0 1000 0 444 1\n"
	got = parseProcNetTCP([]byte(six), holders{444: {{1, 5}}}, 0)
	if len(got) != 1 || got[0].Local != "[::1]:8080" || got[0].Peer != "[::1]:40001" || got[0].TCPState != "CLOSE_WAIT" {
		t.Fatalf("tcp6: got %+v", got)
	}
}

// TestParseTCPTable reads GetExtendedTcpTable's layouts from fixed
// buffers, as Windows fills them: a listener and a connection of pid 42,
// and one of another process that must be left out.
func TestParseTCPTable(t *testing.T) {
	le := binary.LittleEndian
	row := func(state uint32, local [4]byte, lport uint16, remote [4]byte, rport uint16, pid uint32) []byte {
		r := make([]byte, tcpRowLen)
		le.PutUint32(r[0:], state)
		copy(r[4:8], local[:])
		binary.BigEndian.PutUint16(r[8:], lport)
		copy(r[12:16], remote[:])
		binary.BigEndian.PutUint16(r[16:], rport)
		le.PutUint32(r[20:], pid)
		return r
	}
	lo := [4]byte{127, 0, 0, 1}
	b := le.AppendUint32(nil, 3)
	b = append(b, row(2, lo, 8080, [4]byte{}, 0, 42)...)
	b = append(b, row(5, lo, 8080, lo, 50000, 42)...)
	b = append(b, row(5, lo, 50000, lo, 8080, 7)...)
	got, err := parseTCPTable(b, map[uint32]bool{42: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].TCPState != StateListen || got[1].Local != "127.0.0.1:8080" ||
		got[1].Peer != "127.0.0.1:50000" || got[1].TCPState != StateEstablished || got[1].FD != -1 || got[1].PID != 42 {
		t.Fatalf("got %+v", got)
	}
	if _, err := parseTCPTable(b[:30], map[uint32]bool{42: true}); err == nil {
		t.Fatal("a table shorter than its count says: want an error")
	}

	r6 := make([]byte, tcp6RowLen)
	r6[15] = 1 // ::1
	binary.BigEndian.PutUint16(r6[20:], 8080)
	r6[24+15] = 1
	binary.BigEndian.PutUint16(r6[44:], 50001)
	le.PutUint32(r6[48:], 7) // FIN_WAIT2
	le.PutUint32(r6[52:], 42)
	got, err = parseTCP6Table(append(le.AppendUint32(nil, 1), r6...), map[uint32]bool{42: true})
	if err != nil || len(got) != 1 || got[0].Local != "[::1]:8080" || got[0].Peer != "[::1]:50001" || got[0].TCPState != "FIN_WAIT2" {
		t.Fatalf("tcp6: got %+v, %v", got, err)
	}
}

func TestConnFollowsASocket(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	est := Socket{Inode: 9, FD: 5, Local: "127.0.0.1:80", Peer: "127.0.0.1:4000", TCPState: StateEstablished}
	half := est
	half.TCPState = "CLOSE_WAIT"
	reader := Thread{TID: 11, State: "S", Wchan: "sk_wait_data", Syscall: "read", FD: 5}
	rec := Record{Samples: []Sample{
		{At: ms(0), Until: ms(50), Threads: []Thread{reader}, Sockets: []Socket{est}},
		{At: ms(60), Until: ms(60), Threads: []Thread{{TID: 11, State: "R", FD: -1}}, Sockets: []Socket{half}},
		{At: ms(70), Until: ms(90), Threads: []Thread{{TID: 1, FD: -1}}},
		{At: ms(100), Until: ms(100), Gone: true},
	}}
	c := rec.Conn("[::ffff:127.0.0.1]:4000")
	if !c.Seen || c.Thread != 11 || c.BlockedIn != "read in sk_wait_data" {
		t.Fatalf("conn: %+v", c)
	}
	// CLOSE_WAIT is the client's close: the server closed it only when
	// it left the descriptor table, at 70 ms.
	if !c.Closed || !c.ClosedAlive || c.ClosedAt != ms(70) || c.LastOpen != ms(60) || c.State() != StateGone || len(c.States) != 3 {
		t.Fatalf("conn's end: %+v", c)
	}
	// Kept ESTABLISHED until the process was gone: it left with it.
	rec.Samples[1].Sockets = []Socket{est}
	rec.Samples[2].Sockets = []Socket{est}
	c = rec.Conn("127.0.0.1:4000")
	if !c.Closed || c.ClosedAlive || c.ClosedAt != ms(100) || c.LastOpen != ms(90) {
		t.Fatalf("conn closed at exit: %+v", c)
	}
	if c := rec.Conn("127.0.0.1:4001"); c.Seen {
		t.Fatalf("another peer: %+v", c)
	}
}

// In a pre-fork server the master (pid 10) and its worker (pid 11) each
// have a descriptor 5: only the worker's thread blocked on it serves the
// worker's connection. When the worker exits while the master lives on,
// the connection left with the worker, not closed by it.
func TestConnThreadInItsOwnProcess(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	conn := Socket{PID: 11, Inode: 9, FD: 5, Local: "127.0.0.1:80", Peer: "127.0.0.1:4000", TCPState: StateEstablished}
	master := Thread{PID: 10, TID: 10, State: "S", Syscall: "read", FD: 5}
	worker := Thread{PID: 11, TID: 11, State: "S", Syscall: "epoll_wait", FD: 7}
	rec := Record{Samples: []Sample{
		{At: ms(0), Until: ms(50), Threads: []Thread{master, worker}, Sockets: []Socket{conn}},
		{At: ms(60), Until: ms(60), Threads: []Thread{master}},
	}}
	c := rec.Conn("127.0.0.1:4000")
	if !c.Seen || c.PID != 11 || c.Thread != 0 {
		t.Fatalf("conn %+v: want pid 11 and no thread (the master's fd 5 is another file)", c)
	}
	if !c.Closed || c.ClosedAlive {
		t.Fatalf("conn %+v: want closed with its process, not by it", c)
	}
	worker.Syscall, worker.FD = "read", 5
	rec.Samples[0].Threads = []Thread{master, worker}
	if c := rec.Conn("127.0.0.1:4000"); c.Thread != 11 {
		t.Fatalf("conn %+v: want the worker's thread 11", c)
	}
}

// Conns of several peers in one pass is each peer's Conn: two clients'
// sockets, one of them under an IPv4-mapped address, and a peer the
// server never had, through samples where they open and close apart.
func TestConnsIsEachConn(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	a := Socket{Inode: 9, FD: 5, Local: "127.0.0.1:80", Peer: "127.0.0.1:4000", TCPState: StateEstablished}
	b := Socket{Inode: 10, FD: 6, Local: "127.0.0.1:80", Peer: "[::ffff:127.0.0.1]:4001", TCPState: StateEstablished}
	bHalf := b
	bHalf.TCPState = "FIN_WAIT1"
	rec := Record{Samples: []Sample{
		{At: ms(0), Until: ms(10), Threads: []Thread{{TID: 11, Syscall: "read", FD: 5}}, Sockets: []Socket{a}},
		{At: ms(20), Until: ms(30), Sockets: []Socket{a, b}},
		{At: ms(40), Until: ms(40), Sockets: []Socket{bHalf}},
		{At: ms(50), Until: ms(50)},
	}}
	peers := []string{"127.0.0.1:4000", "127.0.0.1:4001", "[::ffff:127.0.0.1]:4000", "127.0.0.1:4002", "not an address"}
	all := rec.Conns(peers)
	for _, p := range peers {
		if one := rec.Conn(p); !reflect.DeepEqual(all[p], one) {
			t.Errorf("%s: with the others %+v, alone %+v", p, all[p], one)
		}
	}
	if !all["127.0.0.1:4000"].Seen || !all["127.0.0.1:4001"].Seen || all["127.0.0.1:4002"].Seen {
		t.Errorf("seen: %+v", all)
	}
	if c := all["127.0.0.1:4001"]; !c.Closed || c.ClosedAt != ms(40) {
		t.Errorf("the second client's close: %+v", c)
	}
}
