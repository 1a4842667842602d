#!/bin/bash
# Compiles and runs PaddingProbe against the build's classpath: bench/length-buckets/probe.sh STEPS ROUNDS [CONF]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CP="$(cat "$ROOT/benchmarks/target/sgdpo.classpath")"
OPENS="$(sed -n 's:.*<java17.opens>\(.*\)</java17.opens>.*:\1:p' "$ROOT/pom.xml")"
OUT="$(mktemp -d)"
javac -d "$OUT" -cp "$CP" "$ROOT/bench/length-buckets/PaddingProbe.java"
cd "$ROOT"
# the environment ./sgdpo sets (OPENBLAS_CORETYPE: this machine's AVX-512 kernel)
# shellcheck disable=SC2086
exec env OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-SkylakeX}" OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4 \
  SPARK_LOCAL_IP=127.0.0.1 java -Xmx4g $OPENS -Dlog4j2.configurationFile="$ROOT/conf/log4j2.properties" \
  -Dsgdpo.shared.data="$ROOT/../shared/data" -cp "$OUT:$CP" \
  io.sgdpo.bench.train.PaddingProbe "$@"
