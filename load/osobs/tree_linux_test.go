//go:build linux

package osobs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fakeProc is a /proc with processes (pid → parent, start time) whose
// names hold spaces and parentheses, as a command's may; with children,
// each process's children are also listed where the kernel lists them,
// spread over its threads.
type fakeProc struct {
	t        *testing.T
	dir      string
	children bool
}

func newFakeProc(t *testing.T, children bool) *fakeProc {
	return &fakeProc{t: t, dir: t.TempDir(), children: children}
}

// set rewrites the fake /proc to hold exactly procs: pid → {ppid, start}.
func (f *fakeProc) set(procs map[int][2]int) {
	f.t.Helper()
	names, _ := os.ReadDir(f.dir)
	for _, n := range names {
		if err := os.RemoveAll(filepath.Join(f.dir, n.Name())); err != nil {
			f.t.Fatal(err)
		}
	}
	kids := map[int][]string{}
	for pid, p := range procs {
		kids[p[0]] = append(kids[p[0]], strconv.Itoa(pid))
	}
	write := func(path, text string) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			f.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			f.t.Fatal(err)
		}
	}
	for pid, p := range procs {
		dir := filepath.Join(f.dir, strconv.Itoa(pid))
		// Fields 3 to 22: state, ppid, 17 others, start time.
		write(dir+"/stat", fmt.Sprintf("%d (a) b (c) S %d %s %d 0 0\n", pid, p[0], strings.Repeat("0 ", 17), p[1]))
		if !f.children {
			continue
		}
		// The first thread forked half the children, a second thread
		// the rest.
		k := kids[pid]
		slices.Sort(k)
		half := len(k) / 2
		write(fmt.Sprintf("%s/task/%d/children", dir, pid), strings.Join(k[:half], " ")+" ")
		write(fmt.Sprintf("%s/task/%d/children", dir, pid+100000), strings.Join(k[half:], " ")+" ")
	}
	write(f.dir+"/self/stat", "not a process\n")
}

func TestProcTreeWalk(t *testing.T) {
	for _, children := range []bool{true, false} {
		t.Run(fmt.Sprintf("children=%v", children), func(t *testing.T) {
			f := newFakeProc(t, children)
			// 10 is the launched master with workers 11 and 12; 12 has
			// a helper 13; 20 and its child 21 are another server.
			f.set(map[int][2]int{1: {0, 1}, 10: {1, 50}, 11: {10, 51}, 12: {10, 52}, 13: {12, 53}, 20: {1, 60}, 21: {20, 61}})
			tree := newProcTree(f.dir, 10)
			if tree.children != children {
				t.Fatalf("children files found: %v, want %v", tree.children, children)
			}
			pids, cut := tree.walk()
			if want := []int{10, 11, 12, 13}; !slices.Equal(pids, want) || cut != 0 {
				t.Fatalf("walk: %v cut %d, want %v cut 0", pids, cut, want)
			}
			// The master exits: its workers are reparented to init and
			// still followed; 13 exits and its pid goes to an unrelated
			// process (another start time), which is not; a new worker
			// of 12 is found.
			f.set(map[int][2]int{1: {0, 1}, 11: {1, 51}, 12: {1, 52}, 13: {1, 90}, 14: {12, 91}, 20: {1, 60}, 21: {20, 61}})
			if pids, _ := tree.walk(); !slices.Equal(pids, []int{11, 12, 14}) {
				t.Fatalf("after the master's exit: %v, want [11 12 14]", pids)
			}
			// A pid of the master reused by another process is not the
			// master.
			f.set(map[int][2]int{1: {0, 1}, 10: {1, 99}, 12: {1, 52}})
			if pids, _ := tree.walk(); !slices.Equal(pids, []int{12}) {
				t.Fatalf("after a reuse: %v, want [12]", pids)
			}
			f.set(map[int][2]int{1: {0, 1}})
			if pids, _ := tree.walk(); len(pids) != 0 {
				t.Fatalf("every process gone: %v, want none", pids)
			}
		})
	}
}

// A tree wider than maxProcs is cut, and the walk says by how many.
func TestProcTreeCut(t *testing.T) {
	procs := map[int][2]int{1: {0, 1}, 10: {1, 5}}
	for i := range maxProcs + 6 {
		procs[100+i] = [2]int{10, 6}
	}
	f := newFakeProc(t, false)
	f.set(procs)
	pids, cut := newProcTree(f.dir, 10).walk()
	if len(pids) != maxProcs || pids[0] != 10 || cut != 7 {
		t.Fatalf("%d processes (first %v), cut %d: want %d, the master first, 7 cut", len(pids), pids[:1], cut, maxProcs)
	}
}

func TestParseStat(t *testing.T) {
	for _, c := range []struct {
		in   string
		want procStat
		ok   bool
	}{
		{"7 (nginx) S 6 7 7 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 713555 3133440 414", procStat{ppid: 6, start: 713555}, true},
		{"7 (a) b) R 1 7 7 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 42 0 0", procStat{ppid: 1, start: 42}, true},
		{"7 (short) S 1 2 3", procStat{}, false},
		{"no parenthesis", procStat{}, false},
	} {
		if got, ok := parseStat([]byte(c.in)); got != c.want || ok != c.ok {
			t.Errorf("parseStat(%q) = %+v, %v; want %+v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// BenchmarkWalk is one walk of this process's tree on this host's /proc,
// both ways: by the children files (a file per thread of the tree) and by
// a scan of every process's stat (a file per process of the host).
func BenchmarkWalk(b *testing.B) {
	tree := newProcTree("/proc", os.Getpid())
	b.Run("scan", func(b *testing.B) {
		tree.children, tree.seen = false, nil
		for b.Loop() {
			tree.walk()
		}
	})
	if !newProcTree("/proc", os.Getpid()).children {
		b.Log("no /proc/PID/task/TID/children here (CONFIG_PROC_CHILDREN): only the scan measured")
		return
	}
	b.Run("children", func(b *testing.B) {
		tree.children, tree.seen = true, nil
		for b.Loop() {
			tree.walk()
		}
	})
}
