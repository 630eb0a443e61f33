package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"shutdowntest/internal/goldenfile"
	"shutdowntest/internal/strayconn"
	"shutdowntest/internal/testbin"
	"shutdowntest/target"
)

// TestMain also serves as the holder of a stray connection when a test
// runs this binary again for one (strayconn).
func TestMain(m *testing.M) {
	strayconn.Serve()
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { testbin.Remove() }))
}

// small is a quick configuration: one client of each kind and role,
// millisecond holds.
func small(p target.Policy) Config {
	return Config{
		Policy:       p,
		Mix:          Mix{HTTPIdle: 1, HTTPInflight: 1, RESTIdle: 1, RESTInflight: 1, WS: 1, Silent: 1},
		InflightFor:  50 * time.Millisecond,
		DrainTimeout: 2 * time.Second,
		ReadyTimeout: 5 * time.Second,
		Iterations:   1,
		Target:       target.Config{StreamEvery: 10 * time.Millisecond},
	}
}

func outcomes(it Iteration) map[Role][]Outcome {
	m := map[Role][]Outcome{}
	for _, c := range it.Clients {
		m[c.Role] = append(m[c.Role], c.Outcome)
	}
	return m
}

func TestFixedEndsEveryClientCleanly(t *testing.T) {
	res, err := Run(context.Background(), small(target.PolicyFixed), Observer{})
	if err != nil {
		t.Fatal(err)
	}
	it := res.Iterations[0]
	checkRoleOutcomes(t, it)
	for _, c := range it.Clients {
		if c.Thread == 0 {
			t.Errorf("client %d: no server thread mapped", c.ID)
		}
	}
	tr := it.Server.Terminate
	if !tr.Closed || len(tr.AliveAtClose) != 0 || len(tr.WaitsAfterClose) != 0 {
		t.Errorf("terminate: %+v", tr)
	}
	if !it.ShutdownReturned || !it.Server.Shutdown.Completed() || !it.AllEnded {
		t.Errorf("shutdown returned %v, completed %v, all ended %v: %+v", it.ShutdownReturned,
			it.Server.Shutdown.Completed(), it.AllEnded, it.Server.Shutdown.Steps)
	}
	for _, p := range it.Admission {
		if p.Outcome == AdmissionServed || p.Outcome == AdmissionError {
			t.Errorf("admission probe %s: %s %s", p.When, p.Outcome, p.Detail)
		}
	}
	if it.FDs.Available && (it.FDs.After != 0 || it.FDs.AtHold != it.FDs.ExpectedAtHold) {
		t.Errorf("fd cross-check: %+v", it.FDs)
	}
	if l := it.Server.Left; l.OpenSockets != 0 || l.SocketData != 0 || len(l.Handles) != 0 {
		t.Errorf("left behind: %+v", l)
	}
}

func TestLegacyClosesTerminateUnderLiveThreads(t *testing.T) {
	res, err := Run(context.Background(), small(target.PolicyLegacy), Observer{})
	if err != nil {
		t.Fatal(err)
	}
	it := res.Iterations[0]
	tr := it.Server.Terminate
	if !tr.Closed {
		t.Fatalf("legacy did not close terminate: %+v", tr)
	}
	// The two in-flight requests are held 50ms after the trigger; legacy
	// closes the handle as soon as the listener is joined.
	if len(tr.AliveAtClose) < 2 {
		t.Errorf("alive at close %v, want at least the 2 in-flight threads", tr.AliveAtClose)
	}
	if len(tr.WaitsAfterClose) == 0 {
		t.Errorf("no wait after close recorded; in-flight threads linger after answering")
	}
	if o := outcomes(it)[RoleInflight]; len(o) != 2 || o[0] != OutcomeCompleted || o[1] != OutcomeCompleted {
		t.Errorf("in-flight outcomes %v: legacy still answers them", o)
	}
}

func TestNotReadyNamesTheClient(t *testing.T) {
	// A stream that sends its first message only after an hour can never
	// be ready: its client counts as ready on the first message.
	cfg := small(target.PolicyFixed)
	cfg.Mix = Mix{RESTIdle: 1, WS: 1}
	cfg.Target.StreamDelay = time.Hour
	cfg.ReadyTimeout = 100 * time.Millisecond
	res, err := Run(context.Background(), cfg, Observer{})
	var re *RunError
	var nr *NotReadyError
	if !errors.As(err, &re) || re.Phase != PhaseHolding || re.Iteration != 1 || !errors.As(err, &nr) {
		t.Fatalf("err = %#v, want a RunError in holding wrapping a NotReadyError", err)
	}
	if len(nr.Missing) != 1 || !strings.Contains(nr.Missing[0], "client 2 (ws stream)") {
		t.Errorf("missing %v, want only the stream client", nr.Missing)
	}
	// The run still shut its server down and reports what it saw.
	if len(res.Iterations) != 1 || res.Iterations[0].Ready || !res.Iterations[0].ShutdownReturned {
		t.Errorf("iterations %d, ready %v", len(res.Iterations), len(res.Iterations) == 1 && res.Iterations[0].Ready)
	}
}

func TestRoutesMatchGolden(t *testing.T) {
	srv, err := target.New(target.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	defer srv.Shutdown()
	probes, session, err := probeRoutes(srv.Addr(), creds{password: target.DefaultPassword, apiKey: target.DefaultAPIKey})
	if err != nil {
		t.Fatal(err)
	}
	if session != target.DefaultSession {
		t.Errorf("session %q", session)
	}
	if goldenfile.Updating() { // go test -run TestRoutesMatchGolden ./load -update
		cases, _ := loadGolden()
		for i := range cases {
			cases[i].Expected = probes[i].Observed
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		_ = enc.Encode(cases)
		if err := os.WriteFile("routes.golden.json", b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, p := range probes {
		if p.Err != "" || p.Observed != p.Expected {
			t.Errorf("%s: observed %+v (%s), golden %+v", p.Name, p.Observed, p.Err, p.Expected)
		}
	}
}

// A request still held at the deadline is a timeout, even though Close
// later releases its thread and closes its socket: outcomes are frozen at
// the deadline.
func TestStragglerAtDeadlineIsTimeout(t *testing.T) {
	cfg := small(target.PolicyFixed)
	cfg.Mix = Mix{RESTInflight: 1, Silent: 1}
	cfg.InflightFor = 1500 * time.Millisecond
	cfg.DrainTimeout = 100 * time.Millisecond
	res, err := Run(context.Background(), cfg, Observer{})
	if err != nil {
		t.Fatal(err)
	}
	it := res.Iterations[0]
	got := outcomes(it)
	if o := got[RoleInflight]; len(o) != 1 || o[0] != OutcomeTimeout {
		t.Errorf("in-flight outcome %v, want timeout", o)
	}
	if o := got[RoleSilent]; len(o) != 1 || o[0] != OutcomeClosed {
		t.Errorf("silent outcome %v, want closed", o)
	}
	if !it.Server.Terminate.KeptOpen || len(it.Server.Shutdown.Stragglers) != 1 {
		t.Errorf("terminate %+v, stragglers %v", it.Server.Terminate, it.Server.Shutdown.Stragglers)
	}
	forced := 0
	for _, th := range it.Server.ClientThreads() {
		if th.Forced {
			forced++
		}
	}
	if forced != 1 || it.AllEnded {
		t.Errorf("%d forced threads, all ended %v; want the straggler forced", forced, it.AllEnded)
	}
	// The straggler still holds its socket, SocketData, connection event
	// and thread handle, and terminate is kept open for it.
	if l := it.Server.Left; l.OpenSockets != 1 || l.SocketData != 1 || l.OpenHandles != 3 || len(l.Handles) != 3 {
		t.Errorf("left %+v: want the straggler's socket, SocketData and three handles", l)
	}
}

func TestSnapshotsReachTheObserver(t *testing.T) {
	ch := make(chan Snapshot, 64)
	if _, err := Run(context.Background(), small(target.PolicyFixed), Observer{Snapshots: ch}); err != nil {
		t.Fatal(err)
	}
	close(ch)
	phases := map[Phase]bool{}
	clients := 0
	for s := range ch {
		phases[s.Phase] = true
		if len(s.Clients) > clients {
			clients = len(s.Clients)
		}
	}
	if !phases[PhaseHolding] || clients != 6 {
		t.Errorf("phases seen %v, up to %d clients per snapshot", phases, clients)
	}
}
