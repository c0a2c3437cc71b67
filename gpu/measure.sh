#!/usr/bin/env bash
# Every GPU figure in docs/PERFORMANCE.md and docs/ACCURACY.md, in one run on the GPU machine (after gpu/publish.sh).
# Writes to ${OUT:-artifacts/gpu}: kernels.md (each fused kernel against libtorch), bench.log (kernels x strategy x
# batch against the card's own measured floors), eval.log + eval.tar (accuracy report; EVAL=0 leaves it out),
# load.md + api.log (HTTP service on loopback: requests, then rollouts with 1, 64 and 256 at once). Each stage has a
# time bound.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-artifacts/gpu}; mkdir -p "$out"
source gpu/env.sh > "$out/bench.log"; cat "$out/bench.log"   # not in a pipe: the exports must stay in this shell
model=$PWD/models/lifegpt.safetensors

timeout 90 dotnet /tmp/conway/conway.dll kernels --repeats 20 2>&1 | tee "$out/kernels.md"
timeout 120 dotnet /tmp/conway/conway.dll bench --model "$model" --kernels libtorch,fused --strategies speculative --batches-speculative 1,8,64,256,512,1024 --graphs yes,no --repeats 10 2>&1 | tee -a "$out/bench.log"
timeout 240 dotnet /tmp/conway/conway.dll bench --model "$model" --kernels libtorch,fused --strategies autoregressive --batches-autoregressive 1,8,64,512,1024 --graphs yes,no --repeats 1 --agreement 256 2>&1 | tee -a "$out/bench.log"

if [ "${EVAL:-1}" != 0 ]; then
  timeout 150 dotnet /tmp/conway/conway.dll eval --device cuda --out /tmp/eval --model "$model" \
    --paper-10 /tmp/lifegpt/conway_test_states_32by32_20240716_151502.csv \
    --paper-250 /tmp/lifegpt/conway_test_states_32by32_20240827_172807.csv > "$out/eval.log" 2>&1
  tar -cf "$out/eval.tar" -C /tmp/eval . ; tail -3 "$out/eval.log"
fi

# the service on loopback with Model:Devices=$1 (cuda:0 = one GPU, auto = every visible GPU)
serve() {
  (cd /tmp/conway && ASPNETCORE_URLS=http://127.0.0.1:8080 Model__Path=$model Model__Devices=$1 RateLimit__PermitsPerSecond=0 Logging__LogLevel__Default=Warning \
    exec dotnet Conway.Api.dll) >> "$out/api.log" 2>&1 &
  api=$!
  for i in $(seq 1 120); do curl -sf http://127.0.0.1:8080/healthz/ready >/dev/null && break; sleep 1; done
}
gpus=$(nvidia-smi -L | wc -l)
serve cuda:0
{
  echo "One GPU (Model__Devices=cuda:0):"
  timeout 60 dotnet /tmp/conway/conway.dll load --url http://127.0.0.1:8080 --concurrency 1 --requests 300
  timeout 60 dotnet /tmp/conway/conway.dll load --url http://127.0.0.1:8080 --concurrency 64 --requests 6000 | tail -1
  timeout 60 dotnet /tmp/conway/conway.dll load --url http://127.0.0.1:8080 --concurrency 16 --boards 64 --requests 300 | tail -1
  timeout 60 dotnet /tmp/conway/conway.dll load --url http://127.0.0.1:8080 --concurrency 8 --requests 16 --strategy autoregressive | tail -1
  echo "Rollouts (POST /rollout, 100 generations each, fed their own output):"
  timeout 180 dotnet /tmp/conway/conway.dll rollouts --url http://127.0.0.1:8080 --concurrent 1,64,256 --steps 100 --timeout 50
} 2>&1 | tee "$out/load.md"
kill $api; wait $api 2>/dev/null
if (( gpus > 1 )); then
  serve auto
  {
    echo "All $gpus GPUs (Model__Devices=auto):"
    timeout 60 dotnet /tmp/conway/conway.dll load --url http://127.0.0.1:8080 --concurrency 128 --requests 12000 | tail -1
    timeout 60 dotnet /tmp/conway/conway.dll load --url http://127.0.0.1:8080 --concurrency 32 --boards 64 --requests 600 | tail -1
  } 2>&1 | tee -a "$out/load.md"
  kill $api; wait $api 2>/dev/null
fi
