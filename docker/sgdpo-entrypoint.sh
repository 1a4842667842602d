#!/usr/bin/env bash
# Entry point of the sgdpo images.
#
#   docker run IMAGE <command> [options]     e.g. docker run IMAGE prep --input /data/raw --output /data/prep
#
# runs spark-submit --class io.sgdpo.cli.Sgdpo /opt/sgdpo/sgdpo-job.jar <command> [options], in local
# mode unless SGDPO_SUBMIT_OPTS names a master (e.g. "--master spark://host:7077 --executor-memory 6g").
# The Kubernetes roles (driver, executor), which Spark itself starts in this image when it is
# spark.kubernetes.container.image, go to Spark's own entry point unchanged.
set -euo pipefail

case "${1:-}" in
  driver|executor)
    exec /opt/entrypoint.sh "$@"
    ;;
esac
# shellcheck disable=SC2086  # SGDPO_SUBMIT_OPTS is a list of options
exec "$SPARK_HOME/bin/spark-submit" ${SGDPO_SUBMIT_OPTS:-} --class io.sgdpo.cli.Sgdpo /opt/sgdpo/sgdpo-job.jar "$@"
