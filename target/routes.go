package target

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// router holds the modelled routes: the legacy Web UI on "/", the native
// REST API under /api/v1 and the one WebSocket route this model adds,
// /api/v1/events.
//
// No error reply repeats what the client sent, not even quoted or
// escaped: a path, method, parameter or field name can be as long as the
// request limits allow, so an error names what was wrong in fixed words.
type router struct {
	s  *Server
	up websocket.Upgrader
}

func newRouter(s *Server) *router {
	r := &router{s: s}
	// ReadBufferSize 0 makes gorilla reuse the hijacked reader; see Hijack.
	// A stream's write buffer is held only while a message is written.
	r.up = websocket.Upgrader{HandshakeTimeout: s.cfg.IOTimeout, WriteBufferPool: &wsWriteBufs,
		CheckOrigin: func(*http.Request) bool { return true }}
	return r
}

// ServeHTTP dispatches on the path as sent. It does not clean the path the
// way http.ServeMux does: the mux's redirect to the cleaned path repeats
// the client's path in its Location header and its body.
func (r *router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if strings.HasPrefix(req.URL.Path, "/api/v1/") {
		r.rest(w, req)
		return
	}
	r.webUI(w, req)
}

// webPages are the legacy Web UI pages a session can open.
var webPages = map[string]string{
	"server": "Servers", "shared": "Shared Files", "transfer": "Transfers", "search": "Search",
	"graphs": "Statistics Graphs", "log": "Log", "sinfo": "Server Info", "debuglog": "Debug Log",
	"myinfo": "My Info", "stats": "Statistics", "kad": "Kad", "options": "Preferences",
}

func (r *router) webUI(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Content-Type", "text/html")
	if req.URL.Path != "/" && req.URL.Path != "/slow" {
		writePage(w, http.StatusNotFound, "Not Found", "<p>No such page.</p>")
		return
	}
	if req.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writePage(w, http.StatusMethodNotAllowed, "Method Not Allowed", "")
		return
	}
	if r.s.Lifecycle() >= ShuttingDown {
		writePage(w, http.StatusServiceUnavailable, "eMule is shutting down", "<p>eMule is shutting down.</p>")
		return
	}
	if req.URL.Path == "/slow" {
		r.slowPage(w, req)
		return
	}
	q := req.URL.Query()
	var title, content string
	ok := r.s.ui.send(req, 0, func() {
		switch {
		case q.Get("w") == "password" && q.Get("p") == r.s.cfg.Password:
			title = "Welcome"
			content = fmt.Sprintf(`<p>Logged in.</p><a id="session" href="/?ses=%s&amp;w=transfer">%s</a>`,
				DefaultSession, DefaultSession)
		case q.Get("ses") == DefaultSession && webPages[q.Get("w")] != "":
			title = webPages[q.Get("w")]
			content = r.s.stats.page(q.Get("w"))
		default:
			title = "Login"
			content = `<form action="/" method="get"><input type="hidden" name="w" value="password"><input type="password" name="p"></form>`
		}
	})
	if !ok {
		writePage(w, http.StatusServiceUnavailable, "eMule is shutting down", "")
		return
	}
	writePage(w, http.StatusOK, title, content)
}

// maxSlow bounds the slow routes' ms: long enough for any shutdown
// budget, short enough that a typo cannot park a thread for hours.
const maxSlow = 60 * time.Second

// slowError is the slow routes' complaint about ms, in fixed words.
var slowError = fmt.Sprintf("ms must be one whole number of milliseconds from 0 to %d, and the only parameter", maxSlow.Milliseconds())

// slowFor reads the slow routes' query: exactly one parameter, ms, a
// whole number of milliseconds up to maxSlow.
func slowFor(rawQuery string) (time.Duration, bool) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil || len(q) != 1 || len(q["ms"]) != 1 {
		return 0, false
	}
	n, err := strconv.ParseUint(q["ms"][0], 10, 32)
	if err != nil || time.Duration(n)*time.Millisecond > maxSlow {
		return 0, false
	}
	return time.Duration(n) * time.Millisecond, true
}

// slowPage is GET /slow?ms=N, a Web UI page whose handler blocks in
// SendMessage for N ms: the thread sits in process, as a real handler
// does while the UI thread is busy. No session is needed: it is there
// for in-flight test clients.
func (r *router) slowPage(w http.ResponseWriter, req *http.Request) {
	d, ok := slowFor(req.URL.RawQuery)
	if !ok {
		writePage(w, http.StatusBadRequest, "Bad Request", "<p>"+html.EscapeString(slowError)+"</p>")
		return
	}
	if !r.s.ui.send(req, d, func() {}) {
		writePage(w, http.StatusServiceUnavailable, "eMule is shutting down", "")
		return
	}
	writePage(w, http.StatusOK, "Slow", fmt.Sprintf("<p>Answered after %d ms.</p>", d.Milliseconds()))
}

func writePage(w http.ResponseWriter, status int, title, content string) {
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><title>eMule Web Control Panel - %s</title></head><body><h1>%s</h1>%s</body></html>\n",
		html.EscapeString(title), html.EscapeString(title), content)
}

// restRoute is one REST path: the methods it takes and what it does.
type restRoute struct {
	pattern *regexp.Regexp
	methods map[string]restHandler
}

var restRoutes = []restRoute{
	{regexp.MustCompile(`^/app$`), map[string]restHandler{http.MethodGet: getApp}},
	{regexp.MustCompile(`^/status$`), map[string]restHandler{http.MethodGet: getStatus}},
	{regexp.MustCompile(`^/stats$`), map[string]restHandler{http.MethodGet: getStats}},
	{regexp.MustCompile(`^/transfers$`), map[string]restHandler{http.MethodGet: listOf("transfers"), http.MethodPost: postTransfer}},
	{regexp.MustCompile(`^/transfers/([0-9A-Fa-f]{32})$`), map[string]restHandler{http.MethodGet: getTransfer}},
	{regexp.MustCompile(`^/shared-files$`), map[string]restHandler{http.MethodGet: listOf("shared")}},
	{regexp.MustCompile(`^/servers$`), map[string]restHandler{http.MethodGet: listOf("servers")}},
	{regexp.MustCompile(`^/kad$`), map[string]restHandler{http.MethodGet: getKad}},
	{regexp.MustCompile(`^/searches$`), map[string]restHandler{http.MethodPost: postSearch}},
	{regexp.MustCompile(`^/app/shutdown$`), map[string]restHandler{http.MethodPost: postShutdown}},
	{regexp.MustCompile(`^/slow$`), map[string]restHandler{http.MethodGet: getSlow}},
}

type restHandler = func(r *router, req *http.Request, body map[string]any, m []string) (int, any)

// apiError is the REST error envelope's inner object.
type apiError struct {
	status  int
	code    string
	message string
}

func (r *router) rest(w http.ResponseWriter, req *http.Request) {
	// The key is checked before routing, as in eMule's REST layer.
	if req.Header.Get("X-API-Key") != r.s.cfg.APIKey {
		writeError(w, apiError{http.StatusUnauthorized, "UNAUTHORIZED", "missing or invalid X-API-Key"})
		return
	}
	path := strings.TrimPrefix(req.URL.Path, "/api/v1")
	if path == "/events" {
		r.events(w, req)
		return
	}
	var route *restRoute
	var match []string
	for i := range restRoutes {
		if m := restRoutes[i].pattern.FindStringSubmatch(path); m != nil {
			route, match = &restRoutes[i], m
			break
		}
	}
	if route == nil {
		writeError(w, apiError{http.StatusNotFound, "NOT_FOUND", "no such route"})
		return
	}
	h := route.methods[req.Method]
	if h == nil {
		allow := make([]string, 0, len(route.methods))
		for m := range route.methods {
			allow = append(allow, m)
		}
		sort.Strings(allow)
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, apiError{http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "method not allowed"})
		return
	}
	// Only the slow route takes a query parameter: how long the UI thread
	// keeps the request.
	var slow time.Duration
	if path == "/slow" {
		d, ok := slowFor(req.URL.RawQuery)
		if !ok {
			writeError(w, apiError{http.StatusBadRequest, "INVALID_ARGUMENT", slowError})
			return
		}
		slow = d
	} else if req.URL.RawQuery != "" {
		writeError(w, apiError{http.StatusBadRequest, "INVALID_ARGUMENT", "unknown query parameters"})
		return
	}
	body, aerr := decodeBody(req)
	if aerr != nil {
		writeError(w, *aerr)
		return
	}
	if r.s.Lifecycle() >= ShuttingDown {
		writeError(w, apiError{http.StatusServiceUnavailable, "EMULE_UNAVAILABLE", "shutting down"})
		return
	}
	var status int
	var data any
	if !r.s.ui.send(req, slow, func() { status, data = h(r, req, body, match) }) {
		writeError(w, apiError{http.StatusServiceUnavailable, "EMULE_UNAVAILABLE", "shutting down"})
		return
	}
	if e, ok := data.(apiError); ok {
		writeError(w, e)
		return
	}
	writeJSON(w, status, map[string]any{"data": data,
		"meta": map[string]any{"apiVersion": "v1", "generatedAt": time.Now().UTC().Format(time.RFC3339Nano)}})
}

// decodeBody enforces the contract: POST and PATCH bodies are one JSON
// object of valid UTF-8; other methods take none.
func decodeBody(req *http.Request) (map[string]any, *apiError) {
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(req.Body)
	raw := buf.Bytes()
	if req.Method != http.MethodPost && req.Method != http.MethodPatch {
		if len(raw) > 0 {
			return nil, &apiError{http.StatusBadRequest, "INVALID_ARGUMENT", "this method takes no body"}
		}
		return nil, nil
	}
	if !utf8.Valid(raw) {
		return nil, &apiError{http.StatusBadRequest, "INVALID_ARGUMENT", "body is not valid UTF-8"}
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil || body == nil {
		return nil, &apiError{http.StatusBadRequest, "INVALID_ARGUMENT", "body must be a JSON object"}
	}
	return body, nil
}

func writeError(w http.ResponseWriter, e apiError) {
	writeJSON(w, e.status, map[string]any{"error": map[string]any{"code": e.code, "message": e.message, "details": map[string]any{}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// onlyFields rejects unknown fields in a request body.
func onlyFields(body map[string]any, allowed ...string) *apiError {
	for k := range body {
		found := false
		for _, a := range allowed {
			found = found || k == a
		}
		if !found {
			return &apiError{http.StatusBadRequest, "INVALID_ARGUMENT", "unknown field in body"}
		}
	}
	return nil
}

func getApp(r *router, _ *http.Request, _ map[string]any, _ []string) (int, any) {
	return http.StatusOK, map[string]any{"name": "eMuleBB", "version": "0.7.3", "lifecycle": r.s.Lifecycle().String()}
}

func getStatus(r *router, _ *http.Request, _ map[string]any, _ []string) (int, any) {
	return http.StatusOK, map[string]any{"lifecycle": r.s.Lifecycle().String(), "connected": true,
		"uptimeMs": r.s.Now().Milliseconds()}
}

func getStats(r *router, _ *http.Request, _ map[string]any, _ []string) (int, any) {
	return http.StatusOK, r.s.counters()
}

func getKad(r *router, _ *http.Request, _ map[string]any, _ []string) (int, any) {
	return http.StatusOK, map[string]any{"connected": true, "firewalled": false, "users": 4211337, "files": 120045622}
}

func listOf(name string) restHandler {
	return func(r *router, _ *http.Request, _ map[string]any, _ []string) (int, any) {
		return http.StatusOK, map[string]any{"items": r.s.stats.list(name)}
	}
}

func getTransfer(r *router, _ *http.Request, _ map[string]any, m []string) (int, any) {
	for _, t := range r.s.stats.list("transfers") {
		if strings.EqualFold(t["hash"].(string), m[1]) {
			return http.StatusOK, t
		}
	}
	return 0, apiError{http.StatusNotFound, "NOT_FOUND", "no such transfer"}
}

func postTransfer(r *router, _ *http.Request, body map[string]any, _ []string) (int, any) {
	if e := onlyFields(body, "link"); e != nil {
		return 0, *e
	}
	link, _ := body["link"].(string)
	if !strings.HasPrefix(link, "ed2k://|file|") {
		return 0, apiError{http.StatusBadRequest, "INVALID_ARGUMENT", "link must be an ed2k file link"}
	}
	return http.StatusCreated, map[string]any{"accepted": true}
}

func postSearch(r *router, _ *http.Request, body map[string]any, _ []string) (int, any) {
	if e := onlyFields(body, "query", "type"); e != nil {
		return 0, *e
	}
	if q, _ := body["query"].(string); q == "" {
		return 0, apiError{http.StatusBadRequest, "INVALID_ARGUMENT", "query is required"}
	}
	return http.StatusCreated, map[string]any{"searchId": 1}
}

func postShutdown(r *router, _ *http.Request, body map[string]any, _ []string) (int, any) {
	if e := onlyFields(body, "confirmShutdown"); e != nil {
		return 0, *e
	}
	if c, _ := body["confirmShutdown"].(bool); !c {
		return 0, apiError{http.StatusBadRequest, "INVALID_ARGUMENT", "confirmShutdown must be true"}
	}
	// The embedded model's shutdown belongs to the test harness.
	return 0, apiError{http.StatusConflict, "INVALID_STATE", "remote shutdown is disabled in the embedded model"}
}

// getSlow answers GET /api/v1/slow?ms=N once the UI thread has kept it
// for its N ms (rest checked the query).
func getSlow(_ *router, req *http.Request, _ map[string]any, _ []string) (int, any) {
	d, _ := slowFor(req.URL.RawQuery)
	return http.StatusOK, map[string]any{"ms": d.Milliseconds()}
}

// maxPad bounds the events route's pad: enough to back a stream up within
// a few periods whatever its send buffer autotunes to (up to 4 MiB on
// Linux by default), and no more, since a thread blocked in a send holds
// its message.
const maxPad = 1 << 20

// padError is the events route's complaint about pad, in fixed words.
var padError = fmt.Sprintf("pad must be one whole number of bytes from 0 to %d, and the only parameter", maxPad)

// padFor reads the events route's query: none, or exactly one parameter,
// pad, a whole number of filler bytes per message up to maxPad.
func padFor(rawQuery string) (int, bool) {
	if rawQuery == "" {
		return 0, true
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil || len(q) != 1 || len(q["pad"]) != 1 {
		return 0, false
	}
	n, err := strconv.ParseUint(q["pad"][0], 10, 32)
	if err != nil || n > maxPad {
		return 0, false
	}
	return int(n), true
}

// events is the WebSocket route: the upgrade happens here, in process; the
// stream itself runs on the thread after the handler returns. GET
// /api/v1/events?pad=N adds N filler bytes to every message, so that a
// client which never reads really backs the server's sends up (the stats
// alone are about 100 bytes a period, which loopback buffers for minutes).
func (r *router) events(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, apiError{http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "method not allowed"})
		return
	}
	pad, ok := padFor(req.URL.RawQuery)
	if !ok {
		writeError(w, apiError{http.StatusBadRequest, "INVALID_ARGUMENT", padError})
		return
	}
	if r.s.Lifecycle() >= ShuttingDown {
		writeError(w, apiError{http.StatusServiceUnavailable, "EMULE_UNAVAILABLE", "shutting down"})
		return
	}
	ws, err := r.up.Upgrade(w, req, nil)
	if err != nil {
		return // gorilla has answered (400) or the socket failed
	}
	rb := w.(*responseBuffer)
	rb.ws, rb.pad = ws, pad
}
