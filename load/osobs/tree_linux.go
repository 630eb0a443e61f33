//go:build linux

package osobs

import (
	"bytes"
	"slices"
	"strconv"
)

// procTree finds a process's descendants afresh at each sample: a
// pre-fork server (nginx: a master and its workers) serves its clients in
// processes it started, not in the one the tool launched.
type procTree struct {
	proc string // where /proc is mounted (a fake tree in tests)
	root int
	// children: the kernel lists each thread's children in
	// /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN), so a walk
	// reads a file per thread of the tree; without it, a walk reads the
	// stat file of every process on the host for its parent.
	children bool
	// seen are the processes the last walk found, by pid, with their
	// start time: a worker whose parent exited is reparented (to init,
	// or a subreaper) and followed still, and a pid reused by another
	// process is not (its start time differs). nil before the first
	// walk.
	seen map[int]uint64
	buf  []byte
}

func newProcTree(proc string, root int) *procTree {
	t := &procTree{proc: proc, root: root, buf: make([]byte, 64<<10)}
	dir := proc + "/" + strconv.Itoa(root)
	_, t.children = readSmall(dir+"/task/"+strconv.Itoa(root)+"/children", t.buf)
	return t
}

// walk lists the launched process and its descendants now, the launched
// one first; cut is how many were left out past maxProcs.
func (t *procTree) walk() (pids []int, cut int) {
	kids, start := t.childrenOf, t.startOf
	if !t.children {
		stats := t.scan()
		byParent := map[int][]int{}
		for pid, st := range stats {
			byParent[st.ppid] = append(byParent[st.ppid], pid)
		}
		for _, c := range byParent {
			slices.Sort(c) // the directory's order is not the creation order
		}
		kids = func(pid int) []int { return byParent[pid] }
		start = func(pid int) (uint64, bool) { st, ok := stats[pid]; return st.start, ok }
	}
	starts := []int{t.root}
	if t.seen != nil {
		starts = starts[:0]
		for _, pid := range t.seenOrder() {
			if st, ok := start(pid); ok && st == t.seen[pid] {
				starts = append(starts, pid)
			}
		}
	}
	pids, cut = descendants(starts, kids, maxProcs)
	seen := make(map[int]uint64, len(pids))
	for _, pid := range pids {
		if st, ok := start(pid); ok {
			seen[pid] = st
		}
	}
	t.seen = seen
	return pids, cut
}

// seenOrder is the processes seen before, the launched one first.
func (t *procTree) seenOrder() []int {
	out := make([]int, 0, len(t.seen))
	for pid := range t.seen {
		if pid != t.root {
			out = append(out, pid)
		}
	}
	slices.Sort(out)
	if _, ok := t.seen[t.root]; ok {
		out = append([]int{t.root}, out...)
	}
	return out
}

// childrenOf reads the children of each of pid's threads.
func (t *procTree) childrenOf(pid int) []int {
	dir := t.proc + "/" + strconv.Itoa(pid) + "/task/"
	tids, err := readNames(dir)
	if err != nil {
		return nil
	}
	var out []int
	for _, tid := range tids {
		b, ok := readSmall(dir+tid+"/children", t.buf)
		if !ok {
			continue
		}
		for _, f := range bytes.Fields(b) {
			if c, err := strconv.Atoi(string(f)); err == nil {
				out = append(out, c)
			}
		}
	}
	slices.Sort(out)
	return out
}

// startOf reads one process's start time.
func (t *procTree) startOf(pid int) (uint64, bool) {
	b, ok := readSmall(t.proc+"/"+strconv.Itoa(pid)+"/stat", t.buf)
	if !ok {
		return 0, false
	}
	st, ok := parseStat(b)
	return st.start, ok
}

// procStat is what a walk needs of /proc/PID/stat.
type procStat struct {
	ppid  int
	start uint64 // clock ticks after boot
}

// scan reads the parent and start time of every process on the host.
func (t *procTree) scan() map[int]procStat {
	names, err := readNames(t.proc)
	if err != nil {
		return nil
	}
	out := make(map[int]procStat, len(names))
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue // not a process: self, net, …
		}
		if b, ok := readSmall(t.proc+"/"+n+"/stat", t.buf); ok {
			if st, ok := parseStat(b); ok {
				out[pid] = st
			}
		}
	}
	return out
}

// parseStat reads the parent (the 4th field) and the start time (the
// 22nd) of /proc/PID/stat. The command name (the 2nd) may hold spaces and
// parentheses: the fields are counted after its last ')'.
func parseStat(b []byte) (procStat, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 {
		return procStat{}, false
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	start, err2 := strconv.ParseUint(string(f[19]), 10, 64)
	if err1 != nil || err2 != nil {
		return procStat{}, false
	}
	return procStat{ppid: ppid, start: start}, true
}
