#!/usr/bin/env bash
# docs/PERFORMANCE.md, "Speculative decoding with imperfect checkpoints": speculative vs plain greedy decoding per
# checkpoint quality on the GPU machine (after gpu/publish.sh). Two calls, the second on the still-warm machine:
#   bash gpu/checkpoints.sh trained          trains the 300-step checkpoint (conway train, seed 1), benches it beside
#                                            the shipped model, and returns it in two pieces (cat them to rejoin)
#   bash gpu/checkpoints.sh reference FILE   benches the reference library's under-trained checkpoint, carried in
#                                            that call without .gpu/ (runtime + model + it would pass 64 MiB)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-artifacts/gpu}; mkdir -p "$out"
source gpu/env.sh > "$out/checkpoints.log"
conway() { local limit=$1; shift; timeout "$limit" dotnet /tmp/conway/conway.dll "$@"; }   # conway SECONDS verb ...
shipped=$PWD/models/lifegpt.safetensors trained=/tmp/t300/lifegpt-300.safetensors

bench() {   # checkpoints: both strategies; speculative with the rent-or-buy bound, with hard bounds of 8 and 2 passes, reusing the cache
  conway 200 bench --model "$1" --strategies speculative --batches-speculative 1,64,256,1024 --repeats 5 2>&1 | tee -a "$out/checkpoints.log"
  conway 100 bench --model "$1" --strategies speculative --batches-speculative 1024 --repeats 3 --max-passes 8 2>&1 | tee -a "$out/checkpoints.log"
  conway 100 bench --model "$1" --strategies speculative --batches-speculative 256,1024 --repeats 3 --max-passes 2 2>&1 | tee -a "$out/checkpoints.log"
  conway 100 bench --model "$1" --strategies speculative --batches-speculative 64,256 --repeats 3 --reuse-cache yes 2>&1 | tee -a "$out/checkpoints.log"
  conway 150 bench --model "$1" --strategies autoregressive --batches-autoregressive 64,256 --repeats 1 2>&1 | tee -a "$out/checkpoints.log"
}

case ${1:-} in
  trained)
    [ -f "$trained" ] || conway 300 train --steps 300 --out /tmp/t300 --log-every 50 --eval-every 100 --export "$trained" 2>&1 | tee -a "$out/checkpoints.log"
    cp /tmp/t300/lifegpt-300.train.json "$out/"
    split -b 13M "$trained" "$out/lifegpt-300.safetensors.part-"
    bench "$shipped,$trained" ;;
  reference)
    bench "$PWD/$2" ;;
  *) echo "usage: gpu/checkpoints.sh trained | reference FILE" >&2; exit 2 ;;
esac
