#!/usr/bin/env bash
# Builds an sgdpo image from the repository root (the build context):
#
#   docker/build.sh [cpu|cuda] [extra docker build arguments...]    -> image sgdpo:cpu or sgdpo:cuda
#
# The job jar comes first: mvn package writes spark-job/target/sgdpo-spark-job-VERSION-job.jar,
# with ND4J's CPU backend by default or its CUDA 11.6 backend with -Pcuda. The two builds write
# the same file name: build the image right after its jar.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kind="${1:-cpu}"
shift || true
case "$kind" in
  cpu)  profile=() ;;
  cuda) profile=(-Pcuda) ;;
  *) echo "usage: docker/build.sh [cpu|cuda] [docker build args...]" >&2; exit 2 ;;
esac

cd "$ROOT"
mvn -B -ntp "${profile[@]}" -DskipTests package -pl spark-job -am
docker build -f "docker/$kind/Dockerfile" -t "sgdpo:$kind" "$@" .
