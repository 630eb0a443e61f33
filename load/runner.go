package load

import (
	"context"
	"sync"
	"time"
)

// adjustQueue is how many changes to the mix may wait for the engine to
// take them. The engine takes them while the clients hold, at once; a
// person pressing + faster than that is told so (Adjust reports false).
const adjustQueue = 64

// Runner is a run under way, and what steers it: a live view triggers the
// shutdown, changes the mix while the clients hold, and stops a drain it
// no longer wants to watch. Its methods are safe to call from any
// goroutine, and none of them blocks beyond Wait, which the engine bounds.
type Runner struct {
	cfg Config
	obs Observer

	// trigger holds at most one pending Trigger: a second one before the
	// engine took the first would ask for the same thing, so it is
	// dropped rather than queued for the next iteration.
	trigger chan struct{}
	adjust  chan Adjust
	abort   chan struct{} // closed by Abort

	abortOnce sync.Once
	startOnce sync.Once
	mu        sync.Mutex
	cancel    context.CancelFunc // the run's context, once started
	aborted   bool

	done chan struct{} // closed when the run has ended
	res  *Result
	err  error
}

// NewRunner returns a run of cfg that has not started. Trigger, Adjust
// and Abort may be called before Start: what they ask waits for the run.
// A live view builds its runs this way, so that a model can hold its run
// before any of it starts.
func NewRunner(cfg Config, obs Observer) *Runner {
	return &Runner{cfg: cfg, obs: obs, trigger: make(chan struct{}, 1), adjust: make(chan Adjust, adjustQueue),
		abort: make(chan struct{}), done: make(chan struct{})}
}

// Start starts a run of cfg and returns its handle; Wait gives its result.
func Start(ctx context.Context, cfg Config, obs Observer) *Runner {
	r := NewRunner(cfg, obs)
	r.Start(ctx)
	return r
}

// Run runs cfg.Iterations cycles, each on a fresh server, and returns
// what Wait returns. It is Start and Wait, for a run nobody steers.
func Run(ctx context.Context, cfg Config, obs Observer) (*Result, error) {
	return Start(ctx, cfg, obs).Wait()
}

// Start starts the run; calls after the first do nothing. When ctx is
// cancelled the current iteration still shuts its server down and is
// reported, marked interrupted, and no further iteration starts.
func (r *Runner) Start(ctx context.Context) {
	r.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(ctx)
		r.mu.Lock()
		r.cancel = cancel
		if r.aborted {
			cancel()
		}
		r.mu.Unlock()
		// The run's goroutine belongs to the Runner and ends with the
		// run: a hold ends with Trigger, ShutdownAfter, ctx or Abort, and
		// every phase after it is bounded by the engine.
		go func() {
			defer close(r.done)
			defer cancel()
			r.res, r.err = r.run(ctx)
		}()
	})
}

// Wait waits for the run started by Start to end and returns its result:
// the iterations it completed, and an error (a *RunError) when the run
// could not be carried out, the result then holding what was seen. It may
// be called more than once, from any goroutine; each call returns the
// same. It must not be called on a run that is never started.
func (r *Runner) Wait() (*Result, error) {
	<-r.done
	return r.res, r.err
}

// Trigger ends the hold of the iteration under way (Config.Hold, or
// ShutdownAfter early) once its clients are ready, and the server shuts
// down: one Trigger triggers one iteration. It never blocks: while one
// Trigger waits to be taken, another is the same request and is dropped.
func (r *Runner) Trigger() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Adjust asks for a change to the mix while the clients hold (see
// Adjust). It never blocks: it reports false, and drops the change, when
// adjustQueue changes already wait to be taken.
func (r *Runner) Adjust(a Adjust) bool {
	select {
	case r.adjust <- a:
		return true
	default:
		return false
	}
}

// Abort stops the run as a cancelled context does, and also ends the
// watching of a drain at once: the iteration is recorded as far as it
// got, interrupted, and the server is closed (what it still held is
// counted before it is forced). A cancelled context alone still watches
// the drain to its end. Abort may be called many times, concurrently.
func (r *Runner) Abort() {
	r.abortOnce.Do(func() { close(r.abort) })
	r.mu.Lock()
	defer r.mu.Unlock()
	r.aborted = true
	if r.cancel != nil {
		r.cancel()
	}
}

// run runs the iterations, each on a fresh server: cfg.Iterations of
// them, or for a soak (cfg.For) as many as start in its time.
func (r *Runner) run(ctx context.Context) (*Result, error) {
	cfg := r.cfg
	if cfg.Seed == 0 {
		cfg.Seed = clockSeed()
	}
	res := &Result{Config: cfg, Started: time.Now()}
	defer func() { res.Wall = time.Since(res.Started) }()
	jitter := jitterOffsets(cfg.Seed, cfg.Jitter)
	var resources sampler
	for n := 1; !cfg.soakOver(res.Started, n-1); n++ {
		var it *Iteration
		var err error
		if cfg.External != nil {
			it, err = runExternal(ctx, r, cfg, n)
		} else {
			it, err = runIteration(ctx, r, cfg, n, jitter())
		}
		if it != nil {
			// A change to the mix while holding carries on.
			cfg.Mix, res.Config.Mix = it.Mix, it.Mix
			res.Iterations = append(res.Iterations, *it)
			it.Resources = resources.sample(res.Iterations)
			res.Iterations[len(res.Iterations)-1].Resources = it.Resources
			if it.Interrupted {
				res.Interrupted = true
			}
			if r.obs.Progress != nil {
				r.obs.Progress(*it)
			}
		}
		if err != nil {
			return res, err
		}
		if res.Interrupted {
			break
		}
	}
	return res, nil
}
