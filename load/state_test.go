package load

import (
	"context"
	"testing"
)

// With the Go test server's state endpoint, the live snapshots carry its
// threads, each joined to a client by the client's own socket address
// (what the view's thread columns show), and the iteration's record names
// the thread that served every client, on the iteration's clock.
func TestExternalStateThreadsReachSnapshotsAndRecord(t *testing.T) {
	cfg := externalConfig(t, Mix{HTTPIdle: 1, HTTPInflight: 1, WS: 1}, "-ws-going-away", "-state-listen", "127.0.0.1:{state-port}")
	cfg.External.StateURL = "http://127.0.0.1:{state-port}/state"
	snaps := make(chan Snapshot, 1024)
	res, err := Run(context.Background(), cfg, Observer{Snapshots: snaps})
	close(snaps)
	if err != nil {
		t.Fatal(err)
	}
	joined := map[int]bool{}
	for s := range snaps {
		peers := map[string]bool{}
		for _, th := range s.Server.Threads {
			peers[th.Peer] = true
		}
		for _, c := range s.Clients {
			if c.Local != "" && peers[c.Local] {
				joined[c.ID] = true
			}
		}
	}
	it := res.Iterations[0]
	if len(joined) != len(it.Clients) {
		t.Errorf("clients joined to a live thread: %v, want all %d", joined, len(it.Clients))
	}
	x := it.External.State
	if x == nil || !x.State.Final || x.Err != "" || !it.ShutdownReturned {
		t.Fatalf("state %+v, shutdown returned %v", x, it.ShutdownReturned)
	}
	ret := it.Server.Shutdown.Returned
	if ret < it.Trigger || ret > it.ObservedUntil {
		t.Errorf("shutdown returned at %v, want between the trigger %v and the end of observation %v", ret, it.Trigger, it.ObservedUntil)
	}
	byID := map[int]bool{}
	for _, th := range it.Server.ClientThreads() {
		byID[th.ID] = th.Exited
	}
	for _, c := range it.Clients {
		if exited, ok := byID[c.Thread]; c.Thread == 0 || !ok || !exited {
			t.Errorf("client %d: thread %d (known %v, exited %v)", c.ID, c.Thread, ok, exited)
		}
	}
}
