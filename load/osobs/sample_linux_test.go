//go:build linux

package osobs

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"shutdowntest/internal/await"
	"shutdowntest/internal/tpcserver"
)

// buildTPC builds the thread-per-connection test server.
func buildTPC(t testing.TB) string { return tpcserver.Build(t) }

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// startTPC starts the server in mode and waits until it accepts.
func startTPC(t testing.TB, bin, mode string) (*exec.Cmd, string) {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(bin, "127.0.0.1", port, mode)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := "127.0.0.1:" + port
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return cmd, addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("tpc never listened on %s: %v", addr, err)
		}
		<-time.After(10 * time.Millisecond)
	}
}

func portOf(t testing.TB, addr string) uint16 {
	_, p, _ := net.SplitHostPort(addr)
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	return uint16(n)
}

func since(origin time.Time) func(time.Time) time.Duration {
	return func(t time.Time) time.Duration { return t.Sub(origin) }
}

// waitFor waits, at most 10 s, for cond.
func waitFor(t *testing.T, what string, cond func() bool) { await.Until(t, 10*time.Second, what, cond) }

func TestThreadPerConnectionServerMatched(t *testing.T) {
	bin := buildTPC(t)
	cmd, addr := startTPC(t, bin, "clean")
	s, err := Start(cmd.Process.Pid, portOf(t, addr), since(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	var conns []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	// Every connection gets a thread blocked in read on its descriptor.
	waitFor(t, "a thread blocked on each connection", func() bool {
		smp := s.Latest()
		rec := Record{Samples: []Sample{smp}}
		for _, c := range conns {
			if rec.Conn(c.LocalAddr().String()).Thread == 0 {
				return false
			}
		}
		return true
	})
	s.Drain()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("tpc clean: %v", err)
	}
	rec := s.Stop()
	if !rec.HasGone || rec.Interval < drainEvery || rec.Taken < 3 {
		t.Fatalf("record: gone %v, interval %v, taken %d", rec.HasGone, rec.Interval, rec.Taken)
	}
	t.Logf("taken %d, mean cost %v, interval %v, method %s", rec.Taken, rec.MeanCost(), rec.Interval, rec.Method)
	tids := map[int]bool{}
	for _, c := range conns {
		cn := rec.Conn(c.LocalAddr().String())
		if cn.States[0].State != StateEstablished || cn.Thread == 0 || !strings.HasPrefix(cn.BlockedIn, "read") {
			t.Fatalf("conn %s: %+v", c.LocalAddr(), cn)
		}
		// The clean server closes every connection 1 s before it
		// exits: a sample sees each leave ESTABLISHED while it lives.
		if !cn.Closed || !cn.ClosedAlive {
			t.Fatalf("conn %s not seen closed while the process lived: %+v", c.LocalAddr(), cn)
		}
		tids[cn.Thread] = true
	}
	if len(tids) != 3 {
		t.Fatalf("threads %v: want one per connection", tids)
	}
}

func TestGoneProcess(t *testing.T) {
	bin := buildTPC(t)
	cmd, _ := startTPC(t, bin, "kernel")
	s, err := Start(cmd.Process.Pid, 0, since(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	rec := s.Stop()
	if !rec.HasGone || !rec.Samples[len(rec.Samples)-1].Gone || !rec.Samples[0].Listening() {
		t.Fatalf("want a listening baseline and a gone last sample: %+v", rec)
	}
	if _, err := Start(cmd.Process.Pid, 0, since(time.Now())); err == nil {
		t.Fatal("Start on an exited process: want an error")
	}
}
