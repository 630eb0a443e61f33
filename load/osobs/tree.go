package osobs

import "slices"

// maxProcs bounds the processes one sample follows. A pre-fork server is
// a master and a worker or two per core; a tree larger than this is cut
// (the record says by how many), so that a server that forks a process
// per client cannot make each sample read thousands of them.
const maxProcs = 64

// descendants lists starts and every process below them, each once,
// breadth first: the launched process first, then its children, theirs,
// …, at most limit. kids lists a process's children. cut is how many
// processes were found beyond limit and left out; at least that many,
// since the processes beyond the limit are not asked for their children.
func descendants(starts []int, kids func(pid int) []int, limit int) (pids []int, cut int) {
	in := map[int]bool{}
	queue := slices.Clone(starts)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if in[p] {
			continue
		}
		in[p] = true
		if len(pids) == limit {
			cut++
			continue
		}
		pids = append(pids, p)
		queue = append(queue, kids(p)...)
	}
	return pids, cut
}
