package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"time"

	"shutdowntest/load"
	"shutdowntest/target"
)

// Report is the whole JSON document of a run. Times named *_ms are float64
// milliseconds rounded to the microsecond; inside an iteration they are
// relative to that iteration's shutdown trigger (negative: before it), on
// the server's clock. Nullable instants are pointers and encode as null.
type Report struct {
	// Schema names the document's format and version.
	Schema string `json:"schema"`
	// Verdict is pass, fail, or error for a run that could not be
	// carried out.
	Verdict Verdict `json:"verdict"`
	// Error says why the run could not be carried out; nil when it could.
	Error       *RunError `json:"error"`
	Interrupted bool      `json:"interrupted"`
	Tool        ToolInfo  `json:"tool"`
	Config      Config    `json:"config"`
	// Target is the server under test as configured.
	Target TargetBlock `json:"target"`
	Checks []Check     `json:"checks"`
	// Started is when the run began (RFC 3339, UTC, seconds); empty when
	// unknown.
	Started string  `json:"started"`
	WallMS  float64 `json:"wall_ms"`
	// Drain summarises the iterations' drain figures.
	Drain DrainStats `json:"drain"`
	// Reproduce is the command that runs this again.
	Reproduce Reproduce `json:"reproduce"`
	// Trend is each resource sampled after every iteration over the run,
	// as no-growth judged it.
	Trend      []Trend     `json:"trend"`
	Iterations []Iteration `json:"iterations"`
	// Runner is this runner's part in a test shared by several
	// (--trigger-at, --runner-id); Runners, in a merged report, every
	// runner's. Both absent otherwise.
	Runner  *Runner  `json:"runner,omitempty"`
	Runners []Runner `json:"runners,omitempty"`
}

// Schema is the current report format. Version 3 added the error verdict
// and its error object, the no-kernel-violations check, alive_at_close, the
// clients' and admission probes' ok, the violations' thread and handle, and
// null fd counts at hold when none was taken. Version 4 added external
// targets: the target blocks, the process-exited and port-released checks,
// and the admission moments of an external target.
const Schema = "shutdowntest-report/6"

// RunError is why a run could not be carried out: the iteration it
// stopped in (0 when none had started), the phase (starting or holding;
// unknown when the error did not say) and the error's message.
type RunError struct {
	Iteration int    `json:"iteration"`
	Phase     string `json:"phase"`
	Message   string `json:"message"`
}

// runErrorOf is the report's account of err, a *load.RunError when the
// engine returned it.
func runErrorOf(err error) *RunError {
	if err == nil {
		return nil
	}
	e := &RunError{Phase: "unknown", Message: oneLine(err.Error())}
	var re *load.RunError
	if errors.As(err, &re) {
		e.Iteration, e.Phase = re.Iteration, string(re.Phase)
	}
	return e
}

// Reproduce gives the exact commands to run a report's run again: the
// whole run, and for a failure the first failing iteration on its own
// (iterations are independent, each on a fresh server).
type Reproduce struct {
	Command      string `json:"command"`
	FirstFailing string `json:"first_failing,omitempty"`
}

// ToolInfo says which build ran where, so a report can be reproduced.
type ToolInfo struct {
	Version       string   `json:"version"`
	Commit        string   `json:"commit"`
	GoVersion     string   `json:"go_version"`
	OS            string   `json:"os"`
	Arch          string   `json:"arch"`
	GOMAXPROCS    int      `json:"gomaxprocs"`
	OpenFileLimit uint64   `json:"open_file_limit"`
	CommandLine   []string `json:"command_line"`
}

// Config is the run's configuration as given (a zero duration means the
// target's default).
type Config struct {
	Policy         string  `json:"policy"`
	Clients        Mix     `json:"clients"`
	InflightForMS  float64 `json:"inflight_for_ms"`
	DrainTimeoutMS float64 `json:"drain_timeout_ms"`
	ReadyTimeoutMS float64 `json:"ready_timeout_ms"`
	// MaxDrainMS is --max-drain (0: not given).
	MaxDrainMS float64 `json:"max_drain_ms"`
	// Iterations is the count asked for; 0 in a soak without a cap.
	Iterations int `json:"iterations"`
	// ForMS is --for, the soak's length (0: not a soak).
	ForMS float64 `json:"for_ms"`
	// Seed is the seed the run's random choices were drawn from (given,
	// or taken from the clock); JitterMS is --jitter (0: none).
	Seed     int64   `json:"seed"`
	JitterMS float64 `json:"jitter_ms"`
	// Faults are the faults injected (--fault), in the order given.
	Faults []string `json:"faults"`
}

// Mix is how many clients of each kind and role were configured.
type Mix struct {
	HTTPIdle     int `json:"http_idle"`
	HTTPInflight int `json:"http_inflight"`
	RESTIdle     int `json:"rest_idle"`
	RESTInflight int `json:"rest_inflight"`
	WS           int `json:"ws"`
	Silent       int `json:"silent"`
	// Hostile counts the hostile clients by role; absent without any.
	Hostile map[string]int `json:"hostile,omitempty"`
}

// Iteration is one cycle on a fresh server.
type Iteration struct {
	N       int     `json:"n"`
	Addr    string  `json:"addr"`
	Verdict Verdict `json:"verdict"`
	// Target is the server under test as this iteration ran it.
	Target     TargetBlock `json:"target"`
	Checks     []Check     `json:"checks"`
	Terminate  Terminate   `json:"terminate"`
	Shutdown   Shutdown    `json:"shutdown"`
	Drain      Drain       `json:"drain"`
	Threads    []Thread    `json:"threads"`
	Clients    []Client    `json:"clients"`
	Routes     []Route     `json:"routes"`
	Admission  []Admission `json:"admission"`
	Resources  Resources   `json:"resources"`
	Violations []Violation `json:"violations"`
	// Faults are the injected faults and what came of each, the server's
	// and the engine's, in time order.
	Faults []FaultEvent `json:"faults"`
	// OS is what sampling an external server's process showed (null for
	// the embedded target, and without a process).
	OS *OS `json:"os"`
	// ObservedUntilMS is when observation stopped; AllEnded whether every
	// client and client thread had ended by then.
	ObservedUntilMS float64 `json:"observed_until_ms"`
	AllEnded        bool    `json:"all_ended"`
	Ready           bool    `json:"ready"`
	Interrupted     bool    `json:"interrupted"`
	// JitterMS is how much later --jitter moved the trigger.
	JitterMS        float64         `json:"jitter_ms"`
	ResourcesSample ResourcesSample `json:"resources_sample"`
	// Rate is the steady traffic (--rate; absent without it).
	Rate *RateBlock `json:"rate,omitempty"`
}

// ResourcesSample is what the process and the server held once the
// iteration had ended (load.ResourceSample): HeapBytes, the live heap
// after a GC, is null on iterations it was not sampled, FDs where the
// platform cannot count them.
type ResourcesSample struct {
	HeapBytes *uint64 `json:"heap_bytes"`
	// KeptBytes estimates what of the heap is the run's own records of
	// its iterations so far (kept for this report); no-growth judges the
	// heap without it.
	KeptBytes  uint64  `json:"kept_bytes"`
	Goroutines int     `json:"goroutines"`
	FDs        *int    `json:"fds"`
	Handles    int     `json:"handles"`
	CostMS     float64 `json:"cost_ms"`
}

// Terminate is the terminate event's story, as the server's record tells
// it. AliveAtClose are the client threads alive at the close (empty when
// never closed) and LiveThreadsAtClose their number; every one of them is
// also alive at closed_ms by its own exited_ms.
type Terminate struct {
	Handle             uint32   `json:"handle"`
	SignaledMS         *float64 `json:"signaled_ms"`
	ClosedMS           *float64 `json:"closed_ms"`
	KeptOpen           bool     `json:"kept_open"`
	LiveThreadsAtClose int      `json:"live_threads_at_close"`
	AliveAtClose       []int    `json:"alive_at_close"`
	WaitersAtClose     int      `json:"waiters_at_close"`
	WaitsAfterClose    int      `json:"waits_after_close"`
	// UnjoinedAtClose is how many client threads the closer had not
	// joined before the close, alive or not; Unjoined are their ids.
	UnjoinedAtClose int   `json:"unjoined_at_close"`
	Unjoined        []int `json:"unjoined"`
}

// Shutdown is what StopSockets did. Stragglers are the client threads
// still alive when it returned, from the thread timeline (so legacy, which
// never looks, gets them too); without a return, those alive when
// observation stopped.
type Shutdown struct {
	ReturnedMS *float64 `json:"returned_ms"`
	Steps      []Step   `json:"steps"`
	Stragglers []int    `json:"stragglers"`
	// SecondCallMS is how long a second Shutdown call took (it must return
	// at once); null when the first never returned.
	SecondCallMS *float64 `json:"second_call_ms"`
}

// Step is one step of the policy; BudgetMS is a span (0: no budget).
type Step struct {
	Name     string  `json:"name"`
	StartMS  float64 `json:"start_ms"`
	EndMS    float64 `json:"end_ms"`
	BudgetMS float64 `json:"budget_ms"`
	Outcome  string  `json:"outcome"`
	Detail   string  `json:"detail"`
}

// Thread is one accepted-client thread (the listener and the UI thread are
// not listed: the checks are about client threads). Client is the
// configured client it served; otherwise Probe says what it served. Peer
// is the address of the connection it served, as the server saw it.
type Thread struct {
	ID       int      `json:"id"`
	Client   *int     `json:"client"`
	Probe    string   `json:"probe,omitempty"`
	Peer     string   `json:"peer"`
	States   []State  `json:"states"`
	ExitedMS *float64 `json:"exited_ms"`
	Forced   bool     `json:"forced"`
	// Spin is how often the thread's TLS handshake or read loop went
	// round without a wait (omitted when it never did; see no-busy-spin).
	Spin *Spin `json:"spin,omitempty"`
}

// Spin is one thread's turns without a wait, from the first to the last.
type Spin struct {
	Turns   int64   `json:"turns"`
	FirstMS float64 `json:"first_ms"`
	LastMS  float64 `json:"last_ms"`
}

// State is one entry of a thread's folded history: Repeats more turns of
// the cycle with the entry before it.
type State struct {
	State   string  `json:"state"`
	AtMS    float64 `json:"at_ms"`
	Repeats int     `json:"repeats,omitempty"`
}

// Client is one configured client and how it ended. OK says whether that
// ending passes for its role (load.Role.Passes): every writer and view
// reads it rather than judging the outcome again.
type Client struct {
	ID       int      `json:"id"`
	Kind     string   `json:"kind"`
	Role     string   `json:"role"`
	Outcome  string   `json:"outcome"`
	OK       bool     `json:"ok"`
	Detail   string   `json:"detail"`
	Thread   *int     `json:"thread"`
	EndedMS  *float64 `json:"ended_ms"`
	Messages *int     `json:"messages,omitempty"`
	// Server is its connection inside an external server's process, from
	// the OS samples (null when not sampled, or not seen).
	Server *ServerSide `json:"server"`
	// States is the client's own side: connecting, connected, request
	// sent, response ok, holding, open, ended, each with its time.
	States []State `json:"states"`
	// Runner is, in a merged report, the runner whose client it was (its
	// ID there is renumbered); absent otherwise.
	Runner string `json:"runner,omitempty"`
}

// Route is one routing probe sent before the trigger.
type Route struct {
	Name     string          `json:"name"`
	Expected load.RouteShape `json:"expected"`
	Observed load.RouteShape `json:"observed"`
	Error    string          `json:"error"`
}

// Admission is one connection attempted after the trigger. OK: it was
// turned away, as it must be (load.NotAdmitted).
type Admission struct {
	When    string  `json:"when"`
	AtMS    float64 `json:"at_ms"`
	Outcome string  `json:"outcome"`
	OK      bool    `json:"ok"`
	Detail  string  `json:"detail"`
	// Runner is, in a merged report, the runner that tried it.
	Runner string `json:"runner,omitempty"`
}

// Resources is what the server still held when the run ended, before
// Close forced anything (Handles are named after it).
type Resources struct {
	OpenSockets int      `json:"open_sockets"`
	SocketData  int      `json:"socket_data"`
	OpenHandles int      `json:"open_handles"`
	Handles     []string `json:"handles"`
	FDCheck     FDCheck  `json:"fd_check"`
	// Leaked is what threads killed by TerminateThread held: their
	// cleanup never ran. RefusedOverCap counts the connections hardened
	// answered 503 over its thread cap.
	Leaked         []Leak `json:"leaked"`
	RefusedOverCap int64  `json:"refused_over_cap"`
}

// Leak is what one killed thread held when TerminateThread caught it in
// State.
type Leak struct {
	Thread int      `json:"thread"`
	Name   string   `json:"name"`
	State  string   `json:"state"`
	Held   []string `json:"held"`
}

// FaultEvent is one injected fault and what the server (or, for the
// faults the engine drives, the engine) saw come of it. Thread is the
// thread it hit, null for none.
type FaultEvent struct {
	AtMS   float64 `json:"at_ms"`
	Fault  string  `json:"fault"`
	Thread *int    `json:"thread"`
	Peer   string  `json:"peer"`
	Detail string  `json:"detail"`
}

// FDCheck is the cross-check against the process's socket fds. AtHold
// and ExpectedAtHold are null when no count was taken at hold (the clients
// were never all in place).
type FDCheck struct {
	Available      bool   `json:"available"`
	Why            string `json:"why"`
	Base           int    `json:"base"`
	AtHold         *int   `json:"at_hold"`
	ExpectedAtHold *int   `json:"expected_at_hold"`
	After          int    `json:"after"`
}

// Violation is an undefined or harmful Win32 act the kernel saw: Thread is
// the thread it concerns (null: no modelled thread, such as the shutdown
// sequence), Handle the value it named.
type Violation struct {
	AtMS   float64 `json:"at_ms"`
	Kind   string  `json:"kind"`
	Thread *int    `json:"thread"`
	Handle uint32  `json:"handle"`
	Detail string  `json:"detail"`
}

// Build assembles the report of a run from what load.Run returned: it
// evaluates every iteration, aggregates the checks and converts the
// records to the report's units. A run in which no iteration was recorded
// has nothing to pass on: its checks are skipped. A nil result (a run that
// could not start) is such a run, so a caller can still write its report.
// runErr, when the run could not be carried out, is the report's error and
// makes its verdict error.
func Build(res *load.Result, runErr error, tool ToolInfo) Report {
	if res == nil {
		res = &load.Result{}
	}
	cfg := res.Config
	r := Report{
		Schema:      Schema,
		Error:       runErrorOf(runErr),
		Interrupted: res.Interrupted,
		Tool:        tool,
		Config: Config{
			Policy: string(cfg.Policy),
			Clients: Mix{HTTPIdle: cfg.Mix.HTTPIdle, HTTPInflight: cfg.Mix.HTTPInflight,
				RESTIdle: cfg.Mix.RESTIdle, RESTInflight: cfg.Mix.RESTInflight, WS: cfg.Mix.WS, Silent: cfg.Mix.Silent,
				Hostile: hostileMix(cfg.Mix)},
			InflightForMS:  ms(cfg.InflightFor),
			DrainTimeoutMS: ms(cfg.DrainTimeout),
			ReadyTimeoutMS: ms(cfg.ReadyTimeout),
			MaxDrainMS:     ms(cfg.MaxDrain),
			Iterations:     cfg.Iterations,
			ForMS:          ms(cfg.For),
			Seed:           cfg.Seed,
			JitterMS:       ms(cfg.Jitter),
			Faults:         []string{},
		},
		Target:     configTarget(cfg),
		WallMS:     ms(res.Wall),
		Started:    startedOf(res),
		Iterations: []Iteration{},
	}
	for _, f := range cfg.Faults {
		r.Config.Faults = append(r.Config.Faults, string(f))
	}
	if r.Tool.CommandLine == nil {
		r.Tool.CommandLine = []string{}
	}
	per := make([][]Check, 0, len(res.Iterations))
	for i := range res.Iterations {
		it := withClientThreads(&res.Iterations[i])
		checks := evaluate(it)
		per = append(per, checks)
		r.Iterations = append(r.Iterations, buildIteration(it, checks))
	}
	if len(per) == 0 {
		r.Checks = make([]Check, 0, len(criteria))
		for _, cr := range criteria {
			c := newCheck(StatusSkip, 0, "no iteration was recorded")
			c.ID = cr.id
			r.Checks = append(r.Checks, c)
		}
	}
	r.Runner = runnerOf(res)
	r.conclude(per)
	return r
}

// conclude gives a report built (or merged) from its iterations' checks
// per what only the whole run has: the checks aggregated, the drain
// figures, the trends, the checks of the run as a whole (which read the
// trends) and the verdict.
func (r *Report) conclude(per [][]Check) {
	if len(per) > 0 {
		r.Checks = Aggregate(per)
		r.Drain = drainStats(r.Iterations)
	}
	r.Trend = trends(r.Iterations)
	r.Checks = append(r.Checks, evaluateRun(r.Iterations, r.Trend)...)
	r.Verdict = r.runVerdict()
}

// runVerdict is the run's verdict. Only a run that was carried out, was
// not interrupted and passed in every iteration it recorded (at least one)
// is a pass: a run that could not be carried out is an error whatever it
// saw, and an interrupted run, or one that recorded nothing, is no
// sign-off.
func (r Report) runVerdict() Verdict {
	switch {
	case r.Error != nil:
		return VerdictError
	case r.Interrupted || len(r.Iterations) == 0 || VerdictOf(r.Checks) == VerdictFail:
		return VerdictFail
	}
	for _, it := range r.Iterations {
		if it.Verdict != VerdictPass {
			return VerdictFail
		}
	}
	return VerdictPass
}

func buildIteration(it *load.Iteration, checks []Check) Iteration {
	rel := func(d time.Duration) float64 { return ms(d - it.Trigger) }
	relPtr := func(d time.Duration) *float64 { v := rel(d); return &v }
	srv := &it.Server
	out := Iteration{
		N: it.N, Addr: it.Addr, Verdict: IterationVerdict(it, checks), Checks: checks, Target: iterationTarget(it),
		ObservedUntilMS: rel(it.ObservedUntil), AllEnded: it.AllEnded, Ready: it.Ready, Interrupted: it.Interrupted,
		Threads: []Thread{}, Clients: []Client{}, Routes: []Route{}, Admission: []Admission{},
		Violations: []Violation{}, Faults: faultsOf(it),
		Drain:    drainOf(it),
		JitterMS: ms(it.Jitter),
		OS:       osBlock(it),
		Rate:     rateOf(it),
	}
	out.ResourcesSample = resourcesSampleOf(it.Resources)

	out.Terminate = terminateOf(it)

	sh := Shutdown{Steps: []Step{}, Stragglers: []int{}}
	if it.ShutdownReturned {
		sh.ReturnedMS = relPtr(srv.Shutdown.Returned)
		second := ms(it.SecondShutdown)
		sh.SecondCallMS = &second
	}
	for _, st := range srv.Shutdown.Steps {
		sh.Steps = append(sh.Steps, Step{Name: string(st.Name), StartMS: rel(st.Start), EndMS: rel(st.End),
			BudgetMS: ms(st.Budget), Outcome: string(st.Outcome), Detail: st.Detail})
	}
	sh.Stragglers = append(sh.Stragglers, stragglers(it)...)
	out.Shutdown = sh

	owner := threadOwners(it)
	probes := probeLabels(it)
	spins := map[int]target.Spin{}
	for _, sp := range srv.Spins {
		spins[sp.Thread] = sp
	}
	for _, th := range srv.ClientThreads() {
		rt := Thread{ID: th.ID, Peer: th.Peer, States: make([]State, 0, len(th.States)), Forced: th.Forced}
		if sp, ok := spins[th.ID]; ok && sp.Turns > 0 {
			rt.Spin = &Spin{Turns: sp.Turns, FirstMS: rel(sp.First), LastMS: rel(sp.Last)}
		}
		if id, ok := owner[th.ID]; ok {
			rt.Client = &id
		} else if label, ok := probes[th.Peer]; ok {
			rt.Probe = label
		} else {
			rt.Probe = "other"
		}
		for _, s := range th.States {
			rt.States = append(rt.States, State{State: string(s.State), AtMS: rel(s.At), Repeats: s.Repeats})
		}
		if th.Exited {
			rt.ExitedMS = relPtr(th.ExitedAt)
		}
		out.Threads = append(out.Threads, rt)
	}

	for _, c := range it.Clients {
		rc := Client{ID: c.ID, Kind: string(c.Kind), Role: string(c.Role), Outcome: string(c.Outcome),
			OK: c.Role.Passes(c.Outcome), Detail: c.Detail}
		if tid := clientThread(c, owner); tid != 0 {
			rc.Thread = &tid
		}
		if c.EndedAt != 0 {
			rc.EndedMS = relPtr(c.EndedAt)
		}
		rc.Server = serverSideOf(c)
		if c.Kind == load.KindWS {
			n := c.Messages
			rc.Messages = &n
		}
		rc.States = make([]State, 0, len(c.States))
		for _, s := range c.States {
			rc.States = append(rc.States, State{State: s.State, AtMS: rel(s.At)})
		}
		out.Clients = append(out.Clients, rc)
	}
	for _, p := range it.Routes {
		out.Routes = append(out.Routes, Route{Name: p.Name, Expected: p.Expected, Observed: p.Observed, Error: p.Err})
	}
	for _, p := range it.Admission {
		out.Admission = append(out.Admission, Admission{When: string(p.When), AtMS: rel(p.At), Outcome: string(p.Outcome),
			OK: load.NotAdmitted(p.Outcome), Detail: p.Detail})
	}

	left := srv.Left
	handles := append([]string{}, left.Handles...)
	out.Resources = Resources{OpenSockets: left.OpenSockets, SocketData: left.SocketData,
		OpenHandles: left.OpenHandles, Handles: handles,
		FDCheck: FDCheck{Available: it.FDs.Available, Why: it.FDs.Why, Base: it.FDs.Base, After: it.FDs.After}}
	out.Resources.Leaked, out.Resources.RefusedOverCap = leaksOf(srv.Leaks), srv.Refused
	if fdsCountedAtHold(it) {
		hold, want := it.FDs.AtHold, it.FDs.ExpectedAtHold
		out.Resources.FDCheck.AtHold, out.Resources.FDCheck.ExpectedAtHold = &hold, &want
	}
	for _, v := range srv.Kernel.Violations {
		rv := Violation{AtMS: rel(v.At), Kind: string(v.Kind), Handle: v.Handle, Detail: v.Detail}
		if v.Thread != 0 {
			tid := v.Thread
			rv.Thread = &tid
		}
		out.Violations = append(out.Violations, rv)
	}
	return out
}

// threadOwners maps client thread ids to the configured client each
// served: the engine's ClientResult.Thread first, else the client's local
// address matched against the thread's peer (the same socket seen from the
// two ends).
func threadOwners(it *load.Iteration) map[int]int {
	owner := map[int]int{}
	byPeer := map[string]int{}
	for _, th := range it.Server.ClientThreads() {
		if th.Peer != "" {
			byPeer[th.Peer] = th.ID
		}
	}
	for _, c := range it.Clients {
		tid := c.Thread
		if tid == 0 && c.Local != "" {
			tid = byPeer[c.Local]
		}
		if tid != 0 {
			if _, taken := owner[tid]; !taken {
				owner[tid] = c.ID
			}
		}
	}
	return owner
}

// clientThread is the thread a client maps to under threadOwners.
func clientThread(c load.ClientResult, owner map[int]int) int {
	if c.Thread != 0 {
		return c.Thread
	}
	ids := make([]int, 0, len(owner))
	for tid, cid := range owner {
		if cid == c.ID {
			ids = append(ids, tid)
		}
	}
	if len(ids) == 0 {
		return 0
	}
	sort.Ints(ids)
	return ids[0]
}

// ms converts a duration to float milliseconds rounded to the
// microsecond, the unit of every *_ms field.
func ms(d time.Duration) float64 {
	v := math.Round(float64(d)/float64(time.Microsecond)) / 1000
	if v == 0 {
		return 0 // never -0 in the JSON
	}
	return v
}

// WriteJSON writes the report as indented JSON with a trailing newline.
// HTML escaping is off: details carry "→" and "<", and nobody embeds this
// document in a web page.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write json report: %w", err)
	}
	return nil
}

// probeLabels names what a client thread served instead of a client by
// its socket address, which is the peer address of the thread: a probe, a
// client removed while holding, or a connection the tool did not open.
func probeLabels(it *load.Iteration) map[string]string {
	m := map[string]string{}
	for _, p := range it.Foreign {
		m[p] = "foreign"
	}
	for _, l := range it.Removed {
		m[l] = "removed client"
	}
	if it.SlowTLS != "" {
		m[it.SlowTLS] = "fault slow-tls"
	}
	for _, r := range it.Routes {
		if r.Local != "" {
			m[r.Local] = "route " + r.Name
		}
	}
	for _, a := range it.Admission {
		if a.Local != "" {
			m[a.Local] = "admission " + string(a.When)
		}
	}
	if it.FaultProbe != "" {
		m[it.FaultProbe] = "fault probe"
	}
	for l := range it.Rate.Locals() {
		m[l] = "rate"
	}
	return m
}

func startedOf(res *load.Result) string {
	if res.Started.IsZero() {
		return ""
	}
	return res.Started.UTC().Format("2006-01-02T15:04:05Z")
}

func resourcesSampleOf(s load.ResourceSample) ResourcesSample {
	out := ResourcesSample{KeptBytes: s.Kept, Goroutines: s.Goroutines, Handles: s.Handles, CostMS: ms(s.Cost)}
	if s.HeapSampled {
		heap := s.Heap
		out.HeapBytes = &heap
	}
	if s.FDsAvailable {
		fds := s.FDs
		out.FDs = &fds
	}
	return out
}
