//go:build linux

package main

import (
	"strings"
	"testing"
)

// nginx serves its clients in a worker, a child of the launched master:
// sampling the master's tree finds each client's socket in the worker,
// with the worker's pid, and server-closed-connections has the closes to
// judge. QUIT is nginx's graceful shutdown: the worker closes the idle
// keep-alive connections and, after the downloads, the others.
func TestExternalOSNginxWorker(t *testing.T) {
	args := append(append([]string{"--trigger", "signal:QUIT"}, nginxRoutes...), nginxServer(t, "")...)
	_, rep, checks, out := externalRun(t, args...)
	o, sides := osOf(t, rep)
	master := o["pid"].(float64)
	if o["processes"].(float64) < 2 {
		t.Errorf("os block %v: want the master and its worker followed", o)
	}
	workers := map[float64]bool{}
	for i, s := range sides {
		if s == nil || s["socket"] == "" || s["pid"] == nil {
			t.Errorf("client %d server side %v: want its socket, in a process", i+1, s)
			continue
		}
		workers[s["pid"].(float64)] = true
	}
	// worker_processes 1: every client in the same worker.
	if len(workers) != 1 || workers[master] {
		t.Errorf("clients' server processes %v, master %v: want the one worker", workers, master)
	}
	c := checks["server-closed-connections"]
	if d, _ := c["detail"].(string); c["status"] == "skip" && !strings.Contains(d, "cannot tell") || !strings.Contains(d, "4 client connections") {
		t.Errorf("server-closed-connections %v (%s): want the clients' connections judged", c["status"], d)
	}
	t.Logf("server-closed-connections: %v: %v", c["status"], c["detail"])
	if !strings.Contains(out, "and its descendants") {
		t.Errorf("the os samples line does not say the tree was followed:\n%s", out)
	}
}
