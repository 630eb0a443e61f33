package load

import (
	"context"
	"net/http"
	"testing"
	"time"

	"shutdowntest/internal/testbin"
)

// goServerBin is testdata/goserver's binary, built once per test binary:
// a plain net/http server using Shutdown, which nobody on the team wrote
// the shutdown of.
func goServerBin(t *testing.T) string {
	t.Helper()
	bin, err := testbin.Build("testdata/goserver")
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// externalConfig is a quick run against the Go test server, launched with
// args after its binary.
func externalConfig(t *testing.T, mix Mix, args ...string) Config {
	trig, err := ParseTrigger("signal:TERM")
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Mix: mix, DrainTimeout: 8 * time.Second, ReadyTimeout: 5 * time.Second, Iterations: 1,
		External: &External{
			URL:     "http://127.0.0.1:{port}",
			Command: append([]string{goServerBin(t), "-listen", "127.0.0.1:{port}"}, args...),
			Trigger: trig, Page: "/", REST: "/api", Slow: "/slow?ms=800", WSPath: "/ws",
			Header: http.Header{}, ReadyPath: "/", AdmissionGrace: time.Second,
		},
	}
}

// TestExternalGoServer: against a Go server using http.Server.Shutdown
// with a close-1001 hook, every client ends as its role passes: in-flight
// requests complete (Shutdown waits for them), idle keep-alive
// connections are closed after the trigger, streams get 1001. The
// process exits 0 and its port is released.
func TestExternalGoServer(t *testing.T) {
	cfg := externalConfig(t, Mix{HTTPIdle: 1, HTTPInflight: 1, RESTIdle: 1, RESTInflight: 1, WS: 1}, "-ws-going-away")
	res, err := Run(context.Background(), cfg, Observer{})
	if err != nil {
		t.Fatal(err)
	}
	it := res.Iterations[0]
	for _, c := range it.Clients {
		if !c.Role.Passes(c.Outcome) || c.Outcome == OutcomeClosedAfterResponse {
			t.Errorf("client %d (%s %s): %s (%s)", c.ID, c.Kind, c.Role, c.Outcome, c.Detail)
		}
		if c.Role == RoleInflight && c.EndedAt <= it.Trigger {
			t.Errorf("client %d completed at %v, before the trigger at %v", c.ID, c.EndedAt, it.Trigger)
		}
	}
	x := it.External
	if !x.Exit.Exited || x.Exit.Killed || !x.Exit.StatusKnown || x.Exit.Status != 0 || !x.Port.Refused || !x.Port.Bindable {
		t.Errorf("process: %+v, port %+v", x.Exit, x.Port)
	}
	if !x.Series.HasFirstRefused || x.Series.Attempts == 0 {
		t.Errorf("admission series %+v", x.Series)
	}
}

// TestSummariseSeries: the series keeps its first attempt, its last
// served and its first refused one.
func TestSummariseSeries(t *testing.T) {
	ms := time.Millisecond
	series := []AdmissionProbe{{At: 0, Outcome: AdmissionServed}, {At: 20 * ms, Outcome: AdmissionServed},
		{At: 40 * ms, Outcome: AdmissionClosed}, {At: 60 * ms, Outcome: AdmissionRefused}}
	var s AdmissionSeries
	kept := summarise(series, &s)
	if s.Attempts != 4 || s.Admitted != 2 || s.LastAdmitted != 20*ms || s.FirstRefused != 60*ms || !s.HasLastAdmitted || !s.HasFirstRefused {
		t.Errorf("summary %+v", s)
	}
	var whens []When
	for _, p := range kept {
		whens = append(whens, p.When)
	}
	if want := []When{"", WhenLastAdmitted, WhenFirstRefused}; len(whens) != 3 || whens[1] != want[1] || whens[2] != want[2] {
		t.Errorf("kept %v, want first, last-admitted, first-refused", whens)
	}
}
