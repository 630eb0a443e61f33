//go:build windows

package osobs

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
)

// winSource samples a process and its descendants (found by the parent
// ids of a Toolhelp32 process snapshot) with a Toolhelp32 thread snapshot
// and the TCP tables of GetExtendedTcpTable. Windows shows no thread's state or
// wait here, and no descriptor per connection: threads count, and
// connections are matched to clients by their addresses.
type winSource struct {
	pid  uint32
	port uint16
}

var (
	iphlpapi                = windows.NewLazySystemDLL("iphlpapi.dll")
	procGetExtendedTcpTable = iphlpapi.NewProc("GetExtendedTcpTable")
)

// tcpTableOwnerPIDAll is TCP_TABLE_OWNER_PID_ALL: every connection and
// listener, with its owning process.
const tcpTableOwnerPIDAll = 5

func open(pid int, port uint16) (source, error) {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	windows.CloseHandle(h)
	return &winSource{pid: uint32(pid), port: port}, nil
}

func (s *winSource) method() string { return "GetExtendedTcpTable" }

func (s *winSource) read() (reading, error) {
	pids, cut, err := s.tree()
	if err != nil {
		return reading{}, err
	}
	threads, err := threadsOf(pids)
	if err != nil {
		return reading{}, err
	}
	r := reading{threads: threads, cut: cut}
	alive := map[int]bool{}
	for _, t := range threads {
		alive[t.PID] = true
	}
	r.procs = len(alive)
	if r.procs == 0 {
		r.gone = true
		return r, nil
	}
	for _, t := range []struct {
		af    uint32
		parse func([]byte, map[uint32]bool) ([]Socket, error)
	}{{windows.AF_INET, parseTCPTable}, {windows.AF_INET6, parseTCP6Table}} {
		b, err := tcpTable(t.af)
		if err != nil {
			return reading{}, err
		}
		k, err := t.parse(b, pids)
		if err != nil {
			return reading{}, err
		}
		for _, sk := range k {
			if s.port == 0 || strings.HasSuffix(sk.Local, ":"+strconv.Itoa(int(s.port))) {
				r.sockets = append(r.sockets, sk)
			}
		}
	}
	return r, nil
}

// tree finds the process and its descendants in a Toolhelp32 process
// snapshot. Windows does not reparent a process whose parent exited: its
// parent id still names the launched process, so the walk from there
// finds it as long as that id is not reused.
func (s *winSource) tree() (map[uint32]bool, int, error) {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("toolhelp32 snapshot: %w", err)
	}
	defer windows.CloseHandle(snap)
	kids := map[int][]int{}
	e := windows.ProcessEntry32{Size: uint32(unsafe.Sizeof(windows.ProcessEntry32{}))}
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		// The idle process (0) is its own parent.
		if e.ProcessID != e.ParentProcessID {
			kids[int(e.ParentProcessID)] = append(kids[int(e.ParentProcessID)], int(e.ProcessID))
		}
	}
	if !errors.Is(err, windows.ERROR_NO_MORE_FILES) {
		return nil, 0, fmt.Errorf("toolhelp32 processes: %w", err)
	}
	pids, cut := descendants([]int{int(s.pid)}, func(p int) []int { return kids[p] }, maxProcs)
	out := make(map[uint32]bool, len(pids))
	for _, p := range pids {
		out[uint32(p)] = true
	}
	return out, cut, nil
}

// threadsOf lists the threads of the processes pids from a Toolhelp32
// snapshot.
func threadsOf(pids map[uint32]bool) ([]Thread, error) {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPTHREAD, 0)
	if err != nil {
		return nil, fmt.Errorf("toolhelp32 snapshot: %w", err)
	}
	defer windows.CloseHandle(snap)
	var out []Thread
	e := windows.ThreadEntry32{Size: uint32(unsafe.Sizeof(windows.ThreadEntry32{}))}
	for err = windows.Thread32First(snap, &e); err == nil; err = windows.Thread32Next(snap, &e) {
		if pids[e.OwnerProcessID] {
			out = append(out, Thread{PID: int(e.OwnerProcessID), TID: int(e.ThreadID), FD: -1})
		}
	}
	if !errors.Is(err, windows.ERROR_NO_MORE_FILES) {
		return nil, fmt.Errorf("toolhelp32 threads: %w", err)
	}
	return out, nil
}

// tcpTable calls GetExtendedTcpTable for family af, growing the buffer as
// it asks (the table can grow between the two calls).
func tcpTable(af uint32) ([]byte, error) {
	size := uint32(4096)
	for range 4 {
		b := make([]byte, size)
		r, _, _ := procGetExtendedTcpTable.Call(uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&size)),
			0, uintptr(af), tcpTableOwnerPIDAll, 0)
		switch windows.Errno(r) {
		case 0:
			return b[:size], nil
		case windows.ERROR_INSUFFICIENT_BUFFER:
			continue
		default:
			return nil, fmt.Errorf("GetExtendedTcpTable: %w", windows.Errno(r))
		}
	}
	return nil, errors.New("GetExtendedTcpTable: the table kept growing")
}
