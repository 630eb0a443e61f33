package state

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Hub is a server's side of the stream: the server tells it what changes
// (Thread, Signal, Step, Shutdown, and at its end Final), and every reader
// of the endpoint (ServeHTTP) gets the records from the start, then each as
// it comes, until the final record. A reader that connects late loses
// nothing the server still knows: the hub replays its log, compacted to
// the threads still alive once it grows (records are states, so a replay
// is harmless).
type Hub struct {
	clock func() time.Duration
	hello Hello

	mu   sync.Mutex
	log  []Record
	base int // sequence number of log[0]
	// compactNext is the log length past which it is compacted next.
	compactNext int
	changed     chan struct{} // closed and replaced on every append
	threads     map[int]Thread
	final       bool
	streams     int           // streams open that have not written the final record
	flushed     chan struct{} // closed when streams drops to 0 after final
	// isFlushed: flushed is closed (a reader that comes later still gets
	// the whole story).
	isFlushed bool
}

// compactAt is the log length past which it is rebuilt from the threads
// still alive: a long-running server serves many connections before its
// shutdown, and a reader needs only what is alive.
const compactAt = 4096

// NewHub is a hub for a server described by hello (its Version and NowMS
// are filled in); clock is the server's clock, the one every time given
// to the hub is on.
func NewHub(hello Hello, clock func() time.Duration) *Hub {
	hello.Version = Version
	return &Hub{clock: clock, hello: hello, changed: make(chan struct{}), threads: map[int]Thread{},
		flushed: make(chan struct{})}
}

// append adds a record to the log and wakes the readers. Called with h.mu
// held. Records after the final one are dropped: the stream has ended.
func (h *Hub) append(r Record) {
	if h.final {
		return
	}
	h.log = append(h.log, r)
	if len(h.log) > max(compactAt, h.compactNext) {
		h.compact()
		// Thousands of live threads make a long compacted log: the next
		// compaction waits until the log has doubled, so its cost per
		// record stays constant.
		h.compactNext = 2 * len(h.log)
	}
	close(h.changed)
	h.changed = make(chan struct{})
}

// compact rebuilds the log from what is current: the live threads, the
// signal, the steps and the shutdown. Exited threads are forgotten unless
// the shutdown has begun, when every thread counts.
func (h *Hub) compact() {
	var keep []Record
	shutdownBegun := false
	for _, r := range h.log {
		switch r.Type {
		case TypeSignal, TypeStep, TypeShutdown:
			keep = append(keep, r)
			shutdownBegun = shutdownBegun || r.Type == TypeShutdown
		}
	}
	ids := make([]int, 0, len(h.threads))
	for id, t := range h.threads {
		if t.Exited && !shutdownBegun {
			delete(h.threads, id)
			continue
		}
		ids = append(ids, id)
	}
	sort.Ints(ids)
	out := make([]Record, 0, len(ids)+len(keep))
	for _, id := range ids {
		t := h.threads[id]
		out = append(out, Record{Type: TypeThread, Thread: &t})
	}
	h.base += len(h.log)
	h.log = append(out, keep...)
}

// Thread publishes a thread's state now.
func (h *Hub) Thread(t Thread) { h.push(Record{Type: TypeThread, Thread: &t}) }

// Signal publishes the shutdown signal's state now.
func (h *Hub) Signal(s Signal) { h.push(Record{Type: TypeSignal, Signal: &s}) }

// Step publishes a shutdown step that ended.
func (h *Hub) Step(s Step) { h.push(Record{Type: TypeStep, Step: &s}) }

// Shutdown publishes the shutdown's beginning or return.
func (h *Hub) Shutdown(s Shutdown) { h.push(Record{Type: TypeShutdown, Shutdown: &s}) }

func (h *Hub) push(r Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Thread != nil {
		h.threads[r.Thread.ID] = *r.Thread
	}
	h.append(r)
}

// Final publishes the last record; every stream ends after writing it.
// Later calls do nothing.
func (h *Hub) Final(f Final) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.final {
		return
	}
	h.append(Record{Type: TypeFinal, Final: &f})
	h.final = true
	h.checkFlushed()
}

// checkFlushed closes flushed once the final record is out and no stream
// is still writing. Called with h.mu held.
func (h *Hub) checkFlushed() {
	if h.final && h.streams == 0 && !h.isFlushed {
		h.isFlushed = true
		close(h.flushed)
	}
}

// Flushed waits, at most d, until every stream open when Final was called
// (or opened after) has written the final record or ended, and reports
// whether they all did. A server calls it after Final, before it exits.
func (h *Hub) Flushed(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-h.flushed:
		return true
	case <-t.C:
		return false
	}
}

// streamDone counts a stream out.
// FlushWait bounds End's wait for the readers to take the final record.
const FlushWait = 2 * time.Second

// End writes f as the final record and waits, at most FlushWait, for
// every reader to have taken it; the error says one did not.
func (h *Hub) End(f Final) error {
	h.Final(f)
	if !h.Flushed(FlushWait) {
		return fmt.Errorf("state endpoint: a reader did not take the final record within %v", FlushWait)
	}
	return nil
}

// NewServer is a side server of the stream at /state, as a server under
// test runs it beside its own: a reader's request header is bounded.
func NewServer(h *Hub) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("/state", h)
	return &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
}

func (h *Hub) streamDone() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.streams--
	h.checkFlushed()
}

// ServeHTTP is the endpoint: a GET streams the records, one JSON object a
// line, flushed as each is written, until the final record or until the
// reader goes away.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "state: GET only", http.StatusMethodNotAllowed)
		return
	}
	h.mu.Lock()
	h.streams++
	h.mu.Unlock()
	defer h.streamDone()
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Cache-Control", "no-store")
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	hello := h.hello
	hello.NowMS = MS(h.clock())
	if enc.Encode(Record{Type: TypeHello, Hello: &hello}) != nil || rc.Flush() != nil {
		return
	}
	seq := 0
	for {
		h.mu.Lock()
		seq = max(seq, h.base)
		batch := append([]Record(nil), h.log[seq-h.base:]...)
		seq += len(batch)
		changed := h.changed
		h.mu.Unlock()
		for _, rec := range batch {
			if enc.Encode(rec) != nil {
				return
			}
			if rec.Type == TypeFinal {
				_ = rc.Flush()
				return
			}
		}
		if len(batch) > 0 && rc.Flush() != nil {
			return
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
	}
}
