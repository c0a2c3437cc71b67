#!/usr/bin/env bash
# Issue #14, hard-example mining on the GPU machine (after gpu/publish.sh), in steps that each fit one call; a call
# that follows within ~30 s finds the previous one's /tmp (so carry .gpu/ only in the first):
#   bash gpu/mining.sh mine       grade BOARDS random boards (seed MINE_SEED) with MODEL: wrong-boards.txt
#   bash gpu/mining.sh finetune   conway train --init MODEL --hard-boards them (HARD: another list, e.g. earlier rounds'
#                                 boards followed by these, as models/lifegpt.hard-boards.txt); stops after MINUTES and
#                                 resumes from /tmp/finetune when run again; exports the 16-bit model when done
#   bash gpu/mining.sh grade      grade BOARDS fresh boards (seed GRADE_SEED, never used before) with the fine-tuned
#                                 model and MODEL; returns the fine-tuned model in two pieces (cat them to rejoin)
#   bash gpu/mining.sh master     returns the fine-tuned run's float32 checkpoint in four pieces (51 MB)
# Defaults: MODEL=models/lifegpt.safetensors BOARDS=100000 MINE_SEED=20261203 GRADE_SEED=20261204 STEPS=300 BATCH=64
# EVAL_BOARDS=256 MINUTES=8 EVAL_BATCH=256. The shipped model's two rounds, with these steps: models/lifegpt.md.
# Off the GPU machine (a plumbing check with tiny sizes) set CONWAY to the command that runs conway and DEVICE=cpu.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-artifacts/gpu}; mkdir -p "$out"
[ -z "${CONWAY:-}" ] && source gpu/env.sh >> "$out/mining.log"
conway() { ${CONWAY:-dotnet /tmp/conway/conway.dll} "$@"; }
boards=${BOARDS:-100000} steps=${STEPS:-300} device=${DEVICE:-auto} work=${WORK:-/tmp}
model=${MODEL:-$PWD/models/lifegpt.safetensors} tuned=$work/finetuned.safetensors
eval_random() {   # model, seed, out folder: random boards only
  conway eval --model "$1" --seed "$2" --boards "$boards" --batch "${EVAL_BATCH:-256}" --device "$device" --skip-patterns --skip-paper --skip-rollouts \
    --out "$3" 2>&1 | tee -a "$out/mining.log"
}

case ${1:-} in
  mine)
    eval_random "$model" "${MINE_SEED:-20261203}" "$work/mine"
    cp "$work/mine/wrong-boards.txt" "$work/mine/accuracy.md" "$out/" ;;
  finetune)
    conway train --init "$model" --hard-boards "${HARD:-$work/mine/wrong-boards.txt}" --steps "$steps" --batch "${BATCH:-64}" \
      --warmup 20 --lr 1e-4 --min-lr 1e-5 --eval-boards "${EVAL_BOARDS:-256}" --device "$device" --max-minutes "${MINUTES:-8}" \
      --out "$work/finetune" --export "$tuned" 2>&1 | tee -a "$out/mining.log" || exit 1
    cp "$work/finetune/train.csv" "$out/" ;;
  grade)
    eval_random "$tuned" "${GRADE_SEED:-20261204}" "$work/grade-finetuned"
    eval_random "$model" "${GRADE_SEED:-20261204}" "$work/grade-model"   # not named after MODEL's file: it may be finetuned.safetensors too
    cp "$work/grade-finetuned/accuracy.md" "$out/finetuned-accuracy.md"; cp "$work/grade-model/accuracy.md" "$out/model-accuracy.md"
    cp "${tuned%.safetensors}.train.json" "$out/"
    split -b 13M "$tuned" "$out/finetuned.safetensors.part-" ;;
  master)
    split -b 13M "$work/finetune/checkpoint.safetensors" "$out/finetune-fp32.safetensors.part-" ;;
  *) echo "usage: gpu/mining.sh mine | finetune | grade | master" >&2; exit 2 ;;
esac
