package osobs

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// The layouts GetExtendedTcpTable fills with TCP_TABLE_OWNER_PID_ALL
// (iphlpapi's tcpmib.h): a DWORD count, then rows. MIB_TCPROW_OWNER_PID is
// six DWORDs: state, local address, local port, remote address, remote
// port, owning pid; MIB_TCP6ROW_OWNER_PID is local address (16 bytes),
// scope, port, remote address (16), scope, port, state, pid. Addresses
// are in network order; a port is in network order in its DWORD's low two
// bytes. The parsers are here, without a build tag, so that they are
// tested on any system from fixed buffers.
const (
	tcpRowLen  = 24
	tcp6RowLen = 56
)

// winTCPStates are MIB_TCP_STATE's values, named as on Linux.
var winTCPStates = [...]string{1: "CLOSE", 2: StateListen, 3: "SYN_SENT", 4: "SYN_RECV", 5: StateEstablished,
	6: "FIN_WAIT1", 7: "FIN_WAIT2", 8: "CLOSE_WAIT", 9: "CLOSING", 10: "LAST_ACK", 11: "TIME_WAIT", 12: "DELETE_TCB"}

func winTCPState(n uint32) string {
	if n > 0 && int(n) < len(winTCPStates) {
		return winTCPStates[n]
	}
	return fmt.Sprintf("state %d", n)
}

// parseTCPTable reads a MIB_TCPTABLE_OWNER_PID and returns the sockets of
// the processes in pids.
func parseTCPTable(b []byte, pids map[uint32]bool) ([]Socket, error) {
	rows, err := tableRows(b, tcpRowLen)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	var out []Socket
	for _, r := range rows {
		pid := le.Uint32(r[20:])
		if !pids[pid] {
			continue
		}
		addr := func(ip, port []byte) string {
			return netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip)), binary.BigEndian.Uint16(port)).String()
		}
		out = append(out, Socket{PID: int(pid), FD: -1, TCPState: winTCPState(le.Uint32(r[0:])),
			Local: addr(r[4:8], r[8:10]), Peer: addr(r[12:16], r[16:18])})
	}
	return out, nil
}

// parseTCP6Table reads a MIB_TCP6TABLE_OWNER_PID and returns the sockets
// of the processes in pids.
func parseTCP6Table(b []byte, pids map[uint32]bool) ([]Socket, error) {
	rows, err := tableRows(b, tcp6RowLen)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	var out []Socket
	for _, r := range rows {
		pid := le.Uint32(r[52:])
		if !pids[pid] {
			continue
		}
		addr := func(ip, port []byte) string {
			return netip.AddrPortFrom(netip.AddrFrom16([16]byte(ip)), binary.BigEndian.Uint16(port)).String()
		}
		out = append(out, Socket{PID: int(pid), FD: -1, TCPState: winTCPState(le.Uint32(r[48:])),
			Local: addr(r[0:16], r[20:22]), Peer: addr(r[24:40], r[44:46])})
	}
	return out, nil
}

// tableRows splits a table after its DWORD count into rows of n bytes.
func tableRows(b []byte, n int) ([][]byte, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("tcp table: %d bytes, want at least 4", len(b))
	}
	count := int(binary.LittleEndian.Uint32(b))
	if count > (len(b)-4)/n {
		return nil, fmt.Errorf("tcp table: %d rows of %d bytes do not fit in %d bytes", count, n, len(b))
	}
	rows := make([][]byte, count)
	for i := range rows {
		rows[i] = b[4+i*n : 4+(i+1)*n]
	}
	return rows, nil
}
