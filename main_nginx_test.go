//go:build unix

package main

import (
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// nginx from Debian is the external target nobody on the team wrote, in
// C: its two shutdowns are QUIT (graceful: close the listeners and the
// idle keep-alive connections, finish the requests in flight) and TERM
// (fast: the workers exit at once). .ci/run installs it; elsewhere the
// tests skip without it.

// nginxBig is the size of the rate-limited download, and nginxRate the
// rate: about 2.7 s per download, far longer than the clients take to be
// in place, far shorter than --drain-timeout.
const (
	nginxBig  = 256 << 10
	nginxRate = "96k"
)

// nginxServer writes a prefix directory for nginx (its config template, a
// small page at / and a large file at /big.bin served at nginxRate) and
// returns the command after -- that starts nginx in it on {port}, in the
// foreground, logging to stderr only. extra goes into the main context.
//
// nginx reads its port from its config file, and the tool fills in
// {port} only in the command's arguments: so the command is a shell that
// writes the config with the port the tool picked and then execs nginx,
// which keeps the shell's pid (the signal goes to nginx's master) and its
// process group (the tool can kill master and workers at once).
func nginxServer(t *testing.T, extra string) []string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin, err = exec.LookPath("/usr/sbin/nginx") // not on a user's PATH on Debian
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("nginx is not installed, and CI=%s must install it (apt-get install nginx)", os.Getenv("CI"))
		}
		t.Skip("nginx is not installed (apt-get install nginx)")
	}
	dir := t.TempDir()
	big := make([]byte, nginxBig)
	_, _ = rand.Read(big) // incompressible, whatever the config
	for name, b := range map[string][]byte{"www/index.html": []byte("<html><body>shutdowntest idle page</body></html>\n"), "www/big.bin": big} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Master run as root switches its workers to nobody, who cannot read
	// a test's temporary directory (0700): as root (CI), the workers stay
	// root. Run as anyone else, nginx runs as that user, and the user
	// directive would only draw a warning.
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;\n"
	}
	// The temp paths default to /var/lib/nginx, the access log to
	// /var/log/nginx: both are moved into the prefix, or switched off.
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	var temps strings.Builder
	for _, name := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		temps.WriteString("    " + name + "_temp_path " + filepath.Join(dir, "tmp", name) + ";\n")
	}
	conf := user + extra + `worker_processes 1;
events { worker_connections 256; }
http {
    access_log off;
` + temps.String() + `    server {
        listen 127.0.0.1:@PORT@;
        root ` + filepath.Join(dir, "www") + `;
        location = /big.bin { limit_rate ` + nginxRate + `; }
    }
}
`
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf.in"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	q := func(p string) string { return shellQuote([]string{p})[0] }
	in, out := q(filepath.Join(dir, "nginx.conf.in")), q(filepath.Join(dir, "nginx.conf"))
	script := "sed 's/@PORT@/{port}/' " + in + " > " + out + " && exec " + q(bin) + " -e stderr -p " + q(dir+"/") +
		" -c " + out + " -g " + q("daemon off; pid "+filepath.Join(dir, "nginx.pid")+"; error_log stderr;")
	return []string{"--", "/bin/sh", "-c", script}
}

// nginxRoutes put two idle clients on / and two in-flight clients on the
// rate-limited download; no silent client (see TestExternalNginxSilent).
var nginxRoutes = []string{"--target", "http://127.0.0.1:{port}", "--slow", "/big.bin",
	"--http-idle", "2", "--http-inflight", "2", "--silent", "0"}

// QUIT is nginx's graceful shutdown: the downloads in flight at the
// trigger finish whole, the idle keep-alive connections are closed, the
// listener is closed, and nginx exits 0.
func TestExternalNginxQuitFinishesDownloads(t *testing.T) {
	args := append(append([]string{"--trigger", "signal:QUIT"}, nginxRoutes...), nginxServer(t, "")...)
	code, rep, checks, out := externalRun(t, args...)
	if code != exitPass || rep["verdict"] != "pass" {
		t.Errorf("exit %d, verdict %v, want 0 and pass\n%s", code, rep["verdict"], out)
	}
	wantStatus(t, checks, map[string]string{
		"inflight-completed": "pass", "idle-closed": "pass", "no-admission-after-trigger": "pass",
		"process-exited": "pass", "port-released": "pass",
	}, out)
	for _, c := range clientsOf(rep) {
		if c["role"] == "inflight" && !strings.Contains(c["detail"].(string), "200, 262144 bytes") {
			t.Errorf("in-flight client %v: %v (%v), want the whole download", c["id"], c["outcome"], c["detail"])
		}
	}
}

// TERM is nginx's fast shutdown: its workers exit at once and cut the
// downloads in flight, which inflight-completed names; nginx still exits
// 0, so only the clients show what was lost.
func TestExternalNginxTermCutsDownloads(t *testing.T) {
	args := append(append([]string{"--trigger", "signal:TERM"}, nginxRoutes...), nginxServer(t, "")...)
	code, rep, checks, out := externalRun(t, args...)
	if code != exitFail || rep["verdict"] != "fail" {
		t.Errorf("exit %d, verdict %v, want 1 and fail\n%s", code, rep["verdict"], out)
	}
	wantStatus(t, checks, map[string]string{"inflight-completed": "fail", "process-exited": "pass", "port-released": "pass"}, out)
	d, _ := checks["inflight-completed"]["detail"].(string)
	for _, c := range clientsOf(rep) {
		if c["role"] != "inflight" {
			continue
		}
		detail := c["detail"].(string)
		if c["outcome"] == "completed" || !strings.Contains(d, detail) {
			t.Errorf("in-flight client %v: %v (%s), want it cut and named by inflight-completed (%s)", c["id"], c["outcome"], detail, d)
		}
	}
}

// A connection that has sent nothing is not idle to nginx: QUIT leaves
// it open until client_header_timeout (60 s by default), and the
// graceful shutdown waits for it; the tool kills nginx past
// --drain-timeout. worker_shutdown_timeout, nginx's bound on a graceful
// shutdown, closes it.
func TestExternalNginxSilent(t *testing.T) {
	for _, c := range []struct {
		name, extra string
		want        map[string]string
	}{
		{"default", "", map[string]string{"idle-closed": "fail", "process-exited": "fail"}},
		{"worker_shutdown_timeout", "worker_shutdown_timeout 500ms;\n", map[string]string{"idle-closed": "pass", "process-exited": "pass"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"--trigger", "signal:QUIT", "--target", "http://127.0.0.1:{port}", "--silent", "1",
				"--drain-timeout", "2s"}, nginxServer(t, c.extra)...)
			_, _, checks, out := externalRun(t, args...)
			wantStatus(t, checks, c.want, out)
		})
	}
}

// clientsOf is the first iteration's clients of a JSON report.
func clientsOf(rep map[string]any) []map[string]any {
	var out []map[string]any
	for _, c := range firstIteration(rep)["clients"].([]any) {
		out = append(out, c.(map[string]any))
	}
	return out
}
