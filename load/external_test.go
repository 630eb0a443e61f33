package load

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// goServer builds testdata/goserver once per test binary: a plain
// net/http server using Shutdown, which nobody on the team wrote the
// shutdown of.
var goServer = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "goserver")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "goserver")
	out, err := exec.Command("go", "build", "-o", bin, "../testdata/goserver").CombinedOutput()
	if err != nil {
		return "", &buildError{err, string(out)}
	}
	return bin, nil
})

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "go build testdata/goserver: " + e.err.Error() + ": " + e.out }

func goServerBin(t *testing.T) string {
	t.Helper()
	bin, err := goServer()
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

func TestExternalGoServer(t *testing.T) {
	cfg := externalConfig(t, Mix{HTTPIdle: 1, HTTPInflight: 1, RESTIdle: 1, RESTInflight: 1, WS: 1}, "-ws-going-away")
	res, err := Run(context.Background(), cfg, Observer{})
	if err != nil {
		t.Fatal(err)
	}
	it := res.Iterations[0]
	for _, c := range it.Clients {
		t.Logf("client %d %s %s: %s %s at %v", c.ID, c.Kind, c.Role, c.Outcome, c.Detail, c.EndedAt-it.Trigger)
	}
	t.Logf("%+v", *it.External)
	t.Logf("%+v", it.Admission)
}
