#!/usr/bin/env bash
# docs/PERFORMANCE.md, "bf16 on the CPU": the 2,000-board eval set decoded on the GPU machine's CPU in float32 and in
# bfloat16 (after gpu/publish.sh), timed, and the greedy outputs compared board by board.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-artifacts/gpu}; mkdir -p "$out"
source gpu/env.sh > "$out/cpu-precision.log"
{ lscpu | grep -E "Model name|^CPU\(s\)"; echo "bf16 flags: $(grep -o -E 'avx512_bf16|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"; } >> "$out/cpu-precision.log"
for precision in bf16 fp32; do
  start=$(date +%s)
  timeout 280 dotnet /tmp/conway/conway.dll eval --device cpu --precision $precision --skip-patterns --skip-paper --skip-rollouts \
    --model models/lifegpt.safetensors --out /tmp/eval-$precision > /tmp/eval-$precision.log 2>&1
  echo "$precision: exit $?, $(( $(date +%s) - start )) s, $(grep -m1 'random boards' /tmp/eval-$precision/accuracy.md)" >> "$out/cpu-precision.log"
  cp /tmp/eval-$precision/predictions.txt "$out/predictions-$precision.txt"
done
echo "boards with different outputs: $(paste -d' ' "$out/predictions-bf16.txt" "$out/predictions-fp32.txt" | awk '$1 != $2' | wc -l) of $(wc -l < "$out/predictions-fp32.txt")" >> "$out/cpu-precision.log"
cat "$out/cpu-precision.log"
