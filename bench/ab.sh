#!/usr/bin/env bash
# bench/ab.sh compares binaries on the 9,900-client mix of bench/run.sh:
# it runs each binary N times, alternating between them, so that a shared
# machine's slow minutes fall on every binary alike, and prints each run
# and, per binary, the mean peak RSS per client, the mean time from the
# first connect to the trigger, and how many runs did not exit 0. On 2
# shared cores the same binary's readiness moves by up to 200 ms between
# batches: compare binaries within one batch, not across.
#
#   go build -o /tmp/a . && git stash && go build -o /tmp/b . && git stash pop
#   bench/ab.sh 6 /tmp/a /tmp/b
#
# Needs jq and GNU time (/usr/bin/time); raises the open-file limit to
# 20,000 where the hard limit allows.
set -euo pipefail

if [ $# -lt 2 ]; then
	echo "usage: bench/ab.sh RUNS BINARY..." >&2
	exit 2
fi
runs=$1
shift
for tool in jq /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is needed" >&2; exit 2; }
done
if [ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 20000 ]; then
	ulimit -n 20000
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mix=(--http-idle 1500 --rest-idle 1500 --http-inflight 500 --rest-inflight 500 --ws 1500 --silent 4400)
for _ in $(seq "$runs"); do
	for bin in "$@"; do
		rc=0
		/usr/bin/time -f "%M" -o "$work/rss" "$bin" --headless "${mix[@]}" --json "$work/run.json" \
			>/dev/null 2>&1 || rc=$?
		ready=$(jq -r '[.iterations[0].clients[].states[] | select(.state == "connected") | .at_ms] | min | -. | round' "$work/run.json")
		echo "$bin $rc $(tail -n 1 "$work/rss") $ready"
	done
done | awk '
	{ printf "%s: exit %d, peak RSS %.1f KiB a client, ready %d ms after the first connect\n", $1, $2, $3 / 9900, $4
	  n[$1]++; rss[$1] += $3; ready[$1] += $4; if ($2 != 0) failed[$1]++ }
	END { for (b in n) printf "%s: %d runs, mean %.1f KiB a client, mean ready %d ms, %d not exit 0\n",
		b, n[b], rss[b] / n[b] / 9900, ready[b] / n[b], failed[b] }'
