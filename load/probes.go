package load

import (
	"bufio"
	"crypto/tls"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// routesGolden is the checked-in routing table: what each route of the
// Web UI and the REST API answered when the table was last reviewed.
// routing-unchanged compares every run against it.
//
//go:embed routes.golden.json
var routesGolden []byte

// routeCase is one row of the golden table.
type routeCase struct {
	Name     string     `json:"name"`
	Method   string     `json:"method"`
	Path     string     `json:"path"` // {password} and {session} are filled in
	Key      bool       `json:"key"`  // send X-API-Key
	Header   [][]string `json:"header,omitempty"`
	Body     string     `json:"body,omitempty"`
	Expected RouteShape `json:"expected"`
}

func loadGolden() ([]routeCase, error) {
	var cases []routeCase
	if err := json.Unmarshal(routesGolden, &cases); err != nil {
		return nil, fmt.Errorf("routes.golden.json: %w", err)
	}
	return cases, nil
}

// creds are what the probes need to log in, and the TLS trust they dial
// with (nil: plain TCP).
type creds struct {
	password, apiKey string
	tls              *tls.Config
}

var (
	sessionLink = regexp.MustCompile(`id="session"[^>]*>([^<]+)<`)
	htmlTitle   = regexp.MustCompile(`<title>([^<]*)</title>`)
)

// probeRoutes sends every golden request, one connection each, and records
// what came back. It also returns the Web UI session the login row gave.
func probeRoutes(addr string, cr creds) ([]RouteProbe, string, error) {
	cases, err := loadGolden()
	if err != nil {
		return nil, "", err
	}
	var out []RouteProbe
	session := ""
	for _, rc := range cases {
		path := strings.NewReplacer("{password}", cr.password, "{session}", session).Replace(rc.Path)
		p := RouteProbe{Name: rc.Method + " " + rc.Name, Expected: rc.Expected}
		req, err := http.NewRequest(rc.Method, "http://"+addr+path, strings.NewReader(rc.Body))
		if err != nil {
			return nil, "", fmt.Errorf("golden row %q: %w", rc.Name, err)
		}
		if rc.Body == "" {
			req.Body, req.ContentLength = nil, 0
		}
		if rc.Key {
			req.Header.Set("X-API-Key", cr.apiKey)
		}
		for _, kv := range rc.Header {
			req.Header.Add(kv[0], kv[1])
		}
		resp, body, local, err := roundTrip(addr, cr.tls, req, 5*time.Second)
		p.Local = local
		if err != nil {
			p.Err = err.Error()
		} else {
			p.Observed = shapeOf(resp, body)
			if m := sessionLink.FindSubmatch(body); m != nil && session == "" {
				session = string(m[1])
			}
		}
		out = append(out, p)
	}
	if session == "" {
		return out, "", errors.New("the Web UI login gave no session")
	}
	return out, session, nil
}

// roundTrip sends one request on a fresh connection and reads the whole
// response, then closes the connection, as a browser of eMule's
// Connection: close server would.
func roundTrip(addr string, tc *tls.Config, req *http.Request, d time.Duration) (*http.Response, []byte, string, error) {
	conn, err := dial(addr, tc)
	if err != nil {
		return nil, nil, "", err
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	_ = conn.SetDeadline(time.Now().Add(d))
	if err := req.Write(conn); err != nil {
		return nil, nil, local, err
	}
	resp, body, err := readResponse(bufio.NewReader(conn), req)
	return resp, body, local, err
}

// shapeOf reduces a response to what must not change: status, content
// type, and the body's structure (JSON with every value replaced by its
// type, except an error code; an HTML page by its title; other text by its
// first line).
func shapeOf(resp *http.Response, body []byte) RouteShape {
	s := RouteShape{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type")}
	switch {
	case strings.HasPrefix(s.ContentType, "application/json"):
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			s.Shape = "invalid json"
		} else {
			s.Shape = "json:" + jsonShape(v, "")
		}
	case strings.HasPrefix(s.ContentType, "text/html"):
		m := htmlTitle.FindSubmatch(body)
		if m == nil {
			s.Shape = "html:untitled"
		} else {
			s.Shape = "html:" + string(m[1])
		}
	default:
		line, _, _ := strings.Cut(string(body), "\n")
		s.Shape = "text:" + line
	}
	return s
}

func jsonShape(v any, key string) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + jsonShape(x[k], k)
		}
		return "{" + strings.Join(parts, ",") + "}"
	case []any:
		if len(x) == 0 {
			return "[]"
		}
		return "[" + jsonShape(x[0], "") + "]"
	case string:
		if key == "code" {
			return x // error codes are part of the contract
		}
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return "?"
}

// probeAdmission tries a new connection and a REST request after the
// trigger (tryAdmission).
func probeAdmission(addr, apiKey string, when When, clock func(time.Time) time.Duration) AdmissionProbe {
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/v1/status", nil)
	req.Header.Set("X-API-Key", apiKey)
	return tryAdmission(addr, req, when, clock)
}

// tryAdmission tries a new connection and sends req on it. Refused, closed
// with no answer or a 503 mean the server did not admit it; any other
// answer means it did.
func tryAdmission(addr string, req *http.Request, when When, clock func(time.Time) time.Duration) AdmissionProbe {
	p := AdmissionProbe{When: when, At: clock(time.Now())}
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		switch {
		case isRefused(err):
			p.Outcome, p.Detail = AdmissionRefused, "connection refused"
		case isReset(err):
			// The connection sat in the backlog of a listening socket
			// that closed: the kernel resets it. Not admitted.
			p.Outcome, p.Detail = AdmissionRefused, "reset while connecting (the listener closed)"
		default:
			p.Outcome, p.Detail = AdmissionError, err.Error()
		}
		return p
	}
	defer conn.Close()
	p.Local = conn.LocalAddr().String()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	if err := req.Write(conn); err != nil {
		p.Outcome, p.Detail = AdmissionClosed, "closed before the request was sent: "+err.Error()
		return p
	}
	p.Outcome, p.Detail = admissionOf(conn, req)
	return p
}

// admissionOf reads the answer to req on conn: a 503, another answer
// (served), a close with no answer, or an error.
func admissionOf(conn net.Conn, req *http.Request) (Admission, string) {
	cr := &countReader{r: conn}
	resp, _, err := readResponse(bufio.NewReader(cr), req)
	switch {
	case err == nil && resp.StatusCode == http.StatusServiceUnavailable:
		return AdmissionUnavailable, "503 " + resp.Header.Get("Content-Type")
	case err == nil:
		return AdmissionServed, fmt.Sprintf("answered %d", resp.StatusCode)
	case cr.n == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err)):
		return AdmissionClosed, "closed unserved"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return AdmissionError, "accepted but no answer or close in 3s"
	default:
		return AdmissionError, err.Error()
	}
}

// countReader counts the bytes read through it, to tell a connection
// closed with no answer from a truncated one: net/http reports both as
// io.ErrUnexpectedEOF.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
