#!/usr/bin/env bash
# Submit an EncryptFace job to a Spark standalone cluster.
#
#   deploy/submit-standalone.sh spark://HOST:7077 [scrub|restore|evaluate|verify] ARGS...
#   ORCA=1 deploy/submit-standalone.sh spark://HOST:7077 scrub --backend orca ARGS...
#
# The password reaches the driver through ENCRYPTFACE_PASSWORD or --password-file (client deploy
# mode: the driver runs here); only the derived key is shipped to executors.
# Executors need the project's Python environment:
#   - default: the same interpreter path on every worker (PYSPARK_PYTHON, default: this .venv);
#   - PACK=1: build a relocatable copy of the environment with venv-pack and ship it via --archives.
# ORCA=1: the BigDL Orca environment (default VENV .venv-orca, `make install-orca`), with Orca's
# jars and properties on the driver and the executors, as Orca's own bigdl-submit passes them.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
master="${1:?usage: $0 spark://HOST:PORT [scrub|restore] ARGS...}"; shift
job="scrub"
if [[ "${1:-}" =~ ^(scrub|restore|evaluate|verify)$ ]]; then job="$1"; shift; fi
if [[ "${ORCA:-0}" == "1" ]]; then venv="${VENV:-$here/.venv-orca}"; else venv="${VENV:-$here/.venv}"; fi
submit=("$venv/bin/spark-submit" --master "$master" --deploy-mode client
        --conf spark.task.cpus="${TASK_CPUS:-1}")
if [[ "${ORCA:-0}" == "1" ]]; then
  read -r bigdl_conf bigdl_jars < <("$venv/bin/python" -c "from bigdl.dllib.utils.engine import \
get_bigdl_conf, get_bigdl_jars; print(get_bigdl_conf(), ','.join(get_bigdl_jars()))")
  # BigDL's Engine refuses to start without the executors' and the job's cores (EXECUTOR_CORES,
  # default 2; TOTAL_CORES, default EXECUTOR_CORES: one executor).
  submit+=(--properties-file "$bigdl_conf" --jars "$bigdl_jars" --executor-cores "${EXECUTOR_CORES:-2}"
           --total-executor-cores "${TOTAL_CORES:-${EXECUTOR_CORES:-2}}"
           --conf "spark.driver.extraClassPath=${bigdl_jars//,/:}"
           --conf "spark.executor.extraClassPath=${bigdl_jars//,/:}"
           --conf spark.executorEnv.PYTHONHOME=)
  export PYTHONHOME=
fi

if [[ "${PACK:-0}" == "1" ]]; then
  # A non-editable install in a throwaway venv, packed into a tarball the executors unpack.
  build="$here/build/pack"
  rm -rf "$build" && python3 -m venv "$build/venv"
  "$build/venv/bin/pip" install --quiet "torch==2.13.0" "$here" venv-pack
  "$build/venv/bin/venv-pack" -p "$build/venv" -o "$build/encryptface-env.tar.gz" --force
  # Executors run the unpacked copy; the driver (client mode) keeps this machine's environment.
  submit+=(--archives "$build/encryptface-env.tar.gz#env"
           --conf spark.pyspark.python=./env/bin/python
           --conf "spark.pyspark.driver.python=$venv/bin/python")
else
  export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$venv/bin/python}"
fi
export PYSPARK_DRIVER_PYTHON="${PYSPARK_DRIVER_PYTHON:-$venv/bin/python}"
cd "$here"
exec "${submit[@]}" "jobs/$job.py" "$@"
