// Package load is the load generator and the run engine: it starts the
// target, opens idle and in-flight HTTP (Web UI), REST, WebSocket and raw
// TCP clients, waits until each is in its intended state on the server,
// triggers shutdown, and records how every client and every server thread
// ended. Clients speak to the target only over the network; the engine
// reads the embedded target's records only to say what a client cannot see
// (which server thread served it, and when that thread let go).
package load

import (
	"math"
	"strconv"
	"strings"
	"time"

	"shutdowntest/target"
)

// Kind is the protocol a client speaks.
type Kind string

// Client kinds.
const (
	KindHTTP Kind = "http" // a legacy Web UI page
	KindREST Kind = "rest" // /api/v1
	KindWS   Kind = "ws"   // RFC 6455 on /api/v1/events
	KindTCP  Kind = "tcp"  // a raw connection
)

// Role is what a client does while the server shuts down.
type Role string

// Client roles.
const (
	// RoleIdle sends one request, reads the whole response and keeps the
	// connection open: its server thread sits in linger.
	RoleIdle Role = "idle"
	// RoleInflight's request is in process at the trigger.
	RoleInflight Role = "inflight"
	// RoleStream is upgraded and receives the live stream.
	RoleStream Role = "stream"
	// RoleSilent connects and sends nothing: its thread sits in wait.
	RoleSilent Role = "silent"
)

// Outcome is how a client ended, observed after the trigger.
type Outcome string

// Outcomes. A WebSocket close is "ws-close-<code>" (see WSClose).
const (
	OutcomePending   Outcome = "pending"
	OutcomeCompleted Outcome = "completed" // whole response, status and body checked
	OutcomeClosed    Outcome = "closed"    // the server ended the connection cleanly
	OutcomeReset     Outcome = "reset"
	OutcomeRefused   Outcome = "refused"
	OutcomeTimeout   Outcome = "timeout" // not ended by the deadline
	OutcomeError     Outcome = "error"
	// OutcomeClosedAfterResponse: an idle client of an external target
	// whose connection the server closed after its response, before the
	// trigger (it keeps no connection alive), so it was never idle at the
	// trigger.
	OutcomeClosedAfterResponse Outcome = "closed-after-response"
)

// wsClosePrefix starts every WebSocket close outcome.
const wsClosePrefix = "ws-close-"

// WSClose is the outcome of a WebSocket client that got close code code
// (1006 when no close frame came).
func WSClose(code int) Outcome { return Outcome(wsClosePrefix + strconv.Itoa(code)) }

// WSCloseCode is the close code of a WebSocket close outcome (WSClose), as
// written in it; ok is false for any other outcome.
func (o Outcome) WSCloseCode() (code string, ok bool) {
	return strings.CutPrefix(string(o), wsClosePrefix)
}

// Mix is how many clients of each kind and role to open.
type Mix struct {
	HTTPIdle     int
	HTTPInflight int
	RESTIdle     int
	RESTInflight int
	WS           int
	Silent       int
	// Hostile counts the hostile clients by role, in the order of the
	// hostile table (HostileRoles; HostileCount and SetHostile by role).
	Hostile [len(hostileRoles)]int
}

// Total is the number of clients. It saturates at math.MaxInt rather than
// wrap: counts from the command line can add up past it.
func (m Mix) Total() int {
	t := 0
	for _, f := range m.fields() {
		if *f.n > 0 && t > math.MaxInt-*f.n {
			return math.MaxInt
		}
		t += *f.n
	}
	return t
}

// Specs lists the clients in id order: http idle, http inflight, rest
// idle, rest inflight, ws, tcp, then the hostile roles in the order of
// their table.
func (m Mix) Specs() []Spec {
	var out []Spec
	for _, f := range m.fields() {
		for i := 0; i < *f.n; i++ {
			out = append(out, Spec{ID: len(out) + 1, Kind: f.kind, Role: f.role})
		}
	}
	return out
}

// Adjust adds (Delta > 0) or removes (Delta < 0) clients of one kind and
// role while they hold. In-flight clients cannot be removed: their request
// is already in process, and the server thread serving it would outlive
// the client, so a removal of one is ignored, as is a removal past zero
// and a pair the mix has no place for (a TCP client is always silent).
type Adjust struct {
	Kind  Kind
	Role  Role
	Delta int
}

// add returns m with n more (or fewer) clients of kind k and role r.
func (m Mix) add(k Kind, r Role, n int) Mix {
	for _, f := range m.fields() {
		if f.kind == k && f.role == r {
			*f.n = max(0, *f.n+n)
		}
	}
	return m
}

// has reports whether kind k with role r is a client the mix can hold.
func (m Mix) has(k Kind, r Role) bool {
	for _, f := range m.fields() {
		if f.kind == k && f.role == r {
			return true
		}
	}
	return false
}

type mixField struct {
	kind Kind
	role Role
	n    *int
}

// fields lists m's counts in client id order.
func (m *Mix) fields() []mixField {
	fs := []mixField{
		{KindHTTP, RoleIdle, &m.HTTPIdle}, {KindHTTP, RoleInflight, &m.HTTPInflight},
		{KindREST, RoleIdle, &m.RESTIdle}, {KindREST, RoleInflight, &m.RESTInflight},
		{KindWS, RoleStream, &m.WS}, {KindTCP, RoleSilent, &m.Silent},
	}
	for i := range hostileRoles {
		fs = append(fs, mixField{hostileRoles[i].Kind, hostileRoles[i].Role, &m.Hostile[i]})
	}
	return fs
}

// Spec names one client.
type Spec struct {
	ID   int
	Kind Kind
	Role Role
}

// Config is one run.
type Config struct {
	Policy       target.Policy
	Mix          Mix
	InflightFor  time.Duration
	DrainTimeout time.Duration
	ReadyTimeout time.Duration
	Iterations   int
	// MaxDrain, when set, is the budget for trigger → last client thread
	// exited (the drain-within check); 0 skips that check.
	MaxDrain time.Duration
	// Hold, when set, holds the clients once they are ready until
	// Runner.Trigger (a live view's "shut down now"); one Trigger triggers
	// one iteration. ShutdownAfter, when set, triggers after the clients
	// have held that long. With neither, the trigger comes as soon as
	// every client is ready. While they hold, Runner.Adjust changes the
	// mix; a change applies from then on, to later iterations too, and
	// Iteration.Mix and Result.Config.Mix say what ran.
	Hold          bool
	ShutdownAfter time.Duration
	// Seed makes the random parts of a run reproducible (the garbage
	// role's bytes: iteration n uses Seed+n; the trigger jitter: its own
	// stream of Seed). 0 picks one from the clock, and Result.Config.Seed
	// says which.
	Seed int64
	// Faults are the faults to inject (Faults lists them): the server's
	// knobs go to target.Config.Faults, the engine drives the others.
	Faults []target.Fault
	// Target tunes the embedded server beyond the fields above (tests use
	// it for short stream periods); Policy, DrainTimeout and InflightFor
	// override it.
	Target target.Config
	// External, when set, puts a server the tool does not embed through
	// the same run (see External); Policy, InflightFor and Target are then
	// unused.
	External *External
	// For, when set, makes the run a soak: iterations start until this
	// long after the run began (one under way then still finishes), and
	// Iterations, when more than 0, caps their number; with For, 0 means
	// no cap.
	For time.Duration
	// Jitter, when set, moves each iteration's automatic trigger (as soon
	// as ready, or ShutdownAfter) later by a random offset from 0 to
	// Jitter drawn from Seed, so that the trigger lands at different
	// points of the clients' and threads' interleaving. A trigger by hand
	// (Hold without ShutdownAfter) is not moved.
	Jitter time.Duration
	// Rate, when set, sends steady traffic through the shutdown (Rate).
	Rate *Rate
}

// Result is a whole run.
type Result struct {
	Config      Config
	Iterations  []Iteration
	Interrupted bool
	Started     time.Time
	Wall        time.Duration
}

// Iteration is one cycle on a fresh server. Times are on the server's
// clock; Trigger is the instant shutdown was called.
type Iteration struct {
	N       int
	Addr    string
	Server  target.Record
	Trigger time.Duration
	// ObservedUntil is when observation stopped; AllEnded whether every
	// client and client thread had ended by then.
	ObservedUntil time.Duration
	AllEnded      bool
	// MaxDrain is Config.MaxDrain, carried so the iteration can be judged
	// on its own.
	MaxDrain time.Duration
	// Mix is the mix the iteration ran with: Config.Mix, changed by any
	// Adjust taken while it held.
	Mix Mix
	// Ready: every client was in its intended state at the trigger.
	Ready bool
	// ShutdownReturned: the first Shutdown call returned before Close.
	ShutdownReturned bool
	// SecondShutdown is how long a second Shutdown call took (it must
	// return at once).
	SecondShutdown time.Duration
	Clients        []ClientResult
	Routes         []RouteProbe
	Admission      []AdmissionProbe
	FDs            FDCheck
	Interrupted    bool
	// Removed are the local addresses of the clients removed while
	// holding (Adjust); their server threads left before the trigger.
	Removed []string
	// FaultEvents are what the engine's driven faults did (the storm, a
	// restart's second generation); the server's own are in
	// Server.Faults. FaultProbe is the local address of the connection
	// the spawn faults hit ("" when none was made).
	FaultEvents []target.FaultEvent
	FaultProbe  string
	// Foreign are the peer addresses of connections the tool did not open
	// (a health check, a port scanner, a person with nc): client threads
	// that served no client, removed client, route or admission probe.
	// They do not hold up readiness; their threads are judged as any.
	Foreign []string
	// External is what was observed of an external target; nil for the
	// embedded one (whose record is Server).
	External *ExternalRecord
	// Jitter is the offset Config.Jitter added to this iteration's
	// trigger (0 without it, or for a trigger by hand).
	Jitter time.Duration
	// Resources is what the process and the server held once the
	// iteration had ended: what a soak watches for growth.
	Resources ResourceSample
	// SlowTLS is the local address of the slow-tls fault's client ("":
	// not injected).
	SlowTLS string
	// Rate is what the steady traffic did (nil without Config.Rate).
	Rate *RateRecord
}

// ClientState is one step of a client's own life.
type ClientState struct {
	State string
	At    time.Duration
}

// ClientResult is one configured client.
type ClientResult struct {
	Spec
	// Local is the client's socket address; Thread the server thread
	// that served it (0: none seen).
	Local   string
	Thread  int
	States  []ClientState
	Outcome Outcome
	Detail  string
	// EndedAt is when the outcome was observed (0 if it never was).
	EndedAt  time.Duration
	Messages int // WebSocket messages received
	// Server is the client's connection inside an external server's
	// process, as the OS samples showed it.
	Server ServerSide
}

// RouteProbe is one request of the routing table, sent before the trigger.
type RouteProbe struct {
	Name     string
	Local    string // the probe's socket address, to name its server thread
	Expected RouteShape
	Observed RouteShape
	Err      string
}

// RouteShape is what routing-unchanged compares: status, content type and
// the shape of the body (JSON key paths, or the HTML title).
type RouteShape struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type"`
	Shape       string `json:"shape"`
}

// AdmissionProbe is a connection attempted after the trigger.
type AdmissionProbe struct {
	When  When
	At    time.Duration
	Local string // empty when the connection was refused
	// Outcome: refused, closed (closed unserved), unavailable (503), or
	// served (a normal answer: the server admitted it).
	Outcome Admission
	Detail  string
}

// When says at which point of a shutdown an admission probe was sent.
type When string

// The admission probes' moments.
const (
	WhenAtTrigger   When = "at-trigger"   // as shutdown is triggered
	WhenAfterReturn When = "after-return" // once shutdown has returned
)

// Admission is how an admission probe ended.
type Admission string

// Admission probe outcomes. Refused, closed and unavailable count as not
// admitted (NotAdmitted).
const (
	AdmissionRefused     Admission = "refused"
	AdmissionClosed      Admission = "closed"
	AdmissionUnavailable Admission = "unavailable"
	AdmissionServed      Admission = "served"
	AdmissionError       Admission = "error"
)

// FDCheck cross-checks the server's socket accounting against the
// process's own open file descriptors (Linux only).
type FDCheck struct {
	Available bool
	Why       string // why not available
	Base      int    // socket fds before the server started
	// AtHold: socket fds above Base while every client held, and what the
	// server and the clients said they had open.
	AtHold         int
	ExpectedAtHold int
	// After: socket fds above Base once the run ended (expected 0).
	After int
}
