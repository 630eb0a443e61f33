// Package state is the format of a server's state endpoint: a stream a
// server under test exposes so that shutdowntest sees inside it, as it sees
// inside the embedded model. The stream is NDJSON (one JSON Record per
// line); the first record is a hello carrying the format's Version, the
// last a final record with the whole story, written before the server
// exits. Between them come the server's connection-serving threads (or
// tasks) as they change, its shutdown signal and its shutdown steps.
//
// Every time (*_ms) is milliseconds on the server's own clock, whose zero
// is the server's to choose; the hello's now_ms is that clock when the
// hello was written, so a reader can put the server's times on its own.
//
// Records are states, not deltas: a thread record says what the thread is
// now, so reading one twice changes nothing. Hub writes the stream and
// Fold reads it; the package is the one place the format is written down.
package state

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"time"
)

// Version is the format's version, in the hello record.
const Version = 1

// ContentType is the stream's media type.
const ContentType = "application/x-ndjson"

// Type is a record's kind, its "type" field.
type Type string

// The record types.
const (
	TypeHello    Type = "hello"    // first: the version and who speaks
	TypeThread   Type = "thread"   // a thread's state now
	TypeSignal   Type = "signal"   // the shutdown signal's state now
	TypeStep     Type = "step"     // a shutdown step that ended
	TypeShutdown Type = "shutdown" // the shutdown began or returned
	TypeFinal    Type = "final"    // last: the whole story; the stream ends
)

// Record is one line of the stream: its type and the one part that type
// carries.
type Record struct {
	Type     Type      `json:"type"`
	Hello    *Hello    `json:"hello,omitempty"`
	Thread   *Thread   `json:"thread,omitempty"`
	Signal   *Signal   `json:"signal,omitempty"`
	Step     *Step     `json:"step,omitempty"`
	Shutdown *Shutdown `json:"shutdown,omitempty"`
	Final    *Final    `json:"final,omitempty"`
}

// Hello opens the stream.
type Hello struct {
	Version int `json:"version"`
	// Server says what the server is ("shutdowntest serve, policy
	// legacy"); Threads what its threads are ("accepted-client threads",
	// "connections and their handler goroutines").
	Server  string `json:"server"`
	Threads string `json:"threads"`
	// NowMS is the server's clock as the hello was written.
	NowMS float64 `json:"now_ms"`
	// NA names the fields this server cannot know (always false or empty
	// in its records), such as "thread.on_signal" or "signal.waiters".
	NA []string `json:"na,omitempty"`
}

// Thread is one connection-serving thread or task.
type Thread struct {
	ID int `json:"id"`
	// State is the server's word for what it does now (wait, process,
	// linger; active, idle, hijacked). Exited says it has ended.
	State string `json:"state"`
	// Peer is the address of the client it serves, as the client's own
	// socket names it (127.0.0.1:54321).
	Peer string `json:"peer"`
	// OnSignal: blocked right now in a wait that includes the shutdown
	// signal.
	OnSignal bool    `json:"on_signal"`
	SinceMS  float64 `json:"since_ms"`
	Exited   bool    `json:"exited"`
	ExitedMS float64 `json:"exited_ms,omitempty"`
	// Forced: it did not end by itself; the server (or its exit) ended
	// it after shutdown.
	Forced bool `json:"forced,omitempty"`
	// History is every state it was in, oldest first (final record only).
	History []StateAt `json:"history,omitempty"`
}

// StateAt is one entry of a thread's history.
type StateAt struct {
	State string  `json:"state"`
	AtMS  float64 `json:"at_ms"`
}

// Signal is the shutdown signal the threads wait on (eMule's terminate
// event; for a Go server, Shutdown's start and return).
type Signal struct {
	Name        string  `json:"name"`
	Signalled   bool    `json:"signalled"`
	SignalledMS float64 `json:"signalled_ms,omitempty"`
	// Closed: the signal was destroyed (the handle closed, Shutdown
	// returned); nothing may wait on it after.
	Closed   bool    `json:"closed"`
	ClosedMS float64 `json:"closed_ms,omitempty"`
	// KeptOpen: shutdown left it open on purpose, for stragglers.
	KeptOpen bool `json:"kept_open"`
	// Waiters is how many threads are blocked on it now.
	Waiters int `json:"waiters"`
	// At the close: the threads not yet exited, those blocked in a wait
	// on it, and those the closer had not joined (whether or not they had
	// exited, nothing told the closer they could no longer wait on it).
	AliveAtClose    []int `json:"alive_at_close,omitempty"`
	BlockedAtClose  []int `json:"blocked_at_close,omitempty"`
	UnjoinedAtClose []int `json:"unjoined_at_close,omitempty"`
	// WaitsAfterClose are the waits that named it after the close.
	WaitsAfterClose []Wait `json:"waits_after_close,omitempty"`
}

// Wait is a wait on the signal after it was closed.
type Wait struct {
	Thread int     `json:"thread"`
	AtMS   float64 `json:"at_ms"`
	// Recycled: the closed handle's value named another object by then.
	Recycled bool `json:"recycled,omitempty"`
}

// Step is one step of the server's shutdown.
type Step struct {
	Name     string  `json:"name"`
	StartMS  float64 `json:"start_ms"`
	EndMS    float64 `json:"end_ms"`
	BudgetMS float64 `json:"budget_ms,omitempty"`
	// Outcome is ok, or what went wrong: timeout (a join ran out of
	// budget), killed, kept-open, failed.
	Outcome string `json:"outcome"`
	Detail  string `json:"detail,omitempty"`
}

// StepOK is the outcome of a step that ran to its end within its budget.
const StepOK = "ok"

// Shutdown is the shutdown as a whole: when it began and returned.
type Shutdown struct {
	TriggerMS  float64 `json:"trigger_ms"`
	Returned   bool    `json:"returned"`
	ReturnedMS float64 `json:"returned_ms,omitempty"`
}

// Final is the last record: every thread the server served since the
// shutdown began (and those before it it still knew), the signal, the
// steps and the shutdown, as the server knows them at its end.
type Final struct {
	AtMS     float64   `json:"at_ms"`
	Threads  []Thread  `json:"threads"`
	Signal   *Signal   `json:"signal,omitempty"`
	Steps    []Step    `json:"steps"`
	Shutdown *Shutdown `json:"shutdown,omitempty"`
}

// MS is d in the format's milliseconds, rounded to the microsecond.
func MS(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// Duration is ms of the format as a time.Duration.
func Duration(ms float64) time.Duration {
	return time.Duration(math.Round(ms * float64(time.Millisecond)))
}

// State is a stream folded up to some record: what a reader knows.
type State struct {
	Hello Hello
	// Threads by id; History is built from the thread records seen (or
	// taken whole from the final record).
	Threads map[int]*Thread
	// Signal, Shutdown: nil until a record said something of them.
	Signal   *Signal
	Steps    []Step
	Shutdown *Shutdown
	// Final: the final record was read; Records counts every record.
	Final   bool
	Records int
}

// Apply folds one record into s. The first must be a hello of a version
// this package reads.
func (s *State) Apply(r Record) error {
	if s.Records == 0 && (r.Type != TypeHello || r.Hello == nil) {
		return fmt.Errorf("record 1: want a %q record first, got %q", TypeHello, r.Type)
	}
	s.Records++
	switch r.Type {
	case TypeHello:
		if r.Hello == nil || r.Hello.Version != Version {
			v := 0
			if r.Hello != nil {
				v = r.Hello.Version
			}
			return fmt.Errorf("hello: version %d, this reader knows %d", v, Version)
		}
		s.Hello = *r.Hello
		if s.Threads == nil {
			s.Threads = map[int]*Thread{}
		}
	case TypeThread:
		if r.Thread != nil {
			s.thread(*r.Thread)
		}
	case TypeSignal:
		if r.Signal != nil {
			sig := *r.Signal
			s.Signal = &sig
		}
	case TypeStep:
		if r.Step != nil {
			s.Steps = append(s.Steps, *r.Step)
		}
	case TypeShutdown:
		if r.Shutdown != nil {
			sh := *r.Shutdown
			s.Shutdown = &sh
		}
	case TypeFinal:
		if r.Final == nil {
			return errors.New("final: no final part")
		}
		f := r.Final
		s.Threads = make(map[int]*Thread, len(f.Threads))
		for i := range f.Threads {
			s.thread(f.Threads[i])
		}
		s.Signal, s.Steps, s.Shutdown, s.Final = f.Signal, append([]Step(nil), f.Steps...), f.Shutdown, true
	default:
		// A later version's record type: the version in the hello says
		// whether it may be skipped; this one skips what it does not know.
	}
	return nil
}

// thread takes a thread's new state, keeping its history.
func (s *State) thread(t Thread) {
	old := s.Threads[t.ID]
	if len(t.History) == 0 {
		if old != nil {
			t.History = old.History
		}
		if n := len(t.History); n == 0 || t.History[n-1].State != t.State {
			t.History = append(t.History, StateAt{State: t.State, AtMS: t.SinceMS})
		}
	}
	s.Threads[t.ID] = &t
}

// SortedThreads lists the threads by id.
func (s *State) SortedThreads() []*Thread {
	out := make([]*Thread, 0, len(s.Threads))
	for _, t := range s.Threads {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// maxLine bounds one record: a final record of many thousand threads
// fits, a stream that is not the format does not fill memory.
const maxLine = 64 << 20

// Read reads records from r until the final record, the end of r or an
// error, and hands each to fn (which may fold it with State.Apply). The
// end of r before a final record is io.ErrUnexpectedEOF.
func Read(r io.Reader, fn func(Record) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	n := 0
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		n++
		var rec Record
		if err := json.Unmarshal(line, &rec); err != nil {
			return fmt.Errorf("record %d: %w", n, err)
		}
		if err := fn(rec); err != nil {
			return err
		}
		if rec.Type == TypeFinal {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF
}
