package main

// `shutdowntest serve` runs the embedded eMule model as a server process
// of its own, so that a run against an external target (issue 11) has a
// first target to point at, and so that the server's sockets live in
// another process than the clients'.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"shutdowntest/target"
)

const serveUsageHead = `shutdowntest serve: run the embedded eMule Web UI model as a server process of its own

It serves the model's Web UI pages, its REST API under /api/v1 (every REST
request and the WebSocket stream /api/v1/events need the header X-API-Key)
and, for in-flight clients, GET /slow?ms=N (a Web UI page) and
GET /api/v1/slow?ms=N (REST), whose handlers wait N ms (0 to 60000) for the
UI thread. It prints "listening on ADDR" on stderr once it listens. SIGTERM
or SIGINT runs the policy's shutdown; the process then exits with one line
on stderr saying how each step ended. A second signal exits at once.

Usage:
  shutdowntest serve [flags]

Examples:
  shutdowntest serve --addr 127.0.0.1:8080
  curl -H 'X-API-Key: shutdowntest-key' 'http://127.0.0.1:8080/api/v1/slow?ms=2000'
  shutdowntest serve --policy legacy --log-requests
  shutdowntest serve --addr 127.0.0.1:8080 --state-addr 127.0.0.1:8081   # curl -N http://127.0.0.1:8081/state

Exit status: 0 the policy's shutdown completed (every step ok), 1 it did not
(a join ran out of budget and terminate was kept open, or a thread was
killed), 2 bad usage, 3 the server could not start, 130 a second signal.
legacy's steps complete (it never waits for client threads), so legacy exits
0 even while it cuts requests in flight: the exit status says what the
policy did, not whether the clients were served.

Flags:
`

// serveOptions is serve's command line.
type serveOptions struct {
	cfg         target.Config
	logRequests bool
	// stateAddr is where the state endpoint listens ("": none).
	stateAddr string
}

// parseServeFlags parses serve's command line. Every error is one line
// that names the flag.
func parseServeFlags(args []string, helpOut io.Writer) (serveOptions, error) {
	var o serveOptions
	cfg := &o.cfg
	fs := pflag.NewFlagSet("shutdowntest serve", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	policy := fs.String("policy", string(target.PolicyFixed), "shutdown policy: "+policyNames())
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:0", "address to listen on (port 0: a free port); loopback only without --allow-remote")
	allowRemote := fs.Bool("allow-remote", false, "allow an --addr that is not loopback")
	fs.StringVar(&cfg.APIKey, "api-key", target.DefaultAPIKey, "the REST key clients send in X-API-Key")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", 10*time.Second, "fixed's shared budget for joining client threads")
	fs.DurationVar(&cfg.InflightFor, "inflight-for", 300*time.Millisecond, "how long after the trigger requests with the header "+target.HoldHeader+" are answered")
	fs.StringVar(&o.stateAddr, "state-addr", "", "serve the state endpoint (GET /state, an NDJSON stream of the model's threads, terminate event and shutdown steps) on this address")
	fs.BoolVar(&o.logRequests, "log-requests", false, "log one line on stderr per request as the UI thread takes it")
	help := fs.BoolP("help", "h", false, "show this help")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if *help {
		fmt.Fprint(helpOut, serveUsageHead+fs.FlagUsages())
		return o, errHelp
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (flags only; see serve --help)", fs.Arg(0))
	}
	p, err := target.ParsePolicy(*policy)
	if err != nil {
		return o, fmt.Errorf("--policy: %v", err)
	}
	cfg.Policy = p
	if err := checkListenAddr(cfg.Addr, *allowRemote); err != nil {
		return o, fmt.Errorf("--addr: %v", err)
	}
	if o.stateAddr != "" {
		if err := checkListenAddr(o.stateAddr, *allowRemote); err != nil {
			return o, fmt.Errorf("--state-addr: %v", err)
		}
	}
	if cfg.APIKey == "" {
		return o, errors.New("--api-key: must not be empty")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"drain-timeout", cfg.DrainTimeout}, {"inflight-for", cfg.InflightFor}} {
		if d.v <= 0 {
			return o, fmt.Errorf("--%s: must be more than 0, got %v", d.name, d.v)
		}
	}
	return o, nil
}

// checkListenAddr refuses an address that is not host:port with a numeric
// port, and, unless remote is allowed, a host that is not loopback. It
// reads the literal host and looks nothing up: "localhost" is taken at its
// word and any other name is refused, so the refusal needs no network.
func checkListenAddr(addr string, allowRemote bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port, got %q", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port must be a number from 0 to 65535, got %q", port)
	}
	switch {
	case allowRemote || isLoopbackHost(host):
		return nil
	case host == "":
		return errors.New("no host listens on every interface; give a loopback host, or --allow-remote")
	}
	return fmt.Errorf("%q is not a loopback address (127.0.0.0/8, ::1, localhost); --allow-remote to listen on it", host)
}

// isLoopbackHost reports whether host, as written, is loopback: localhost,
// or an address in 127.0.0.0/8 or ::1. It looks nothing up.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// serve is `shutdowntest serve`: it runs the model until ctx is cancelled
// (main cancels it on the first SIGTERM or SIGINT and exits 130 on a
// second), runs the policy's shutdown and returns the exit status.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseServeFlags(args, stdout)
	if errors.Is(err, errHelp) {
		return exitPass
	}
	if err != nil {
		fmt.Fprintf(stderr, "shutdowntest serve: %v\n", err)
		return exitUsage
	}
	if o.logRequests {
		o.cfg.Log = stderr
	}
	srv, err := target.New(o.cfg)
	if err != nil {
		fmt.Fprintf(stderr, "shutdowntest serve: %v\n", err)
		return exitNotRun
	}
	// The state endpoint listens before the model, so that a reader that
	// waits for the model's port finds it up.
	var se *stateEndpoint
	if o.stateAddr != "" {
		if se, err = startStateEndpoint(srv, o.stateAddr); err != nil {
			srv.Close()
			fmt.Fprintf(stderr, "shutdowntest serve: %v\n", err)
			return exitNotRun
		}
		fmt.Fprintf(stderr, "state endpoint on http://%s/state\n", se.Addr())
	}
	if err := srv.Start(); err != nil {
		r := srv.Close()
		if se != nil {
			_ = se.finish(target.ShutdownRecord{}, false, r)
		}
		fmt.Fprintf(stderr, "shutdowntest serve: %v\n", err)
		return exitNotRun
	}
	fmt.Fprintf(stderr, "listening on %s\n", srv.Addr())
	<-ctx.Done()
	rec, returned := srv.Shutdown()
	if se != nil && returned {
		se.returned(rec)
	}
	// What a policy leaves running ends with the process, as in eMule;
	// Close does it here, bounded, so the summary can count it.
	r := srv.Close()
	code := exitFail
	if rec.Completed() {
		code = exitPass
	}
	if se != nil {
		if err := se.finish(rec, returned, r); err != nil {
			fmt.Fprintf(stderr, "shutdowntest serve: %v\n", err)
		}
	}
	fmt.Fprintln(stderr, shutdownSummary(rec, r, code))
	return code
}

// shutdownSummary is serve's last line: the policy's steps and how each
// ended, the client threads still alive when it returned, and the exit
// status that follows.
func shutdownSummary(rec target.ShutdownRecord, r target.Record, code int) string {
	var b strings.Builder
	verb := "completed"
	if !rec.Completed() {
		verb = "did not complete"
	}
	fmt.Fprintf(&b, "shutdowntest serve: policy %s: shutdown %s in %v (", rec.Policy, verb, (rec.Returned - rec.Trigger).Round(time.Microsecond))
	for i, st := range rec.Steps {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", st.Name, st.Outcome)
		if st.Detail != "" {
			b.WriteString(": " + st.Detail)
		}
	}
	b.WriteString("); stragglers (client threads alive when it returned): ")
	var alive []string
	for _, id := range r.AliveAfter(rec.Returned) {
		alive = append(alive, strconv.Itoa(id))
	}
	if n := len(alive); n > 10 {
		alive = append(alive[:10], fmt.Sprintf("and %d more", n-10))
	}
	if len(alive) == 0 {
		alive = []string{"none"}
	}
	b.WriteString(strings.Join(alive, ", "))
	fmt.Fprintf(&b, "; exit %d", code)
	return b.String()
}
