#!/usr/bin/env bash
# Starts heavylift on free loopback ports, runs examples/demo on the real
# photographs of Debian's mate-backgrounds package, prints the daemon's
# request counters, and stops the daemon at the end or on Ctrl-C.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

binary="${HEAVYLIFT_BIN:-build/release/heavylift}"
out_dir="${DEMO_OUT:-$repo_root/out}"
mkdir -p "$out_dir"
log="$out_dir/heavylift-demo.log"

# setsid keeps the daemon out of the terminal's process group, so Ctrl-C
# reaches only this script, which then sends the daemon one SIGTERM to drain.
setsid "$binary" --grpc-address 127.0.0.1:0 --http-address 127.0.0.1:0 2> "$log" &
daemon_pid=$!

stop_daemon() {
  if kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
    echo "demo: heavylift stopped (log: $log)"
  fi
}
trap stop_daemon EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

# The daemon logs event=server.listening with the ports it bound.
for _ in $(seq 1 100); do
  if grep -q 'event=server.listening' "$log"; then break; fi
  if ! kill -0 "$daemon_pid" 2>/dev/null; then
    echo "demo: heavylift exited during start-up:"; cat "$log"; exit 1
  fi
  sleep 0.1
done
listening="$(grep 'event=server.listening' "$log" | head -1)"
if [ -z "$listening" ]; then
  echo "demo: heavylift did not start within 10 seconds:"; cat "$log"; exit 1
fi
grpc_address="$(grep -oE 'grpc_address=[^ ]+' <<<"$listening" | cut -d= -f2)"
http_address="$(grep -oE 'http_address=[^ ]+' <<<"$listening" | cut -d= -f2)"
echo "demo: heavylift is serving gRPC on $grpc_address and http://$http_address/metrics"

HEAVYLIFT_ADDRESS="$grpc_address" DEMO_OUT="$out_dir/thumbnails" node examples/demo/demo.mjs

echo
echo "demo: request counters from http://$http_address/metrics"
curl -fsS "http://$http_address/metrics" | grep -E '^heavylift_requests_total' || true
