#!/usr/bin/env bash
# Container entry point. Spark on Kubernetes starts the driver pod with "driver ARGS" and executor
# pods with "executor" plus SPARK_* environment variables; anything else runs as a command
# (e.g. `encryptface scrub ...` for a one-off run in local mode).
set -euo pipefail
classpath="${SPARK_HOME}/jars/*"

case "${1:-}" in
  driver)
    shift
    # The driver pod runs the job in client mode against the Kubernetes master it was given.
    exec "${SPARK_HOME}/bin/spark-submit" --deploy-mode client \
      --conf "spark.driver.bindAddress=${SPARK_DRIVER_BIND_ADDRESS:-0.0.0.0}" "$@"
    ;;
  executor)
    shift
    exec java ${SPARK_JAVA_OPT_0:-} -Xms"${SPARK_EXECUTOR_MEMORY:-1g}" -Xmx"${SPARK_EXECUTOR_MEMORY:-1g}" \
      -cp "${classpath}" org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
      --driver-url "${SPARK_DRIVER_URL}" --executor-id "${SPARK_EXECUTOR_ID}" \
      --cores "${SPARK_EXECUTOR_CORES}" --app-id "${SPARK_APPLICATION_ID}" \
      --hostname "${SPARK_EXECUTOR_POD_IP}" --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID:-0}" \
      --podName "${SPARK_EXECUTOR_POD_NAME:-}"
    ;;
  *)
    exec "$@"
    ;;
esac
