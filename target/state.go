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
func (s *Server) counters() map[string]any {
	return map[string]any{"accepted": s.accepted.Load(), "served": s.served.Load(),
		"openSockets": s.openSockets.Load(), "lifecycle": s.Lifecycle().String()}
}

// streamEvent is one message of the WebSocket stats stream.
func (s *Server) streamEvent(seq int) map[string]any {
	return map[string]any{"type": "stats", "seq": seq, "data": s.counters()}
}
