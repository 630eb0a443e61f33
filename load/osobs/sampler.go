package osobs

import (
	"cmp"
	"errors"
	"slices"
	"sync"
	"time"
)

// Pace of sampling. A sample reads a file per thread and a link per
// descriptor, so its cost grows with the process; pausing at least 20
// times that cost between samples keeps the sampler under about 5% of a
// core whatever the size (the embedded engine's waitUntil uses the same
// rule for its snapshots).
const (
	drainEvery = 10 * time.Millisecond  // while draining, when a sample is cheap
	holdEvery  = 100 * time.Millisecond // before the trigger nothing is judged from fast changes
	costFactor = 20
	// stopWait bounds the wait for the sampling goroutine to end: one
	// sample in progress.
	stopWait = 5 * time.Second
)

// ErrUnavailable is returned by Start where the system cannot be sampled.
var ErrUnavailable = errors.New("os sampling is not available on this system")

// source reads one sample of a process tree; each system has its own.
type source interface {
	read() (reading, error)
	// method names where the sockets' states come from.
	method() string
}

// reading is one sample as a source read it: the tree's threads and TCP
// sockets; gone when no process of the tree exists any more; procs is how
// many processes it read, cut how many it left out past maxProcs.
type reading struct {
	threads    []Thread
	sockets    []Socket
	gone       bool
	procs, cut int
}

// Sampler samples one process tree until Stop. Its methods are safe to call
// from any goroutine.
type Sampler struct {
	src   source
	clock func(time.Time) time.Duration

	mu       sync.Mutex
	rec      Record
	draining bool
	err      error

	drain  chan struct{} // closed by Drain: sample at the drain's pace from now
	stop   chan struct{}
	done   chan struct{}
	recent [5]time.Duration // the latest samples' costs, a ring
	ntook  int              // how many costs recent has seen

	drainOnce, stopOnce sync.Once
	// readMu serialises the source's reads: the loop, Drain, Final and
	// Stop each take samples, and a source reuses its buffers.
	readMu sync.Mutex
}

// Start takes the baseline sample of process pid and its descendants
// synchronously and then samples them in the background until Stop or
// until every one is gone. Its
// sockets are those on local port port (the server's: its listener and
// the connections it accepted; every socket when 0). clock maps an
// instant to the iteration's clock. The error says why the process cannot
// be sampled (ErrUnavailable, a permission, no such process).
func Start(pid int, port uint16, clock func(time.Time) time.Duration) (*Sampler, error) {
	src, err := open(pid, port)
	if err != nil {
		return nil, err
	}
	return start(src, pid, clock)
}

func start(src source, pid int, clock func(time.Time) time.Duration) (*Sampler, error) {
	s := &Sampler{src: src, clock: clock, drain: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	s.rec = Record{PID: pid, Available: true, Method: src.method()}
	if _, err := s.take(); err != nil {
		return nil, err
	}
	// Samples until Stop closes stop or the process is gone; Stop waits
	// for it.
	go s.loop()
	return s, nil
}

func (s *Sampler) loop() {
	defer close(s.done)
	drain := s.drain
	for {
		s.mu.Lock()
		cost := s.typicalCost()
		pause := max(holdEvery, costFactor*cost)
		if s.draining {
			pause = max(drainEvery, costFactor*cost)
			s.rec.Interval = max(s.rec.Interval, pause)
		}
		s.mu.Unlock()
		t := time.NewTimer(pause)
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-drain:
			// The trigger (Drain took its sample): the drain's pace from now.
			t.Stop()
			drain = nil
			s.mu.Lock()
			s.draining = true
			s.mu.Unlock()
			continue
		case <-t.C:
		}
		if gone, err := s.take(); gone || err != nil {
			return
		}
	}
}

// typicalCost is the median cost of the latest samples (mu held): a
// sample that met new sockets runs a dump of the host's TCP table, an
// occasional cost that must not slow the pace for good.
func (s *Sampler) typicalCost() time.Duration {
	n := min(s.ntook, len(s.recent))
	c := slices.Clone(s.recent[:n])
	slices.Sort(c)
	if n == 0 {
		return 0
	}
	return c[n/2]
}

// take reads one sample and adds it to the record.
func (s *Sampler) take() (gone bool, err error) {
	s.readMu.Lock()
	t0 := time.Now()
	r, err := s.src.read()
	took := time.Since(t0)
	s.readMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.err = err
		return false, err
	}
	at := s.clock(t0)
	// Sorted, so that an unchanged process compares equal to the sample
	// before (the sources list in directory or hash order).
	threads, sockets := r.threads, r.sockets
	slices.SortFunc(threads, func(a, b Thread) int { return cmp.Or(cmp.Compare(a.PID, b.PID), cmp.Compare(a.TID, b.TID)) })
	slices.SortFunc(sockets, func(a, b Socket) int { return cmp.Compare(a.Key(), b.Key()) })
	s.rec.Taken++
	s.rec.Cost += took
	s.recent[s.ntook%len(s.recent)] = took
	s.ntook++
	s.rec.MaxSockets = max(s.rec.MaxSockets, len(sockets))
	s.rec.Processes = max(s.rec.Processes, r.procs)
	s.rec.Cut = max(s.rec.Cut, r.cut)
	smp := Sample{At: at, Until: at, Gone: r.gone, Threads: threads, Sockets: sockets}
	if n := len(s.rec.Samples); n > 0 && s.rec.Samples[n-1].sameAs(&smp) {
		s.rec.Samples[n-1].Until = at
	} else {
		s.rec.Samples = append(s.rec.Samples, smp)
	}
	if !smp.Alive(s.rec.PID) && !s.rec.HasGone {
		s.rec.GoneAt, s.rec.HasGone = at, true
	}
	return r.gone, nil
}

// Drain takes a sample, the last before the trigger (every client in
// place), and switches to the drain's pace. It is called just before the
// trigger, which it delays by one sample's cost.
func (s *Sampler) Drain() {
	s.drainOnce.Do(func() {
		_, _ = s.take()
		close(s.drain)
	})
}

// Final takes a sample now and marks it as the one the leak check reads
// (the port has closed and the settle time has passed).
func (s *Sampler) Final() {
	if _, err := s.take(); err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.Final, s.rec.HasFinal = len(s.rec.Samples)-1, true
}

// Latest is the last sample taken, for a live view.
func (s *Sampler) Latest() Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.Samples[len(s.rec.Samples)-1]
}

// Stop ends sampling, takes one last sample (which sees a tree that has
// exited as gone) and returns the record.
func (s *Sampler) Stop() *Record {
	s.stopOnce.Do(func() { close(s.stop) })
	select {
	case <-s.done:
	case <-time.After(stopWait):
	}
	s.mu.Lock()
	gone := s.rec.Samples[len(s.rec.Samples)-1].Gone
	s.mu.Unlock()
	if !gone {
		_, _ = s.take()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.rec
	if s.err != nil {
		rec.Why = "sampling stopped: " + s.err.Error()
	}
	return &rec
}
