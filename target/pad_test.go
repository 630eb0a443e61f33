package target

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestPadFor(t *testing.T) {
	for _, tc := range []struct {
		query string
		pad   int
		ok    bool
	}{
		{"", 0, true},
		{"pad=0", 0, true},
		{"pad=1000", 1000, true},
		{"pad=1048576", maxPad, true},
		{"pad=1048577", 0, false},
		{"pad=99999999999", 0, false},
		{"pad=-1", 0, false},
		{"pad=%2B1", 0, false},
		{"pad=", 0, false},
		{"pad=x", 0, false},
		{"pad=1&pad=1", 0, false},
		{"pad=1&ms=1", 0, false},
		{"ms=1", 0, false},
		{"pad", 0, false},
		{"pad=1;", 0, false},
		{"pad=%zz", 0, false},
	} {
		if pad, ok := padFor(tc.query); pad != tc.pad || ok != tc.ok {
			t.Errorf("padFor(%q) = %d, %v; want %d, %v", tc.query, pad, ok, tc.pad, tc.ok)
		}
	}
}

// TestStreamPad: each message of a stream opened with pad=N carries N
// filler bytes; a bad pad is refused before the upgrade, with the REST
// envelope in fixed words.
func TestStreamPad(t *testing.T) {
	s := startServer(t, Config{StreamEvery: 10 * time.Millisecond})
	d := websocket.Dialer{HandshakeTimeout: clientIO}
	key := http.Header{"X-API-Key": {DefaultAPIKey}}

	const pad = 70_000 // over gorilla's 4 KiB frame buffer
	ws, resp, err := d.Dial("ws://"+s.Addr()+"/api/v1/events?pad="+strconv.Itoa(pad), key)
	if err != nil {
		t.Fatalf("dial websocket: %v", err)
	}
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = ws.Close() })
	_ = ws.SetReadDeadline(time.Now().Add(clientIO))
	for range 2 {
		var ev struct {
			Type string `json:"type"`
			Pad  string `json:"pad"`
		}
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if err := json.Unmarshal(msg, &ev); err != nil || ev.Type != "stats" || ev.Pad != strings.Repeat("x", pad) {
			t.Fatalf("message of %d bytes: type %q, pad of %d bytes, %v; want stats with %d", len(msg), ev.Type, len(ev.Pad), err, pad)
		}
	}

	const mark = "Zq7echo"
	for _, q := range []string{"pad=" + mark, "pad=1048577", "pad=1&" + mark + "=1"} {
		_, resp, err := d.Dial("ws://"+s.Addr()+"/api/v1/events?"+q, key)
		if err == nil || resp == nil {
			t.Fatalf("%s: dial err %v, resp %v; want a refusal", q, err, resp)
		}
		var env struct {
			Error struct{ Code, Message string }
		}
		err = json.NewDecoder(resp.Body).Decode(&env)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || err != nil || env.Error.Code != "INVALID_ARGUMENT" || env.Error.Message != padError {
			t.Errorf("%s: %d %+v (%v); want 400 INVALID_ARGUMENT %q", q, resp.StatusCode, env, err, padError)
		}
	}
}
