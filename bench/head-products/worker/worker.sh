#!/bin/bash
# The project's side of bench-peer alone (PeerWorker, 10 warm-ups, 5 timed repeats, a fresh JVM per
# run), the build before (dd4afc9, checked out and packaged in /tmp/base) and after (cf66805, the
# working tree) taking turns, on the batch file of the last bench-peer run of the shape.
# Args: rounds figure shape. Results: <build>-<round>.json; summary.txt (positions/s, the median
# of each run's repeats) by sum.py.
ROUNDS=$1; FIG=$2; SHAPE=$3; OUT=/tmp/ab/worker-$SHAPE-$FIG; mkdir -p $OUT
BATCH=$(ls -t /tmp/sgdpo-bench-peer*/batch-$SHAPE.json | head -1)
export OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4 OMP_NUM_THREADS=2
for r in $(seq 1 $ROUNDS); do
  for b in base main; do
    dir=/tmp/base; [ $b = main ] && dir=/work/main
    OPENS="$(sed -n 's:.*<java17.opens>\(.*\)</java17.opens>.*:\1:p' $dir/pom.xml)"
    java -Xmx4g $OPENS -Dlog4j2.configurationFile=$dir/conf/log4j2.properties -cp "$(cat $dir/benchmarks/target/sgdpo.classpath)" io.sgdpo.bench.train.PeerWorker --shape $SHAPE --figure $FIG --batch $BATCH --warmups 10 --repeats 5 --out $OUT/$b-$r.json > $OUT/$b-$r.log 2>&1
    python3 -c "import json,sys; d=json.load(open('$OUT/$b-$r.json')); print('$b', $r, d.get('median', d.get('value')), [round(x) for x in d.get('repeats', [])] if isinstance(d.get('repeats'), list) else '')" 2>&1 | tail -1
  done
done
