package target

import (
	"fmt"
	"html"
	"strings"
)

// uiState is the application data the handlers show. It belongs to the UI
// thread: only functions run through uiThread.send touch it, except the
// immutable tables.
type uiState struct {
	lists map[string][]map[string]any
}

func newUIState() *uiState {
	return &uiState{lists: map[string][]map[string]any{
		"transfers": {
			{"hash": "31D6CFE0D16AE931B73C59D7E0C089C0", "name": "debian-13.2.0-amd64-netinst.iso", "size": 754974720, "progress": 0.42, "state": "downloading"},
			{"hash": "8F14E45FCEEA167A5A36DEDD4BEA2543", "name": "eMule0.70b-Sources.zip", "size": 5963776, "progress": 1.0, "state": "complete"},
		},
		"shared": {
			{"hash": "8F14E45FCEEA167A5A36DEDD4BEA2543", "name": "eMule0.70b-Sources.zip", "size": 5963776, "requests": 12},
		},
		"servers": {
			{"name": "eMule Security", "address": "127.0.0.1:4661", "users": 310455, "files": 51022314},
		},
	}}
}

// list returns a copy of a table's rows.
func (u *uiState) list(name string) []map[string]any {
	return append([]map[string]any(nil), u.lists[name]...)
}

// page renders a Web UI page's content.
func (u *uiState) page(w string) string {
	rows := u.lists[map[string]string{"transfer": "transfers", "shared": "shared", "server": "servers"}[w]]
	var b strings.Builder
	b.WriteString(`<table class="list">`)
	for _, r := range rows {
		fmt.Fprintf(&b, "<tr><td>%s</td></tr>", html.EscapeString(fmt.Sprint(r["name"])))
	}
	b.WriteString("</table>")
	return b.String()
}

// counters are the live statistics the REST API and the stream report.
// The fields are in the order encoding/json gives a map's keys, so the
// wire is as it was when this was a map.
type counters struct {
	Accepted    int64  `json:"accepted"`
	Lifecycle   string `json:"lifecycle"`
	OpenSockets int64  `json:"openSockets"`
	Served      int64  `json:"served"`
}

func (s *Server) counters() counters {
	return counters{Accepted: s.accepted.Load(), Served: s.served.Load(),
		OpenSockets: s.openSockets.Load(), Lifecycle: s.Lifecycle().String()}
}

// streamEvent is one message of the WebSocket stats stream: 1,500 streams
// send 30,000 a second, and a map each was a good part of the run's
// garbage.
type streamEvent struct {
	Data counters `json:"data"`
	Pad  string   `json:"pad,omitempty"`
	Seq  int      `json:"seq"`
	Type string   `json:"type"`
}

func (s *Server) streamEvent(seq int, pad string) streamEvent {
	return streamEvent{Type: "stats", Seq: seq, Data: s.counters(), Pad: pad}
}
