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

// winSource samples a process with a Toolhelp32 thread snapshot and the
// TCP tables of GetExtendedTcpTable. Windows shows no thread's state or
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

func (s *winSource) read() ([]Thread, []Socket, bool, error) {
	threads, err := s.threads()
	if err != nil {
		return nil, nil, false, err
	}
	if len(threads) == 0 {
		return nil, nil, true, nil
	}
	var sockets []Socket
	for _, t := range []struct {
		af    uint32
		parse func([]byte, uint32) ([]Socket, error)
	}{{windows.AF_INET, parseTCPTable}, {windows.AF_INET6, parseTCP6Table}} {
		b, err := tcpTable(t.af)
		if err != nil {
			return nil, nil, false, err
		}
		k, err := t.parse(b, s.pid)
		if err != nil {
			return nil, nil, false, err
		}
		for _, sk := range k {
			if s.port == 0 || strings.HasSuffix(sk.Local, ":"+strconv.Itoa(int(s.port))) {
				sockets = append(sockets, sk)
			}
		}
	}
	return threads, sockets, false, nil
}

// threads lists the process's threads from a Toolhelp32 snapshot.
func (s *winSource) threads() ([]Thread, error) {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPTHREAD, 0)
	if err != nil {
		return nil, fmt.Errorf("toolhelp32 snapshot: %w", err)
	}
	defer windows.CloseHandle(snap)
	var out []Thread
	e := windows.ThreadEntry32{Size: uint32(unsafe.Sizeof(windows.ThreadEntry32{}))}
	for err = windows.Thread32First(snap, &e); err == nil; err = windows.Thread32Next(snap, &e) {
		if e.OwnerProcessID == s.pid {
			out = append(out, Thread{TID: int(e.ThreadID), FD: -1})
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
