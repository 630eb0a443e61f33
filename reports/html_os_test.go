package reports

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"shutdowntest/load"
	"shutdowntest/load/osobs"
)

// htmlOSReport is the fixed page with the OS samples of a
// thread-per-connection server beside it: clients 1 and 2 each served by
// a thread blocked in read on its connection; after the trigger the
// server closes client 1's connection (FIN_WAIT2) and its thread exits,
// and then the process exits.
func htmlOSReport() Report {
	r := htmlFixedReport()
	peer := func(id int) string { return fmt.Sprintf("127.0.0.1:%d", 51000+id) }
	listener := osobs.Socket{Inode: 1, FD: 3, Local: "127.0.0.1:8080", Peer: "0.0.0.0:0", TCPState: osobs.StateListen}
	main := osobs.Thread{TID: 100, State: "S", Syscall: "accept4", FD: 3}
	conn := func(id int, state string) osobs.Socket {
		return osobs.Socket{Inode: uint64(10 + id), FD: 10 + id, Local: "127.0.0.1:8080", Peer: peer(id), TCPState: state}
	}
	serving := func(id int) osobs.Thread {
		return osobs.Thread{TID: 200 + id, State: "S", Wchan: "sk_wait_data", Syscall: "read", FD: 10 + id}
	}
	rec := &osobs.Record{PID: 4242, Available: true, Method: "netlink", Taken: 30, Interval: 10_000_000, Samples: []osobs.Sample{
		{At: after(-40), Until: after(-35), Threads: []osobs.Thread{main}, Sockets: []osobs.Socket{listener}},
		{At: after(-30), Until: after(0), Threads: []osobs.Thread{main, serving(1), serving(2)},
			Sockets: []osobs.Socket{listener, conn(1, osobs.StateEstablished), conn(2, osobs.StateEstablished)}},
		{At: after(100), Until: after(200), Threads: []osobs.Thread{main, serving(2)},
			Sockets: []osobs.Socket{conn(1, "FIN_WAIT2"), conn(2, osobs.StateEstablished)}},
		{At: after(250), Until: after(250), Gone: true},
	}}
	li := load.Iteration{Trigger: trig, External: &load.ExternalRecord{PID: 4242, OS: rec}}
	it := &r.Iterations[0]
	for id := 1; id <= 2; id++ {
		c := rec.Conn(peer(id))
		cr := load.ClientResult{Local: peer(id), Server: load.ServerSide{Socket: c.State(), Thread: c.Thread, BlockedIn: c.BlockedIn}}
		cr.ID = id
		li.Clients = append(li.Clients, cr)
		it.Clients[id-1].Server = serverSideOf(cr)
	}
	it.OS = osBlock(&li)
	return r
}

var htmlOSLane = regexp.MustCompile(`<g class="lane os (socket|thread)">(.*?)</g>`)

// The server lanes are drawn from the samples: one per socket and thread
// the baseline did not have, coloured by state, ending where a sample
// found it gone, and named with the client it served.
func TestHTMLOSLanes(t *testing.T) {
	r := htmlOSReport()
	if n := len(r.Iterations[0].OS.Lanes); n != 5 {
		t.Fatalf("the os block has %d lanes, want 5 (listener, two sockets, two threads)", n)
	}
	page := htmlOf(t, r)
	lanes := htmlOSLane.FindAllStringSubmatch(page, -1)
	if len(lanes) != 5 {
		t.Fatalf("%d server lanes drawn, want 5:\n%s", len(lanes), page)
	}
	want := []struct {
		kind, label string
		has         []string
	}{
		{"socket", "fd 3 listener 127.0.0.1:8080", []string{"st os-listen", "class=\"exit-mark\""}},
		{"socket", "fd 11 ← 127.0.0.1:51001", []string{"st os-established", "st os-closing", "FIN_WAIT2", ">client 1<"}},
		{"socket", "fd 12 ← 127.0.0.1:51002", []string{"st os-established", ">client 2<"}},
		{"thread", "thread 201", []string{"st os-read", "gone at t&#43;100 ms", ">client 1<"}},
		{"thread", "thread 202", []string{"st os-read", ">client 2<"}},
	}
	for i, w := range want {
		l := lanes[i]
		if l[1] != w.kind || !strings.Contains(l[2], ">"+w.label+"<") {
			t.Errorf("lane %d is a %s lane %q, want a %s lane %q", i, l[1], l[2], w.kind, w.label)
			continue
		}
		for _, h := range w.has {
			if !strings.Contains(l[2], h) {
				t.Errorf("lane %q lacks %q: %s", w.label, h, l[2])
			}
		}
	}
	for _, w := range []string{"server process 4242 (OS samples)", "thread per connection", "server socket ESTABLISHED", "os-closing{--c:"} {
		if !strings.Contains(page, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	if plain := htmlOf(t, htmlFixedReport()); strings.Contains(plain, "os-head") || strings.Contains(plain, "server socket ESTABLISHED") {
		t.Error("a page without OS samples draws server lanes or their legend")
	}
}
