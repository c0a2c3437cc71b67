#!/usr/bin/env bash
# Issue #14, training and hard-example mining on the GPU machine (after gpu/publish.sh), in steps that each fit one
# call; a call that follows within ~30 s finds the previous one's /tmp (so carry .gpu/ only in the first):
#   bash gpu/mining.sh base       a base run from scratch: conway train --steps BASE_STEPS (seed 1) to --min-lr MIN_LR;
#                                 stops after MINUTES and resumes from /tmp/base when run again; exports
#                                 /tmp/base.safetensors when done (then MODEL=/tmp/base.safetensors for the steps below)
#   bash gpu/mining.sh mine       grade BOARDS random boards (seed MINE_SEED) with MODEL: wrong-boards.txt
#   bash gpu/mining.sh finetune   conway train --init MODEL --hard-boards them (HARD: another list, e.g. earlier rounds'
#                                 boards followed by these); stops after MINUTES and resumes from /tmp/finetune when run
#                                 again; exports the 16-bit model when done
#   bash gpu/mining.sh grade      grade BOARDS fresh boards (seed GRADE_SEED, never used before) with the fine-tuned
#                                 model and MODEL; returns the fine-tuned model in two pieces (cat them to rejoin)
#   bash gpu/mining.sh report     docs/ACCURACY.md's two runs for MODEL: BOARDS random boards (seed REPORT_SEED), the named
#                                 patterns and SOUPS soups of SOUP_STEPS steps; then the LifeGPT test sets (in PAPER)
#   bash gpu/mining.sh master     returns the fine-tuned run's float32 checkpoint in four pieces (51 MB)
# Defaults: MODEL=models/lifegpt.safetensors BASE_STEPS=6000 MIN_LR=1e-5 BOARDS=100000 MINE_SEED=20261203
# GRADE_SEED=20261204 REPORT_SEED=20261207 SOUPS=100 SOUP_STEPS=1000 STEPS=300 BATCH=64 EVAL_BOARDS=256 MINUTES=8
# EVAL_BATCH=256 PAPER=/tmp/lifegpt. The shipped model's steps and seeds: models/lifegpt.md.
# A call brings back at most 8 files, so the logs, lists, cards and reports of every step so far go into one
# $OUT/results.tar (tar -xf it); only models travel beside it.
# Off the GPU machine (a plumbing check with tiny sizes) set CONWAY to the command that runs conway and DEVICE=cpu.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-artifacts/gpu} work=${WORK:-/tmp}; results=$work/results; mkdir -p "$out" "$results"
[ -z "${CONWAY:-}" ] && source gpu/env.sh >> "$results/mining.log"
conway() { ${CONWAY:-dotnet /tmp/conway/conway.dll} "$@" 2>&1 | tee -a "$results/mining.log"; return "${PIPESTATUS[0]}"; }
boards=${BOARDS:-100000} steps=${STEPS:-300} device=${DEVICE:-auto} paper=${PAPER:-/tmp/lifegpt}
model=${MODEL:-$PWD/models/lifegpt.safetensors} tuned=$work/finetuned.safetensors
eval_random() {   # model, seed, out folder: random boards only
  conway eval --model "$1" --seed "$2" --boards "$boards" --batch "${EVAL_BATCH:-256}" --device "$device" --skip-patterns --skip-paper --skip-rollouts \
    --out "$3"
}
keep() {          # results name, file
  cp "$2" "$results/$1"
}
trap 'tar -cf "$out/results.tar" -C "$results" .' EXIT

case ${1:-} in
  base)
    conway train --steps "${BASE_STEPS:-6000}" --batch "${BATCH:-64}" --min-lr "${MIN_LR:-1e-5}" --log-every 50 --eval-every 500 --device "$device" \
      --max-minutes "${MINUTES:-8}" --out "$work/base" --export "$work/base.safetensors" || exit 1
    keep base.train.csv "$work/base/train.csv" ;;
  mine)
    eval_random "$model" "${MINE_SEED:-20261203}" "$work/mine"
    keep wrong-boards.txt "$work/mine/wrong-boards.txt"; keep mine-accuracy.md "$work/mine/accuracy.md" ;;
  finetune)
    conway train --init "$model" --hard-boards "${HARD:-$work/mine/wrong-boards.txt}" --steps "$steps" --batch "${BATCH:-64}" \
      --warmup 20 --lr 1e-4 --min-lr 1e-5 --eval-boards "${EVAL_BOARDS:-256}" --device "$device" --max-minutes "${MINUTES:-8}" \
      --out "$work/finetune" --export "$tuned" || exit 1
    keep finetune.train.csv "$work/finetune/train.csv"; keep finetuned.train.json "${tuned%.safetensors}.train.json" ;;
  grade)
    eval_random "$tuned" "${GRADE_SEED:-20261204}" "$work/grade-finetuned"
    eval_random "$model" "${GRADE_SEED:-20261204}" "$work/grade-model"   # not named after MODEL's file: it may be finetuned.safetensors too
    keep finetuned-accuracy.md "$work/grade-finetuned/accuracy.md"; keep model-accuracy.md "$work/grade-model/accuracy.md"
    split -b 13M "$tuned" "$out/finetuned.safetensors.part-" ;;
  report)
    conway eval --model "$model" --seed "${REPORT_SEED:-20261207}" --boards "$boards" --batch 1024 --device "$device" --soups "${SOUPS:-100}" \
      --soup-steps "${SOUP_STEPS:-1000}" --out "$work/report-random"
    conway eval --model "$model" --boards 0 --skip-patterns --device "$device" --out "$work/report-paper" \
      --paper-10 "$paper/conway_test_states_32by32_20240716_151502.csv" --paper-250 "$paper/conway_test_states_32by32_20240827_172807.csv"
    for part in random paper; do
      keep "report-$part.json" "$work/report-$part/accuracy.json"; keep "report-$part.md" "$work/report-$part/accuracy.md"
    done ;;
  master)
    split -b 13M "$work/finetune/checkpoint.safetensors" "$out/finetune-fp32.safetensors.part-" ;;
  *) echo "usage: gpu/mining.sh base | mine | finetune | grade | report | master" >&2; exit 2 ;;
esac
