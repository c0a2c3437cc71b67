#!/usr/bin/env bash
# Every GPU figure in docs/PERFORMANCE.md and docs/ACCURACY.md in one run on the GPU machine (after gpu/publish.sh;
# the LifeGPT test sets travel in .gpu/data). Writes its tables and logs to ${OUT:-artifacts/gpu}.
#   bench: strategy x batch size, against the card's own measured floors
#   eval:  greedy accuracy (2,000 boards, named patterns, paper test set, 249-step rollouts)
#   load:  the HTTP service on loopback: one client (latency), then many (throughput)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-artifacts/gpu}; mkdir -p "$out"
source gpu/env.sh | tee "$out/device.txt"
conway() { dotnet .gpu/app/Conway.Cli/conway.dll "$@"; }

conway bench --batches-speculative 1,8,64,256,512 --batches-autoregressive 1,8,64,256,512 --repeats 5 --out "$out/bench.md" 2>&1 | tee "$out/bench.log"
conway eval --device cuda --out "$out/eval" --paper-10 .gpu/data/conway_test_states_32by32_20240716_151502.csv \
  --paper-250 .gpu/data/conway_test_states_32by32_20240827_172807.csv > "$out/eval.log" 2>&1; tail -5 "$out/eval.log"

(cd .gpu/app/Conway.Api && ASPNETCORE_URLS=http://127.0.0.1:8080 Logging__LogLevel__Default=Warning exec dotnet Conway.Api.dll) > "$out/api.log" 2>&1 &
api=$!
for i in $(seq 1 120); do curl -sf http://127.0.0.1:8080/healthz/ready >/dev/null && break; sleep 1; done
{
  conway load --concurrency 1 --requests 300
  conway load --concurrency 64 --requests 6000 | tail -1
  conway load --concurrency 16 --boards 64 --requests 300 | tail -1
  conway load --concurrency 8 --requests 16 --strategy autoregressive | tail -1
} 2>&1 | tee "$out/load.md"
kill $api; wait $api 2>/dev/null
