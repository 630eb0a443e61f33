package target

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSlowRoutes: GET /slow?ms=N and GET /api/v1/slow?ms=N keep their
// thread in process, held by the UI thread, and answer 200 no sooner
// than N ms after the request.
func TestSlowRoutes(t *testing.T) {
	const ms = 150
	for _, tc := range []struct {
		name, req, ctype, want string
	}{
		{"web", webGet("/slow?ms=150", false), "text/html", "Answered after 150 ms."},
		{"rest", restGet("/api/v1/slow?ms=150", false), "application/json; charset=utf-8", `"data":{"ms":150}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, Config{})
			c := dialClient(t, s.Addr())
			sent := time.Now()
			c.send(tc.req)
			waitParked(t, s, 1)
			resp, body, raw := c.response()
			if took := time.Since(sent); took < ms*time.Millisecond {
				t.Errorf("answered after %v, want at least %dms", took, ms)
			}
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != tc.ctype || !strings.Contains(string(body), tc.want) {
				t.Errorf("status %d, type %q, body %q; want 200, %q, containing %q",
					resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.ctype, tc.want)
			}
			checkClose(t, raw)
		})
	}
}

// TestSlowRequestsDoNotBlockEachOther: slow requests are parked on the UI
// thread, which keeps answering others meanwhile. Run one after another,
// the fast request here would wait a minute behind the two slow ones and
// its client would time out.
func TestSlowRequestsDoNotBlockEachOther(t *testing.T) {
	// A short join budget: the slow requests are still held when the
	// test's cleanup shuts the server down, and Close answers them 503.
	s := startServer(t, Config{DrainTimeout: 50 * time.Millisecond})
	for _, path := range []string{"/slow?ms=60000", "/api/v1/slow?ms=60000"} {
		dialClient(t, s.Addr()).send(restGet(path, false))
	}
	waitParked(t, s, 2)
	fast := dialClient(t, s.Addr())
	fast.send(restGet("/api/v1/status", false))
	if resp, body, _ := fast.response(); resp.StatusCode != http.StatusOK {
		t.Fatalf("fast request behind two slow ones: %d %s", resp.StatusCode, body)
	}
	waitParked(t, s, 2)
}

// TestSlowRouteBadInput: ms is one whole number of milliseconds from 0 to
// 60000 and the only parameter; anything else is a 400 in fixed words.
// The key and the method are checked first, as on every other route.
func TestSlowRouteBadInput(t *testing.T) {
	s := startServer(t, Config{})
	for _, prefix := range []string{"/slow", "/api/v1/slow"} {
		for _, q := range []string{"", "?ms=", "?ms=-1", "?ms=+5", "?ms=60001", "?ms=1.5", "?ms=1e3", "?ms=99999999999",
			"?ms=1&ms=2", "?ms=1&x=2", "?x=2", "?ms=%zz", "?ms=1;x=2"} {
			c := dialClient(t, s.Addr())
			c.send(restGet(prefix+q, false))
			resp, body, _ := c.response()
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "ms must be") {
				t.Errorf("GET %s%s: %d %q, want 400 naming ms", prefix, q, resp.StatusCode, body)
			}
		}
	}
	for _, tc := range []struct {
		req    string
		status int
	}{
		{request("GET", "/api/v1/slow?ms=1", "", false, ""), http.StatusUnauthorized},
		{request("GET", "/api/v1/slow?ms=1", "wrong", false, ""), http.StatusUnauthorized},
		{request("POST", "/api/v1/slow?ms=1", DefaultAPIKey, false, "{}"), http.StatusMethodNotAllowed},
		{request("POST", "/slow?ms=1", "", false, ""), http.StatusMethodNotAllowed},
		{restGet("/api/v1/slow?ms=0", false), http.StatusOK},
		{webGet("/slow?ms=0", false), http.StatusOK},
	} {
		c := dialClient(t, s.Addr())
		c.send(tc.req)
		if resp, body, _ := c.response(); resp.StatusCode != tc.status {
			t.Errorf("%.40q: %d %q, want %d", tc.req, resp.StatusCode, body, tc.status)
		}
	}
}

// TestFixedWaitsForSlowRequest: the fix's join waits for a thread whose
// slow request the UI thread still holds, and the request is answered in
// full before shutdown completes.
func TestFixedWaitsForSlowRequest(t *testing.T) {
	s := startServer(t, Config{})
	c := dialClient(t, s.Addr())
	c.send(webGet("/slow?ms=200", false))
	waitParked(t, s, 1)
	rec, _ := s.Shutdown()
	resp, body, _ := c.response()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("slow request during shutdown: %d %q", resp.StatusCode, body)
	}
	if !rec.Completed() || len(rec.Stragglers) != 0 {
		t.Errorf("shutdown did not complete: %+v", rec)
	}
	if st, _ := stepNamed(rec, "join-clients"); st.End-st.Start < 100*time.Millisecond {
		t.Errorf("join-clients took %v: it did not wait for the slow request", st.End-st.Start)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestLogNamesRequestsAsTheUIThreadTakesThem: Config.Log gets a line as a
// request reaches the UI thread, before it is answered, so an observer in
// another process knows the request is in process.
func TestLogNamesRequestsAsTheUIThreadTakesThem(t *testing.T) {
	var log syncBuffer
	s := startServer(t, Config{Log: &log})
	slow := dialClient(t, s.Addr())
	slow.send(restGet("/api/v1/slow?ms=300", false))
	waitFor(t, "the slow request's log line", func() error {
		if !strings.Contains(log.String(), "GET /api/v1/slow?ms=300: held 300ms") {
			return fmt.Errorf("log %q", log.String())
		}
		return nil
	})
	var snap Snapshot
	s.Snapshot(&snap)
	if th, ok := threadOf(&snap, slow.local()); !ok || !th.Held {
		t.Errorf("logged before the UI thread held it: %+v", th)
	}
	fast := dialClient(t, s.Addr())
	fast.send(restGet("/api/v1/app", false))
	fast.response()
	if !strings.Contains(log.String(), "GET /api/v1/app: answered\n") {
		t.Errorf("log lacks the fast request: %q", log.String())
	}
	var body struct{ Data struct{ MS int } }
	if resp, raw, _ := slow.response(); resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &body) != nil || body.Data.MS != 300 {
		t.Errorf("slow request: %d %q", resp.StatusCode, raw)
	}
}

// TestUntilDueWakesForTheUIThreadsTimers: a pumping join waits no longer
// than until the UI thread's next timer, so the held requests are
// answered at trigger + InflightFor and not at the next pump slice.
func TestUntilDueWakesForTheUIThreadsTimers(t *testing.T) {
	now := time.Now()
	release := make(chan time.Time)
	for _, tc := range []struct {
		name      string
		releaseAt time.Time // zero: no release pending
		slowDue   time.Time // zero: no slow request
		max       time.Duration
	}{
		{name: "nothing due", max: uiPumpSlice},
		{name: "release due", releaseAt: now.Add(5 * time.Millisecond), max: 5 * time.Millisecond},
		{name: "slow due first", releaseAt: now.Add(time.Second), slowDue: now.Add(3 * time.Millisecond), max: 3 * time.Millisecond},
		{name: "release overdue", releaseAt: now.Add(-time.Millisecond), max: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := &uiThread{}
			if !tc.releaseAt.IsZero() {
				u.release, u.releaseAt = release, tc.releaseAt
			}
			if !tc.slowDue.IsZero() {
				u.slow = []*uiMsg{{due: tc.slowDue}}
			}
			got := u.untilDue(uiPumpSlice)
			if got > tc.max || got < 0 {
				t.Errorf("untilDue = %v, want 0..%v", got, tc.max)
			}
			if tc.releaseAt.IsZero() && tc.slowDue.IsZero() && got != uiPumpSlice {
				t.Errorf("untilDue = %v with nothing due, want the whole %v", got, uiPumpSlice)
			}
		})
	}
}
