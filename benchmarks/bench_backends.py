"""Benchmark: the scrub job on the default backend (.venv) and on BigDL Orca (.venv-orca), side by side.

    python -m benchmarks.bench_backends [--modes seal,encrypt,encrypt:stylegan] [--photos 200]
        [--master local[2]]

Each run is the whole `python -m jobs.scrub` command in its own environment on the same photos (the
first N LFW validation-split photos), so the wall time includes starting the JVM (and, for Orca,
`init_orca_context`); the job's own line gives faces/s. ``encrypt:NAME`` runs encrypt with the
generator NAME (plain ``encrypt``: the configured one). One run each; results in out/bench-backends.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENVIRONMENTS = {"spark": REPO / ".venv" / "bin" / "python", "orca": REPO / ".venv-orca" / "bin" / "python"}
SUMMARY = re.compile(r"scrubbed (\d+) photos \((\d+) ok.*?(\d+) errors\), (\d+) faces in ([\d.]+)s")


def run_backend(backend: str, photos: Path, mode: str, master: str, password_file: str,
                output: Path) -> dict:
    """One scrub command (``mode`` may name a generator: ``encrypt:stylegan``); its wall time and
    what it printed about itself."""
    python = ENVIRONMENTS[backend]
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=str(python))
    job_mode, _, generator = mode.partition(":")
    command = [str(python), "-m", "jobs.scrub", "--backend", backend, "--mode", job_mode, "--input",
               str(photos), "--output", str(output), "--master", master, "--password-file", password_file,
               *(["--generator", generator] if generator else [])]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{backend} {mode} failed:\n{result.stderr[-3000:]}")
    photos_n, ok, errors, faces, job_s = SUMMARY.search(result.stdout).groups()
    return {"backend": backend, "mode": mode, "photos": int(photos_n), "ok": int(ok), "errors": int(errors),
            "faces": int(faces), "job_s": float(job_s), "wall_s": round(wall, 2),
            "faces_per_s": round(int(faces) / float(job_s), 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="seal,encrypt",
                        help="comma-separated scrub modes; encrypt:NAME picks the generator")
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--password-file", default=str(REPO / "conf" / "demo.password"))
    parser.add_argument("--output", default="out/bench-backends")
    args = parser.parse_args(argv)
    missing = [str(python) for python in ENVIRONMENTS.values() if not python.exists()]
    if missing:
        print(f"error: missing {', '.join(missing)} (make install install-orca)", file=sys.stderr)
        return 2
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    photos = output / "photos"
    subprocess.run([str(ENVIRONMENTS["spark"]), "-m", "benchmarks.make_split", "--limit", str(args.photos),
                    "--output", str(photos)], cwd=REPO, check=True, capture_output=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes.split(","):
            for backend in ENVIRONMENTS:
                rows.append(run_backend(backend, photos, mode, args.master, args.password_file,
                                        Path(tmp) / f"{backend}-{mode.replace(':', '-')}"))
                print(json.dumps(rows[-1]), flush=True)
    (output / "bench_backends.json").write_text(json.dumps(rows, indent=2))
    print(f"\n{'mode':16} {'backend':8} {'photos':>6} {'faces':>6} {'job s':>8} {'wall s':>8} {'faces/s':>8}")
    for row in rows:
        print(f"{row['mode']:16} {row['backend']:8} {row['photos']:>6} {row['faces']:>6} {row['job_s']:>8} "
              f"{row['wall_s']:>8} {row['faces_per_s']:>8}")
    print(f"(master {args.master}; wall s = the whole command incl. JVM/Orca start-up; one run each)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
