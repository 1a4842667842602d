#!/usr/bin/env bash
# A real Spark standalone cluster on this machine: a master and workers on 127.0.0.1, each its own
# JVM, and executor JVMs started by the workers, all from the project's own Maven-resolved Spark
# jars (spark-job/target/spark-home/jars, written by `mvn package`; no Spark download).
#
#   bench/cluster.sh start             start the master and the workers; print the master URL
#   bench/cluster.sh submit ARGS...    spark-submit the job jar: sgdpo ARGS (e.g. prep --input ...)
#   bench/cluster.sh status            the master URL and the process ids of master, workers, executors
#   bench/cluster.sh stop              stop everything start started, by process id
#   bench/cluster.sh demo [RECORDS]    start; prep, sft, ref-logps and train (ParameterAveraging, then
#                                      SharedTraining) on the first RECORDS (default 1200) HH records; stop
#   bench/cluster.sh learn             ClusterIT through Maven: the demo's arithmetic task trained with
#                                      SGDPO in local mode and on the cluster with each training master,
#                                      same reference, data, seed and steps; its record (eval curves in
#                                      one plot, the table of eval accuracy and gold exact match) goes to
#                                      bench/cluster/learn.md, .json and .png
#   bench/cluster.sh bench             the full ClusterIT through Maven: the same, on a larger HH slice for
#                                      prep, and an executor JVM killed in the middle of ref-logps and of
#                                      training; its record goes to bench/cluster/cluster.md and .json
#
# Environment: SGDPO_CLUSTER_DIR (state, logs and work folders; default spark-job/target/cluster),
# SGDPO_CLUSTER_WORKERS (2), SGDPO_WORKER_CORES (1), SGDPO_WORKER_MEMORY (3g),
# SGDPO_EXECUTOR_MEMORY (2g), SGDPO_DRIVER_MEMORY (2g), SGDPO_SHARED_DATA (../shared/data),
# SGDPO_CLUSTER_JAVA_OPTS (more JVM options for a submission's driver and executors), JAVA (java
# on PATH). Every process this script starts is recorded in $SGDPO_CLUSTER_DIR/pids and stopped by
# that id; `demo` stops the cluster on exit, also when a step fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${SGDPO_CLUSTER_DIR:-$ROOT/spark-job/target/cluster}"
JAVA="${JAVA:-java}"
export SPARK_HOME="$ROOT/spark-job/target/spark-home"
# The cluster lives on loopback; the launcher library needs the Scala version of the jars.
export SPARK_LOCAL_IP=127.0.0.1 SPARK_SCALA_VERSION=2.12 OPT_OUT_TRACKING=true

die() { echo "cluster.sh: $*" >&2; exit 2; }

opens() {
  local o
  o="$(sed -n 's:.*<java17.opens>\(.*\)</java17.opens>.*:\1:p' "$ROOT/pom.xml")"
  [[ -n "$o" ]] || die "cannot read the java17.opens property from $ROOT/pom.xml"
  echo "$o"
}

job_jar() {
  local jars=("$ROOT"/spark-job/target/sgdpo-spark-job-*-job.jar)
  [[ ${#jars[@]} -eq 1 && -f "${jars[0]}" ]] || die "expected one job jar in spark-job/target (run: mvn -DskipTests package)"
  echo "${jars[0]}"
}

alive() { kill -0 "$1" 2>/dev/null; }

# Waits until FILE holds at least COUNT lines matching PATTERN; fails naming the log after SECONDS.
wait_for() {
  local file="$1" pattern="$2" count="$3" seconds="$4" i
  for ((i = 0; i < seconds * 5; i++)); do
    if [[ -f "$file" ]] && (( $(grep -c -- "$pattern" "$file" || true) >= count )); then
      return 0
    fi
    sleep 0.2
  done
  die "timed out after ${seconds}s waiting for '$pattern' in $file"
}

start() {
  [[ -d "$SPARK_HOME/jars" ]] || die "no $SPARK_HOME/jars (run: mvn -DskipTests package)"
  if [[ -s "$DIR/pids" ]]; then
    while read -r _ pid; do
      alive "$pid" && die "a cluster started from $DIR is still running (bench/cluster.sh stop)"
    done < "$DIR/pids"
  fi
  rm -rf "$DIR" && mkdir -p "$DIR/logs"
  # SharedTraining's Aeron media drivers leave folders in /dev/shm: stop removes the new ones.
  ls /dev/shm 2>/dev/null | grep '^aeron-' > "$DIR/shm-before" || true
  local workers="${SGDPO_CLUSTER_WORKERS:-2}" opts i
  opts="$(opens)"
  : > "$DIR/pids"
  # shellcheck disable=SC2086  # the option string splits into words
  nohup "$JAVA" -Xmx512m $opts -cp "$SPARK_HOME/jars/*" org.apache.spark.deploy.master.Master \
    --host 127.0.0.1 --port 0 --webui-port 0 > "$DIR/logs/master.log" 2>&1 &
  echo "master $!" >> "$DIR/pids"
  wait_for "$DIR/logs/master.log" "Starting Spark master at spark://" 1 90
  local url
  url="$(grep -o 'spark://127\.0\.0\.1:[0-9]*' "$DIR/logs/master.log" | head -n 1)"
  echo "$url" > "$DIR/master-url"
  for ((i = 1; i <= workers; i++)); do
    mkdir -p "$DIR/work/worker-$i"
    # shellcheck disable=SC2086
    nohup "$JAVA" -Xmx512m $opts -cp "$SPARK_HOME/jars/*" org.apache.spark.deploy.worker.Worker \
      --host 127.0.0.1 --port 0 --webui-port 0 --cores "${SGDPO_WORKER_CORES:-1}" \
      --memory "${SGDPO_WORKER_MEMORY:-3g}" --work-dir "$DIR/work/worker-$i" "$url" \
      > "$DIR/logs/worker-$i.log" 2>&1 &
    echo "worker-$i $!" >> "$DIR/pids"
  done
  wait_for "$DIR/logs/master.log" "Registering worker" "$workers" 90
  echo "$url"
}

master_url() {
  [[ -s "$DIR/master-url" ]] || die "no cluster started from $DIR (bench/cluster.sh start)"
  cat "$DIR/master-url"
}

submit() {
  local url jar opts
  url="$(master_url)"
  jar="$(job_jar)"
  opts="$(opens) ${SGDPO_CLUSTER_JAVA_OPTS:-}"
  # Client mode: this JVM is the driver. One executor per worker core, each fetching the job jar
  # from the driver; the Java options go to the driver (here) and to every executor; ND4J uses one
  # thread per executor core. The default file system is the local disk seen through viewfs, as
  # HDFS would be on a real cluster: DL4J's SharedTraining refuses to export its minibatches to a
  # default file system of scheme file:// outside local mode.
  # shellcheck disable=SC2086
  exec "$JAVA" -Xmx"${SGDPO_DRIVER_MEMORY:-2g}" $opts -Dai.djl.offline=true \
    -Dlog4j2.configurationFile="$ROOT/conf/log4j2.properties" \
    -Dsgdpo.shared.data="${SGDPO_SHARED_DATA:-$ROOT/../shared/data}" \
    -cp "$SPARK_HOME/jars/*" org.apache.spark.deploy.SparkSubmit \
    --master "$url" --deploy-mode client --class io.sgdpo.cli.Sgdpo \
    --conf spark.ui.enabled=false \
    --conf spark.executor.cores=1 --conf spark.executor.memory="${SGDPO_EXECUTOR_MEMORY:-2g}" \
    --conf "spark.executor.extraJavaOptions=$opts -Dai.djl.offline=true" \
    --conf spark.executorEnv.OPT_OUT_TRACKING=true \
    --conf spark.executorEnv.OMP_NUM_THREADS=1 \
    --conf spark.executorEnv.OMP_WAIT_POLICY=PASSIVE \
    --conf spark.executorEnv.OPENBLAS_THREAD_TIMEOUT=4 \
    --conf spark.hadoop.fs.defaultFS=viewfs://sgdpo/ \
    --conf spark.hadoop.fs.viewfs.mounttable.sgdpo.linkFallback=file:/// \
    "$jar" "$@"
}

status() {
  master_url
  [[ -s "$DIR/pids" ]] || { echo "stopped"; return 0; }
  while read -r name pid; do
    if alive "$pid"; then
      echo "$name $pid running"
      for child in $(pgrep -P "$pid" || true); do
        echo "  executor $child"
      done
    else
      echo "$name $pid stopped"
    fi
  done < "$DIR/pids"
}

stop() {
  [[ -s "$DIR/pids" ]] || return 0
  local name pid children=() all=() i
  while read -r name pid; do
    all+=("$pid")
    # Executors are the workers' child processes; a worker stopped by SIGTERM stops its own, and
    # whatever is left is killed below by its id.
    for child in $(pgrep -P "$pid" || true); do children+=("$child"); done
  done < "$DIR/pids"
  # Workers first (they are listed after the master), then the master.
  for ((i = ${#all[@]} - 1; i >= 0; i--)); do
    if alive "${all[i]}"; then kill "${all[i]}" 2>/dev/null || true; fi
  done
  for pid in "${all[@]}" "${children[@]}"; do
    for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.2; done
    if alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
  done
  mv "$DIR/pids" "$DIR/pids.stopped"
  remove_aeron_folders
}

# Removes the /dev/shm/aeron-* folders that appeared since start and that no running process maps
# (another program's live media driver on this machine is left alone).
remove_aeron_folders() {
  [[ -f "$DIR/shm-before" ]] || return 0
  local d
  for d in $(ls /dev/shm 2>/dev/null | grep '^aeron-' || true); do
    grep -qx -- "$d" "$DIR/shm-before" && continue
    if ! grep -qs -- "/dev/shm/$d/" /proc/[0-9]*/maps; then
      rm -rf -- "/dev/shm/${d:?}"
    fi
  done
}

demo() {
  local records="${1:-1200}" data="${SGDPO_SHARED_DATA:-$ROOT/../shared/data}" run
  [[ -f "$data/hh-rlhf/harmless-base-test.jsonl.gz" ]] || die "no HH data under $data (set SGDPO_SHARED_DATA)"
  start > /dev/null
  trap stop EXIT
  trap 'exit 130' INT TERM
  run="$DIR/demo"
  mkdir -p "$run"
  gzip -dc "$data/hh-rlhf/harmless-base-test.jsonl.gz" | head -n "$records" > "$run/hh-slice.jsonl"
  local small=(-Dprep.maxPromptLength=24 -Dprep.maxTotalLength=48 -Dtokenizer.vocabSize=200
               -Dprep.evalFraction=0.15 -Dprep.maxRejectFraction=0.5 -Dprep.shardTargetBytes=64KiB
               -Dmodel.maxLength=48 -Dmodel.dModel=32 -Dmodel.layers=1 -Dmodel.heads=2)
  local train=(-Dtrain.maxSteps=120 -Dtrain.batchSize=8 -Dtrain.learningRate=1e-3 -Dtrain.logEvery=10
               -Dtrain.evalEvery=40 -Dtrain.checkpointEvery=40)
  (submit prep --input "$run/hh-slice.jsonl" --output "$run/prep" "${small[@]}")
  (submit sft --data "$run/prep" --output "$run/sft" "${small[@]}" -Dsft.epochs=2 -Dsft.batchSize=8 \
     -Dsft.learningRate=3e-3 -Dsft.trainEvalPairs=32)
  local ckpt
  ckpt="$(ls -d "$run"/sft/checkpoints/step-* | sort | tail -n 1)"
  (submit ref-logps --data "$run/prep" --model "$ckpt" --output "$run/ref" "${small[@]}")
  (submit train --data "$run/ref" --init "$ckpt" --output "$run/train-pa" "${small[@]}" "${train[@]}")
  (submit train --data "$run/ref" --init "$ckpt" --output "$run/train-shared" "${small[@]}" "${train[@]}" \
     -Dtrain.master.kind=sharedTraining)
  echo "cluster.sh demo: outputs under $run"
}

# ClusterIT through Maven, recording the code version and this command line; extra arguments go to Maven.
cluster_it() {
  local command="$1" commit dirty
  shift
  cd "$ROOT"
  commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
  dirty=false
  [[ -z "$(git status --porcelain 2>/dev/null)" ]] || dirty=true
  mvn -B -ntp -pl spark-job -am verify -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false \
    -Dit.test=ClusterIT -Dsgdpo.cluster.command="$command" -Dsgdpo.cluster.commit="$commit" \
    -Dsgdpo.cluster.dirty="$dirty" "$@"
}

learn() {
  cluster_it "bench/cluster.sh learn" -Dsgdpo.cluster.record=true
}

bench() {
  cluster_it "bench/cluster.sh bench" -Dsgdpo.cluster.full=true
}

case "${1:-}" in
  start) start ;;
  submit) shift; submit "$@" ;;
  status) status ;;
  stop) stop ;;
  demo) shift; demo "$@" ;;
  learn) learn ;;
  bench) bench ;;
  *) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
