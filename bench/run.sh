#!/usr/bin/env bash
# bench/run.sh measures the performance figures of issue 13 (scale and
# speed) on this machine: cycles a second, the observation tail at four
# sizes, peak RSS per client at 9,900 clients and how long they take to be
# ready. It prints every figure with the command that produced it. It is
# slow (a minute or two) and noisy on a shared machine, so CI does not run
# it: run it by hand, on a quiet machine, several times.
#
#   bench/run.sh            # everything
#   RUNS=5 bench/run.sh     # each measurement five times (default 3)
#   BIN=/tmp/old bench/run.sh   # figures of a binary built elsewhere (before/after)
#
# Needs go, jq and GNU time (/usr/bin/time -v); 9,900 clients need an
# open-file limit of about 20,000, which it raises where the hard limit
# allows.
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=${BIN:-$work/shutdowntest}

for tool in jq /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is needed" >&2; exit 2; }
done

# One build: every figure below is of the same binary.
if [ -z "${BIN:-}" ]; then
	echo "\$ go build -o $bin ."
	go build -o "$bin" .
fi

want=20000
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ]; then
	hard=$(ulimit -Hn)
	if [ "$hard" = unlimited ] || [ "$hard" -ge "$want" ]; then
		ulimit -n "$want"
	else
		ulimit -n "$hard"
	fi
fi
echo "open-file limit: $(ulimit -n)"
echo

# show prints a command and runs it, its own output discarded: the figures
# come from its JSON report. A run that fails its checks is reported (its
# exit status) but does not stop the benchmark.
show() {
	echo "\$ $*"
	local rc=0
	"$@" >/dev/null 2>"$work/stderr" || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "  exit status $rc: $(tail -n 1 "$work/stderr")"
	fi
}

echo "## cycles a second (default mix, --inflight-for 1ms, 50 iterations)"
for _ in $(seq "$RUNS"); do
	show "$bin" --headless --inflight-for 1ms --iterations 50 --json "$work/cycles.json"
	jq -r '"  \(50000 / .wall_ms | . * 10 | round / 10) cycles/s (wall \(.wall_ms | round) ms)"' "$work/cycles.json"
done
echo

# A mix of n clients in the proportions of the 9,900 one (1,500 idle HTTP,
# 1,500 idle REST, 500 in-flight HTTP, 500 in-flight REST, 1,500 WebSocket,
# the rest silent TCP).
mix() {
	local n=$1 i=$(($1 * 1500 / 9900)) f=$(($1 * 500 / 9900))
	echo --http-idle "$i" --rest-idle "$i" --http-inflight "$f" --rest-inflight "$f" --ws "$i" \
		--silent $((n - 3 * i - 2 * f))
}

# tail reads one iteration's JSON: the last thing observation waits for is
# the later of shutdown's return, the last client thread's exit and the last
# client's ending; the tail is from there to the end of observation (and to
# the after-return admission probe).
tail_of() {
	jq -r '.iterations[0] as $it
		| ([$it.shutdown.returned_ms, $it.drain.last_thread_exit_ms,
		    ($it.clients[] | .ended_ms // empty)] | max) as $last
		| ($it.admission[] | select(.when == "after-return") | .at_ms) as $probe
		| "  all ended t+\($last | round) ms; observation ended t+\($it.observed_until_ms | round) ms: tail \($it.observed_until_ms - $last | round) ms (after-return probe +\($probe - $last | round) ms)"' "$1"
}

# ready_of: from the first client's connect to the trigger, which headless
# pulls as soon as every client is ready.
ready_of() {
	jq -r '[.iterations[0].clients[].states[] | select(.state == "connected") | .at_ms] | min
		| "  ready \(-. | round) ms after the first connect"' "$1"
}

echo "## observation tail (trigger → all ended → observation end)"
for n in 100 1000 4000 9900; do
	for _ in $(seq "$RUNS"); do
		# shellcheck disable=SC2046 # mix's words are meant to split
		show "$bin" --headless $(mix "$n") --json "$work/tail.json"
		tail_of "$work/tail.json"
	done
done
echo

echo "## 9,900 clients in one process: peak RSS and readiness"
big=(--http-idle 1500 --rest-idle 1500 --http-inflight 500 --rest-inflight 500 --ws 1500 --silent 4400)
for _ in $(seq "$RUNS"); do
	show /usr/bin/time -v -o "$work/time.txt" "$bin" --headless "${big[@]}" --json "$work/big.json"
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
	echo "  peak RSS $((rss / 1024)) MiB: $(awk -v r="$rss" 'BEGIN {printf "%.1f", r / 9900}') KiB per client"
	ready_of "$work/big.json"
done
echo

# 19,000 clients are more than one process's descriptors hold with both
# ends in it (two sockets a client), so the model runs in its own process
# (`shutdowntest serve` as an external target): each process then holds
# one socket a client. The in-flight requests take 10 s, longer than the
# clients take to be ready; the 2 s hold lets the server accept every
# silent connection, which the client side counts as ready once connected.
echo "## 19,000 clients, the model in its own process (shutdowntest serve)"
huge=(--target 'http://127.0.0.1:{port}' --page / --rest /api/v1/status --slow '/api/v1/slow?ms=10000'
	--ws-path /api/v1/events -H 'X-API-Key: shutdowntest-key'
	--http-idle 3000 --rest-idle 3000 --http-inflight 500 --rest-inflight 500 --ws 3000 --silent 9000
	--shutdown-after 2s)
for _ in $(seq "$RUNS"); do
	show /usr/bin/time -v -o "$work/time.txt" "$bin" --headless "${huge[@]}" --json "$work/huge.json" \
		-- "$bin" serve --addr '127.0.0.1:{port}'
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
	jq -r '"  \(.iterations[0].clients | length) clients: verdict \(.verdict)"' "$work/huge.json"
	echo "  peak RSS of the larger process $((rss / 1024)) MiB: $(awk -v r="$rss" 'BEGIN {printf "%.1f", r / 19000}') KiB per client"
done
