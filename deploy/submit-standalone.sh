#!/usr/bin/env bash
# Submit an EncryptFace job to a Spark standalone cluster.
#
#   deploy/submit-standalone.sh spark://HOST:7077 [scrub|restore] --input URI --output DIR [...]
#
# The password reaches the driver through ENCRYPTFACE_PASSWORD or --password-file (client deploy
# mode: the driver runs here); only the derived key is shipped to executors.
# Executors need the project's Python environment:
#   - default: the same interpreter path on every worker (PYSPARK_PYTHON, default: this .venv);
#   - PACK=1: build a relocatable copy of the environment with venv-pack and ship it via --archives.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
master="${1:?usage: $0 spark://HOST:PORT [scrub|restore] ARGS...}"; shift
job="scrub"
if [[ "${1:-}" == "scrub" || "${1:-}" == "restore" ]]; then job="$1"; shift; fi
venv="${VENV:-$here/.venv}"
submit=("$venv/bin/spark-submit" --master "$master" --deploy-mode client
        --conf spark.task.cpus="${TASK_CPUS:-1}")

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
