#!/usr/bin/env bash
# bench/compare.sh measures the tool's maximum request rate (--rate max)
# side by side with hey and wrk, at the same concurrency, on the same
# loopback endpoint: nginx from Debian serving a small static page, fast
# enough not to be the bottleneck. It prints each tool's requests a second
# and latency, every command that produced them, and the ratios; issue 13
# asks the tool's rate to be at least 1.0x hey's. It is noisy on a shared
# machine, so CI does not run it: run it by hand, several times.
#
#   bench/compare.sh                 # 50 connections, 5s each, 3 runs
#   CONC=100 SECS=10 RUNS=5 bench/compare.sh
#   KEEP=1 bench/compare.sh          # keep the work directory (the JSON report)
#
# Installs hey with go install into a temporary GOBIN, and wrk from
# Debian (apt-get, as root or with sudo) when it is missing. Needs nginx
# (Debian's package) and jq.
set -euo pipefail

cd "$(dirname "$0")/.."
CONC=${CONC:-50}
SECS=${SECS:-5}
RUNS=${RUNS:-3}
work=$(mktemp -d)
nginx_pid=
cleanup() {
	if [ -n "$nginx_pid" ]; then kill -QUIT "$nginx_pid" 2>/dev/null || true; wait "$nginx_pid" 2>/dev/null || true; fi
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "compare: nginx is needed (apt-get install nginx)" >&2; exit 2; }
command -v jq >/dev/null || { echo "compare: jq is needed" >&2; exit 2; }
if ! command -v wrk >/dev/null; then
	echo "\$ apt-get install -y wrk"
	if [ "$(id -u)" -eq 0 ]; then apt-get install -y wrk >/dev/null; else sudo apt-get install -y wrk >/dev/null; fi
fi
echo "\$ GOBIN=$work/bin go install github.com/rakyll/hey@latest"
GOBIN=$work/bin go install github.com/rakyll/hey@latest
hey=$work/bin/hey
echo "\$ go build -o $work/shutdowntest ."
go build -o "$work/shutdowntest" .

# nginx on a free loopback port, a small page at /, no access log, its
# temp paths and pid in the work directory.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/www" "$work/tmp"
printf '<!doctype html><title>bench</title><p>a small static page for the benchmark</p>\n' >"$work/www/index.html"
user=
[ "$(id -u)" -eq 0 ] && user="user root;"
cat >"$work/nginx.conf" <<EOF
$user
worker_processes auto;
pid $work/nginx.pid;
error_log stderr;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $work/tmp/body;
    proxy_temp_path $work/tmp/proxy;
    fastcgi_temp_path $work/tmp/fastcgi;
    uwsgi_temp_path $work/tmp/uwsgi;
    scgi_temp_path $work/tmp/scgi;
    server { listen 127.0.0.1:$port; root $work/www; }
}
EOF
"$nginx" -e stderr -p "$work/" -c "$work/nginx.conf" -g 'daemon off;' 2>"$work/nginx.log" &
nginx_pid=$!
url=http://127.0.0.1:$port/
for _ in $(seq 100); do
	curl -fs -o /dev/null "$url" 2>/dev/null && break
	sleep 0.05
done
echo "nginx $("$nginx" -v 2>&1 | sed 's/.*\///') on $url, $(nproc) cores"
echo

# Each tool keeps its connections alive (hey's and wrk's default; the
# tool's --rate-mode reuse) with CONC of them. The tool's run holds its
# one idle client for SECS with the traffic at full speed, then triggers
# a command that does nothing (nginx keeps running: --expect-exit none);
# its figure is the requests due before that trigger over the time.
tool_cmd=("$work/shutdowntest" --headless --target "$url" --trigger cmd:true --expect-exit none
	--http-idle 1 --http-inflight 0 --rest-idle 0 --rest-inflight 0 --ws 0 --silent 0
	--shutdown-after "${SECS}s" --drain-timeout 1s --rate max --rate-workers "$CONC" --rate-mode reuse
	--json "$work/tool.json")
hey_cmd=("$hey" -z "${SECS}s" -c "$CONC" "$url")
wrk_cmd=(wrk -t "$(nproc)" -c "$CONC" -d "${SECS}s" --latency "$url")

declare -A sum=([tool]=0 [hey]=0 [wrk]=0)
for run in $(seq "$RUNS"); do
	echo "## run $run of $RUNS"
	echo "\$ ${tool_cmd[*]}"
	"${tool_cmd[@]}" >/dev/null 2>&1 || true
	tool=$(jq '.iterations[0].rate.achieved_per_second' "$work/tool.json")
	p99=$(jq '.iterations[0].rate.phases[0].p99_ms' "$work/tool.json")
	echo "  tool: $(printf '%.0f' "$tool") requests/s, p99 ${p99}ms (holding), $(jq '.iterations[0].rate.failed | length' "$work/tool.json") failed"
	echo "\$ ${hey_cmd[*]}"
	out=$("${hey_cmd[@]}")
	heyr=$(awk '/Requests\/sec:/ {print $2}' <<<"$out")
	echo "  hey: $(printf '%.0f' "$heyr") requests/s, p99 $(awk '/ 99%/ {print $3*1000}' <<<"$out")ms"
	echo "\$ ${wrk_cmd[*]}"
	out=$("${wrk_cmd[@]}")
	wrkr=$(awk '/Requests\/sec:/ {print $2}' <<<"$out")
	echo "  wrk: $(printf '%.0f' "$wrkr") requests/s, p99 $(awk '$1 == "99%" {print $2}' <<<"$out")"
	sum[tool]=$(echo "${sum[tool]} + $tool" | bc -l)
	sum[hey]=$(echo "${sum[hey]} + $heyr" | bc -l)
	sum[wrk]=$(echo "${sum[wrk]} + $wrkr" | bc -l)
	echo
done

echo "## mean of $RUNS runs, $CONC connections, ${SECS}s each"
printf '%-6s %10s\n' tool "$(echo "${sum[tool]} / $RUNS" | bc -l | xargs printf '%.0f')" \
	hey "$(echo "${sum[hey]} / $RUNS" | bc -l | xargs printf '%.0f')" wrk "$(echo "${sum[wrk]} / $RUNS" | bc -l | xargs printf '%.0f')"
printf 'tool/hey %.2fx   tool/wrk %.2fx\n' "$(echo "${sum[tool]} / ${sum[hey]}" | bc -l)" "$(echo "${sum[tool]} / ${sum[wrk]}" | bc -l)"
