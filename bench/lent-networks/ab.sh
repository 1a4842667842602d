#!/usr/bin/env bash
# Two builds taking turns: ./bench/lent-networks/ab.sh BEFORE_CHECKOUT AFTER_CHECKOUT OUT MINIBATCHES [CONF]
# Each run is `sgdpo bench-train --job-only` with Spark's event log on; rounds.py then reads, from
# each run's log, the ParameterAveraging rounds' Spark jobs (median duration, the slower task's run
# time, the driver's gap between rounds).
set -euo pipefail
before="$1"; after="$2"; out="$3"; minibatches="$4"; conf="${5:-}"
mkdir -p "$out"
for r in 1 2; do
  for b in before after; do
    if [[ $b == before ]]; then dir="$before"; else dir="$after"; fi
    ev="$out/events-$b-$r"; rm -rf "$ev"; mkdir -p "$ev"
    (cd "$dir" && SGDPO_JAVA_OPTS="-Xmx4g -Dspark.eventLog.enabled=true -Dspark.eventLog.dir=file://$ev" \
      ./sgdpo bench-train --minibatches "$minibatches" ${conf:+--conf "$conf"} --repeats 1 --job-only \
      --out "$out/job-$b-$r" > "$out/job-$b-$r.log" 2>&1)
    python3 "$(dirname "$0")/rounds.py" "$(ls -t "$ev"/* | head -n 1)" | sed "s|^[^:]*:|$b-$r:|" | tee -a "$out/rounds.txt"
  done
done
