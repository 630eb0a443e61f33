package load_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"shutdowntest/internal/strayconn"
	"shutdowntest/load"
	"shutdowntest/reports"
	"shutdowntest/target"
)

// runWithStray runs cfg with one connection the tool did not open, held
// silent by another process from the moment the server listens.
func runWithStray(t *testing.T, cfg load.Config) (*load.Result, string, error) {
	t.Helper()
	var stray *strayconn.Conn
	var openErr error
	listening := func(n int, addr string) {
		if n == 1 {
			stray, openErr = strayconn.Open(addr, 10*time.Second)
		}
	}
	res, err := load.Run(context.Background(), cfg, load.Observer{Listening: listening})
	if openErr != nil {
		t.Fatalf("open the stray connection: %v", openErr)
	}
	if stray == nil {
		t.Fatal("Listening was not called for iteration 1")
	}
	t.Cleanup(func() {
		if err := stray.Close(); err != nil {
			t.Errorf("the stray connection's holder: %v", err)
		}
	})
	return res, stray.Local, err
}

// jsonThread is what a test reads of a thread in the JSON report.
type jsonThread struct {
	ID     int    `json:"id"`
	Client *int   `json:"client"`
	Probe  string `json:"probe"`
	Peer   string `json:"peer"`
}

// jsonThreads writes rep as JSON and reads back iteration 1's threads.
func jsonThreads(t *testing.T, rep reports.Report) []jsonThread {
	t.Helper()
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Iterations []struct {
			Threads []jsonThread `json:"threads"`
		} `json:"iterations"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil || len(doc.Iterations) != 1 {
		t.Fatalf("json report: %v, %d iterations", err, len(doc.Iterations))
	}
	return doc.Iterations[0].Threads
}

// A connection the tool did not open holds nothing up: the clients are
// ready at once, the run is carried out, and the verdict stands on the
// checks, which judge the stray's thread as any other. legacy still
// fails on the terminate handle; fixed closes the stray connection at
// terminate and passes, its fd cross-check included.
func TestForeignConnectionIsJudgedNotWaitedFor(t *testing.T) {
	for _, tc := range []struct {
		policy  target.Policy
		verdict reports.Verdict
		failed  string // a check that must fail; every other must not, for fixed
	}{
		{target.PolicyLegacy, reports.VerdictFail, reports.CheckTerminateOutlivedWaiters},
		{target.PolicyFixed, reports.VerdictPass, ""},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			cfg := load.SmallConfig(tc.policy)
			res, peer, err := runWithStray(t, cfg)
			if err != nil {
				t.Fatalf("a stray connection stopped the run: %v", err)
			}
			it := res.Iterations[0]
			if !it.Ready || !slices.Equal(it.Foreign, []string{peer}) || len(it.Removed) != 0 {
				t.Errorf("ready %v, foreign %v, removed %v; want ready with the one stray %s", it.Ready, it.Foreign, it.Removed, peer)
			}
			var strayThread int
			for _, th := range it.Server.ClientThreads() {
				if th.Peer == peer {
					strayThread = th.ID
					if tc.policy == target.PolicyFixed && (!th.Exited || th.Forced || th.ExitedAt < it.Trigger) {
						t.Errorf("the stray's thread %d: exited %v at %v, forced %v; want it ended by the shutdown at %v",
							th.ID, th.Exited, th.ExitedAt, th.Forced, it.Trigger)
					}
				}
			}
			if strayThread == 0 {
				t.Fatalf("no server thread served the stray %s", peer)
			}

			rep := reports.Build(res, nil, reports.ToolInfo{})
			var failed []string
			for _, c := range rep.Checks {
				if c.Status == reports.StatusFail {
					failed = append(failed, c.ID)
				}
			}
			if rep.Verdict != tc.verdict || (tc.failed == "") != (len(failed) == 0) || (tc.failed != "" && !slices.Contains(failed, tc.failed)) {
				t.Errorf("verdict %s, failed %v; want %s, failed %q", rep.Verdict, failed, tc.verdict, tc.failed)
			}
			for _, th := range jsonThreads(t, rep) {
				if th.Peer == "" {
					t.Errorf("thread %d has no peer in the JSON", th.ID)
				}
				if (th.ID == strayThread) != (th.Probe == "foreign") {
					t.Errorf("thread %d (peer %s) labelled %q; the stray's thread is %d", th.ID, th.Peer, th.Probe, strayThread)
				}
				if th.ID == strayThread && (th.Peer != peer || th.Client != nil) {
					t.Errorf("the stray's thread in the JSON: %+v, want peer %s and no client", th, peer)
				}
			}
		})
	}
}
