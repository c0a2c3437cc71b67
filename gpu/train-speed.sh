#!/usr/bin/env bash
# Training-step speed on the GPU machine (after gpu/publish.sh): the steady ms a step of `conway train` (steps 20-70 of
# 80 at batch 64, from train.csv), the per-phase profile (--profile 30), a kernel summary of about one and a half steps
# by ncu (where it can read the counters: ncu.csv) and a 300-step run's held-out accuracy. BASE=.gpu/<file>.tar.xz (an
# earlier commit's Conway.Cli, published as gpu/publish.sh does) runs the same before, for a comparison on one card.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-artifacts/gpu}; mkdir -p "$out"; log=$out/train-speed.log
source gpu/env.sh | tee -a "$log"
apps=(/tmp/conway)
if [ -n "${BASE:-}" ]; then mkdir -p /tmp/base && tar -xJf "$BASE" -C /tmp/base && apps=(/tmp/base /tmp/conway); fi
steady() {   # train.csv, batch: ms a step and tokens/s between the second and the second-to-last log rows
  python3 - "$1" "$2" <<'PY'
import csv, sys
rows = {int(r['step']): float(r['elapsed_s']) for r in csv.DictReader(open(sys.argv[1]))}
steps = sorted(rows); a, b = steps[1], steps[-2]
ms = (rows[b] - rows[a]) / (b - a) * 1000
print(f"steady, steps {a}-{b}: {ms:.1f} ms a step, {int(sys.argv[2]) * 2070 / ms / 1000:.3f} M tokens/s")
PY
}
for app in "${apps[@]}"; do
  echo "== $app ($(date -u +%H:%M:%S))" | tee -a "$log"
  for run in 1 2; do
    rm -rf /tmp/speed; timeout 200 dotnet "$app/conway.dll" train --steps 80 --log-every 10 --eval-every 100000 --checkpoint-every 100000 --out /tmp/speed 2>&1 | grep -E "^train:|^trained" | tee -a "$log"
    steady /tmp/speed/train.csv 64 | tee -a "$log"
  done
  rm -rf /tmp/speed; timeout 200 dotnet "$app/conway.dll" train --steps 40 --eval-every 100000 --checkpoint-every 100000 --out /tmp/speed --profile 30 2>&1 | grep "^|\|^profile" | tee -a "$log"
  rm -rf /tmp/speed; timeout 200 dotnet "$app/conway.dll" train --steps 300 --log-every 100 --eval-every 300 --checkpoint-every 100000 --out /tmp/speed 2>&1 | grep -E "^step|^trained" | tee -a "$log"
done
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
rm -rf /tmp/speed; timeout 150 "$ncu" --clock-control none --metrics gpu__time_duration.sum --launch-skip 6000 --launch-count 1500 --print-summary per-kernel --csv \
  dotnet /tmp/conway/conway.dll train --steps 12 --log-every 100 --eval-every 100000 --checkpoint-every 100000 --out /tmp/speed > "$out/ncu.csv" 2>> "$log"
echo "ncu exit $? ($(date -u +%H:%M:%S))" | tee -a "$log"
