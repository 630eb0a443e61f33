package target

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// maxErrorBody bounds every error reply's body: an error names what went
// wrong in a few words and never repeats what the client sent.
const maxErrorBody = 512

// TestErrorsDoNotEchoInput sends hostile input down every error path of the
// request parser and the routes. Each reply must be a short 4xx whose head
// and body carry none of the raw input, not even quoted or escaped: the
// marker each input carries must not come back.
func TestErrorsDoNotEchoInput(t *testing.T) {
	const mark = "Zq7echo"
	long := strings.Repeat(mark, 2000) // 14 KB
	nuls := strings.Repeat("\x00", 10<<10)
	junk := strings.Repeat("\x01"+mark, 60<<10/8)
	key := "X-API-Key: " + DefaultAPIKey + "\r\n"
	cases := []struct {
		name, req string
		status    int
	}{
		{"NUL bytes", nuls + "\r\n\r\n", http.StatusBadRequest},
		{"NUL bytes then garbage lines", nuls + "\r\n" + mark + " garbage\r\n%%" + mark + "\r\n\r\n", http.StatusBadRequest},
		{"garbage request line", mark + nuls + " / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", http.StatusBadRequest},
		{"bad escape", "GET /api/v1/app%zz" + long + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + key + "\r\n", http.StatusBadRequest},
		{"60 KB junk header value", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Junk: " + junk + "\r\n\r\n", http.StatusBadRequest},
		{"junk header line", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + long + "\r\n\r\n", http.StatusBadRequest},
		{"bad content length", "POST /api/v1/searches HTTP/1.1\r\nHost: 127.0.0.1\r\n" + key + "Content-Length: " + mark + "\r\n\r\n", http.StatusBadRequest},
		{"unknown transfer encoding", "POST /api/v1/searches HTTP/1.1\r\nHost: 127.0.0.1\r\n" + key + "Transfer-Encoding: " + mark + "\r\n\r\n", http.StatusBadRequest},
		{"unknown web page", webGet("/"+long, false), http.StatusNotFound},
		{"unknown rest route", restGet("/api/v1/"+long, false), http.StatusNotFound},
		{"unclean rest path", restGet("/api/v1/./"+long, false), http.StatusNotFound},
		{"unclean web path", webGet("//"+long, false), http.StatusNotFound},
		{"unknown transfer", restGet("/api/v1/transfers/"+strings.Repeat("ab", 16)+long, false), http.StatusNotFound},
		{"long method on web page", request(mark+strings.Repeat("X", 10<<10), "/", "", false, ""), http.StatusMethodNotAllowed},
		{"long method on rest route", request(mark+strings.Repeat("X", 10<<10), "/api/v1/app", DefaultAPIKey, false, ""), http.StatusMethodNotAllowed},
		{"long method on the stream", request(mark+strings.Repeat("X", 10<<10), "/api/v1/events", DefaultAPIKey, false, ""), http.StatusMethodNotAllowed},
		{"wrong key", request("GET", "/api/v1/app", long, false, ""), http.StatusUnauthorized},
		{"unknown query parameter", restGet("/api/v1/app?"+long+"=1", false), http.StatusBadRequest},
		{"unknown body field", request("POST", "/api/v1/searches", DefaultAPIKey, false, `{"`+long+`":1}`), http.StatusBadRequest},
		{"body not an object", request("POST", "/api/v1/searches", DefaultAPIKey, false, `["`+long+`"]`), http.StatusBadRequest},
		{"bad link", request("POST", "/api/v1/transfers", DefaultAPIKey, false, `{"link":"`+long+`"}`), http.StatusBadRequest},
		{"empty query", request("POST", "/api/v1/searches", DefaultAPIKey, false, `{"query":"","type":"`+long+`"}`), http.StatusBadRequest},
		{"shutdown not confirmed", request("POST", "/api/v1/app/shutdown", DefaultAPIKey, false, `{"confirmShutdown":"`+long+`"}`), http.StatusBadRequest},
		{"slow page with a bad ms", webGet("/slow?ms="+long, false), http.StatusBadRequest},
		{"slow route with a bad ms", restGet("/api/v1/slow?ms="+long, false), http.StatusBadRequest},
		{"slow route with another parameter", restGet("/api/v1/slow?ms=1&"+long+"=1", false), http.StatusBadRequest},
		{"websocket without upgrade", request("GET", "/api/v1/events?"+long, DefaultAPIKey, false, ""), http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, Config{})
			c := dialClient(t, s.Addr())
			c.send(tc.req)
			resp, body, raw := c.response()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if len(body) > maxErrorBody {
				t.Errorf("error body of %d bytes, want at most %d: %.200q…", len(body), maxErrorBody, body)
			}
			for _, echo := range []string{mark, "\x00", `\x00`, `\u0000`, "%zz", "\x01", `\x01`, `\u0001`} {
				if bytes.Contains(raw, []byte(echo)) {
					t.Errorf("reply repeats the input (%q): %.300q…", echo, raw)
				}
			}
			checkClose(t, raw)
		})
	}
}
