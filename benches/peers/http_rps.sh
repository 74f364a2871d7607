#!/usr/bin/env bash
# HTTP/1.1 keep-alive request throughput of the demo server, measured with wrk (Debian: `apt-get install
# wrk`): `GET /` (the index page) and `GET /poll/clock?after=0` (a short poll answering the clock topic's
# log), 3 runs of 10 s each, median printed. The server is pinned to core 0 and wrk to core 1 where the
# machine has two cores. Results go in benches/README.md.
#
# Usage: benches/peers/http_rps.sh [PORT]   (default 18181; binds 127.0.0.1 only)
set -euo pipefail
cd "$(dirname "$0")/../.."
port="${1:-18181}"
runs=3
duration=10s

pin_server=() pin_load=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    pin_server=(taskset -c 0) pin_load=(taskset -c 1)
fi

cargo build --release --bin pushlab
"${pin_server[@]}" ./target/release/pushlab --addr "127.0.0.1:$port" >/tmp/pushlab-http-rps.log 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
    curl -fsS "http://127.0.0.1:$port/" -o /dev/null 2>/dev/null && break
    sleep 0.1
done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for path in / '/poll/clock?after=0'; do
    url="http://127.0.0.1:$port$path"
    echo "== wrk -t1 -c50 -d$duration $url"
    rates=()
    for run in $(seq 1 "$runs"); do
        out="$("${pin_load[@]}" wrk -t1 -c50 -d"$duration" "$url")"
        rate="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")"
        errors="$(grep -E 'Non-2xx|Socket errors' <<<"$out" || true)"
        latency="$(awk '/^    Latency/ {print $2}' <<<"$out")"
        echo "run $run: $rate requests/s, mean latency $latency ${errors:+($errors)}"
        rates+=("$rate")
    done
    median="$(printf '%s\n' "${rates[@]}" | sort -g | sed -n "$(((runs + 1) / 2))p")"
    echo "median: $median requests/s"
done
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
trap - EXIT
