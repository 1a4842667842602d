#!/usr/bin/env bash
# The README's "from a folder to an aligned folder" with the pretrained stories260K on HH-RLHF:
# ref-logps over every pair, then 40 steps of train, by the build before (BEFORE: a checkout built
# with `mvn package`) and after (AFTER), taking turns, N rounds. Prep runs once, by AFTER.
# Wall seconds of each command go to OUT/times.tsv; each command's output to OUT/<side>-<round>-*.log.
#   bench/llama-passes/job.sh BEFORE AFTER OUT [N]
set -euo pipefail
BEFORE=$(realpath "$1")
AFTER=$(realpath "$2")
OUT=$(realpath -m "$3")
N=${4:-2}
M=$(realpath "$AFTER/../shared/models/stories260K")
DATA=$(realpath "$AFTER/../shared/data/hh-rlhf/harmless-base-test.jsonl.gz")
mkdir -p "$OUT"
[[ -d "$OUT/prep" ]] || (cd "$AFTER" && ./sgdpo prep --input "$DATA" --output "$OUT/prep" --tokenizer-from "$M" \
    -Dprep.maxPromptLength=128 -Dprep.maxTotalLength=256 > "$OUT/prep.log" 2>&1)
timed() { # side round name command...
  local side=$1 round=$2 name=$3; shift 3
  local start end
  start=$(date +%s.%N)
  "$@" > "$OUT/$side-$round-$name.log" 2>&1
  end=$(date +%s.%N)
  printf '%s\t%s\t%s\t%.1f\n' "$side" "$round" "$name" "$(echo "$end - $start" | bc)" | tee -a "$OUT/times.tsv"
}
for round in $(seq 1 "$N"); do
  for side in before after; do
    dir=$BEFORE; [[ $side == after ]] && dir=$AFTER
    rm -rf "$OUT/$side-ref" "$OUT/$side-train"
    (cd "$dir" && timed "$side" "$round" ref-logps ./sgdpo ref-logps --data "$OUT/prep" --model "$M" \
        --output "$OUT/$side-ref" -Dmodel.maxLength=256)
    (cd "$dir" && timed "$side" "$round" train ./sgdpo train --data "$OUT/$side-ref" --init "$M" \
        --output "$OUT/$side-train" -Dmodel.maxLength=256 -Dtrain.maxSteps=40)
  done
done
