#!/usr/bin/env bash
# Runs the reference MERN app (examples/mern-app) on heavylift. Starts
# FerretDB (SQLite backend), Redis, heavylift (gRPC, the Socket.IO hub and the
# BullMQ worker) and the Express API serving the Vite-built front end, all on
# free loopback ports. Seeds a demo user, real photos and a CSV through the
# app's own API, prints the URL and keeps running until Ctrl-C, which stops
# everything. With DEMO_EXIT_AFTER_SEED=1 it checks the pages and stops after
# the seed instead.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

app_dir="$repo_root/examples/mern-app"
heavylift_bin="${HEAVYLIFT_BIN:-$repo_root/build/release/heavylift}"
ferretdb_bin="${FERRETDB_BIN:-$repo_root/build/tools/ferretdb}"
redis_bin="${REDIS_SERVER:-/usr/bin/redis-server}"
run_dir="$(mktemp -d "${TMPDIR:-/tmp}/heavylift-mern-demo.XXXXXX")"
export MONGOC_DISABLE_SHM=1

for binary in "$heavylift_bin" "$ferretdb_bin" "$redis_bin"; do
  [ -x "$binary" ] || { echo "demo: $binary is missing; run make build" >&2; exit 1; }
done

pids=()
stop_all() {
  local index
  for ((index = ${#pids[@]} - 1; index >= 0; index--)); do
    kill -TERM "${pids[index]}" 2>/dev/null || true
    wait "${pids[index]}" 2>/dev/null || true
  done
  pids=()
  if [ "${DEMO_KEEP_DATA:-0}" = 1 ]; then echo "demo: stopped; data and logs kept in $run_dir"; else rm -rf "$run_dir"; echo "demo: stopped"; fi
}
trap stop_all EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

free_port() {
  node -e "const s = require('net').createServer(); s.listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); });"
}

# Waits until `file` has a line matching `pattern` or the process `pid` exits.
wait_for_line() {
  local file="$1" pattern="$2" pid="$3" name="$4" _
  for _ in $(seq 1 600); do
    if grep -q "$pattern" "$file" 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then echo "demo: $name exited during start-up:" >&2; tail -20 "$file" >&2; exit 1; fi
    sleep 0.1
  done
  echo "demo: $name did not start within 60 seconds:" >&2; tail -20 "$file" >&2; exit 1
}

wait_for_port() {
  local port="$1" pid="$2" name="$3" _
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then echo "demo: $name exited during start-up:" >&2; tail -20 "$run_dir/$name.log" >&2; exit 1; fi
    sleep 0.1
  done
  echo "demo: $name is not listening on $port after 30 seconds" >&2; exit 1
}

if [ ! -f "$app_dir/dist/index.html" ] || [ -n "$(find "$app_dir/web" -newer "$app_dir/dist/index.html" -print -quit)" ]; then
  echo "demo: building the front end"
  (cd "$app_dir" && npx --no-install vite build --logLevel warn)
fi

mkdir -p "$run_dir/ferretdb" "$run_dir/redis" "$run_dir/blobs" "$run_dir/app"

# setsid keeps the servers out of the terminal's process group, so Ctrl-C
# reaches only this script, which then stops them in order.
mongo_port="$(free_port)"
setsid "$ferretdb_bin" --listen-addr="127.0.0.1:$mongo_port" --handler=sqlite --sqlite-url="file:$run_dir/ferretdb/" \
  --state-dir="$run_dir/ferretdb" --telemetry=disable --log-level=warn --debug-addr=- > "$run_dir/ferretdb.log" 2>&1 &
pids+=($!)
wait_for_port "$mongo_port" "$!" ferretdb

redis_port="$(free_port)"
setsid "$redis_bin" --port "$redis_port" --bind 127.0.0.1 --dir "$run_dir/redis" --appendonly yes --save '' \
  --maxmemory-policy noeviction > "$run_dir/redis.log" 2>&1 &
pids+=($!)
wait_for_port "$redis_port" "$!" redis

# One HS256 secret, as a JWKS, serves heavylift's JWT tasks (the API signs
# and verifies sessions with it) and the hub (which checks the browsers' tokens).
node -e "
  const k = require('crypto').randomBytes(32).toString('base64url');
  require('fs').writeFileSync(process.argv[1], JSON.stringify({ keys: [{ kty: 'oct', kid: 'app', alg: 'HS256', k }] }));
" "$run_dir/jwks.json"
chmod 600 "$run_dir/jwks.json"

setsid "$heavylift_bin" \
  --grpc-address 127.0.0.1:0 --http-address 127.0.0.1:0 --realtime-address 127.0.0.1:0 \
  --realtime-jwt-key-file "$run_dir/jwks.json" --crypto-jwt-keys-file "$run_dir/jwks.json" \
  --bullmq-redis-url "redis://127.0.0.1:$redis_port" --bullmq-queue heavylift \
  --bullmq-journal-path "$run_dir/bullmq.journal" \
  --blob-root "$run_dir/blobs" --schema-file "$app_dir/server/schema.json" > "$run_dir/heavylift.log" 2>&1 &
pids+=($!)
heavylift_pid=$!
wait_for_line "$run_dir/heavylift.log" 'event=server.listening' "$heavylift_pid" heavylift
wait_for_line "$run_dir/heavylift.log" 'event=realtime.listening' "$heavylift_pid" heavylift
grpc_address="$(grep -m1 'event=server.listening' "$run_dir/heavylift.log" | grep -oE 'grpc_address=[^ ]+' | cut -d= -f2)"
http_address="$(grep -m1 'event=server.listening' "$run_dir/heavylift.log" | grep -oE 'http_address=[^ ]+' | cut -d= -f2)"
hub_address="$(grep -m1 'event=realtime.listening' "$run_dir/heavylift.log" | grep -oE ' address=[^ ]+' | cut -d= -f2)"

setsid env PORT="${DEMO_PORT:-0}" MONGODB_URI="mongodb://127.0.0.1:$mongo_port/" REDIS_URL="redis://127.0.0.1:$redis_port" \
  HEAVYLIFT_ADDRESS="$grpc_address" HEAVYLIFT_REALTIME_URL="http://$hub_address" DATA_DIR="$run_dir/app" \
  node "$app_dir/server/main.mjs" > "$run_dir/api.log" 2>&1 &
pids+=($!)
wait_for_line "$run_dir/api.log" 'api.listening' "$!" api
app_url="$(grep -m1 'api.listening' "$run_dir/api.log" | grep -oE 'url=[^ ]+' | cut -d= -f2)"

echo "demo: FerretDB on 127.0.0.1:$mongo_port, Redis on 127.0.0.1:$redis_port"
echo "demo: heavylift gRPC on $grpc_address, hub on $hub_address, metrics on http://$http_address/metrics"
node "$app_dir/scripts/seed.mjs" "$app_url"
echo

if [ "${DEMO_EXIT_AFTER_SEED:-0}" = 1 ]; then
  health="$(curl -fsS "$app_url/api/health")"
  echo "demo: health $health"
  curl -fsS "$app_url/" | grep -q '<div id="root">' || { echo "demo: the front end is not served at $app_url" >&2; exit 1; }
  echo "demo: the app served its front end at $app_url; stopping because DEMO_EXIT_AFTER_SEED=1"
  exit 0
fi
echo "demo: open $app_url and log in as ${DEMO_USER:-demo} / ${DEMO_PASSWORD:-demo-password}; open a second browser to see live updates"
echo "demo: press Ctrl-C to stop"
while true; do sleep 3600 & wait $!; done
