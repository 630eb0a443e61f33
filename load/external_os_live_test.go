package load

import (
	"testing"

	"shutdowntest/load/osobs"
)

// A live snapshot has only the latest sample: a client whose server socket
// was seen before and is no longer there shows it gone, with the thread
// that served it, as the whole record will; one never seen shows nothing.
func TestLiveSideRemembersGone(t *testing.T) {
	const client, other = "127.0.0.1:50001", "127.0.0.1:50002"
	sample := func(sockets ...osobs.Socket) *osobs.Record {
		s := osobs.Sample{Sockets: sockets}
		for _, k := range sockets {
			s.Threads = append(s.Threads, osobs.Thread{TID: 200 + k.FD, Syscall: "read", FD: k.FD})
		}
		return &osobs.Record{Samples: []osobs.Sample{s}}
	}
	open := osobs.Socket{Inode: 7, FD: 7, Local: "127.0.0.1:8080", Peer: client, TCPState: osobs.StateEstablished}
	var e extIteration
	steps := []struct {
		rec  *osobs.Record
		want ServerSide
	}{
		{sample(), ServerSide{}},
		{sample(open), ServerSide{Socket: osobs.StateEstablished, Thread: 207, BlockedIn: "read"}},
		{sample(), ServerSide{Socket: osobs.StateGone, Thread: 207, BlockedIn: "read"}},
		{sample(), ServerSide{Socket: osobs.StateGone, Thread: 207, BlockedIn: "read"}},
	}
	for i, st := range steps {
		conns := st.rec.Conns([]string{client, other})
		if got := e.liveSide(conns, client); got != st.want {
			t.Errorf("step %d: %+v, want %+v", i, got, st.want)
		}
		if got := e.liveSide(conns, other); got != (ServerSide{}) {
			t.Errorf("step %d: a client never seen shows %+v", i, got)
		}
	}
}
