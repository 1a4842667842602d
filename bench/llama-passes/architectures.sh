#!/usr/bin/env bash
# GPT-2 and Llama at mid width, two builds taking turns, two rounds: `sgdpo bench-train --job-only`
# with gpt2-mid.conf and llama-mid.conf.
#   bench/llama-passes/architectures.sh BEFORE_CHECKOUT AFTER_CHECKOUT OUT [MINIBATCHES]
# BEFORE needs bench-train's JobVariants building the conf's architecture (a patch of it applied).
set -euo pipefail
before=$(realpath "$1"); after=$(realpath "$2"); out=$(realpath -m "$3"); minibatches=${4:-40}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
for r in 1 2; do
  for arch in gpt2 llama; do
    for b in before after; do
      if [[ $b == before ]]; then dir="$before"; else dir="$after"; fi
      (cd "$dir" && ./sgdpo bench-train --minibatches "$minibatches" --conf "$here/$arch-mid.conf" \
        --repeats 1 --job-only --out "$out/$arch-$b-$r" > "$out/$arch-$b-$r.log" 2>&1)
      echo "$arch $b $r done $(date +%T)"
    done
  done
done
