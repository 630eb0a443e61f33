package load

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// dateServer answers with a Date header skew ahead of this clock (none
// when noDate).
func dateServer(t *testing.T, skew time.Duration, noDate bool) (*External, string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if noDate {
			w.Header()["Date"] = nil // net/http then sends none
		} else {
			w.Header().Set("Date", time.Now().Add(skew).UTC().Format(http.TimeFormat))
		}
	}))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	return &External{URL: srv.URL, ReadyPath: "/", Page: "/", Header: http.Header{}}, addr
}

func TestEstimateClockBoundsTheSkew(t *testing.T) {
	skew := 5*time.Second + 300*time.Millisecond
	x, addr := dateServer(t, skew, false)
	est := estimateClock(x, addr, time.Now().Add(3*time.Second))
	if !est.Known || est.Samples != clockSamples {
		t.Fatalf("%+v, want known from %d samples", est, clockSamples)
	}
	// The window holds the skew and, with samples across more than a
	// second, is much narrower than the header's one second.
	if est.Low > skew || est.High < skew || est.High-est.Low > 500*time.Millisecond {
		t.Errorf("offset within [%v, %v], want a window under 500ms holding %v", est.Low, est.High, skew)
	}
}

func TestEstimateClockSaysWhyNot(t *testing.T) {
	x, addr := dateServer(t, 0, true)
	if est := estimateClock(x, addr, time.Now().Add(3*time.Second)); est.Known || est.Why != "the server sent no Date header" {
		t.Errorf("%+v, want unknown: no Date header", est)
	}
	// No time left before the instant: no sample is taken, so the
	// trigger is never delayed.
	x, addr = dateServer(t, 0, false)
	if est := estimateClock(x, addr, time.Now().Add(clockMargin/2)); est.Known || est.Samples != 0 || est.Why == "" {
		t.Errorf("%+v, want no sample", est)
	}
}
