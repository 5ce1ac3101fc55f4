"""Verification at archive scale: 1:1 and 1:N on a synthetic output of many records.

    python -m benchmarks.verify_scale [--records 100000] [--people 20] [--restore-records 2000]

Scrubs the first photo of ``--people`` LFW people (seal mode, plain process) twice: with sealed
embeddings (``verify.seal_embeddings = true``) and without. Each scrubbed row is copied (new
relative path and URI; the copies still decrypt: a record is bound to its photo's bytes) into
``--records`` rows, written as Parquet files of 10,000 rows in 128 MB row groups (as Spark writes
them) and published like a scrub output. Then, with the second photo of person 0 as the probe:
- 1:1: ``encryptface verify --photo KEY`` in a fresh process, end to end (3 runs);
- 1:N: the Spark job on local[2] over every sealed record, and over ``--restore-records`` records
  without sealed embeddings (restore + embed, the path older records take); records/s per core.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from encryptface.archive.output import new_run_dir, publish
from encryptface.archive.schema import to_batch
from encryptface.config import Settings, load_settings
from encryptface.crypto.keys import KdfParams, Password, derive_master_key
from encryptface.pipeline.scrubber import Scrubber
from encryptface.training.data import identity_images, split_identities

PASSWORD = "verify-scale benchmark password"
ROWS_PER_FILE = 10_000
ROW_GROUP_BYTES = 128 * 2 ** 20  # Spark's parquet.block.size, so that 1:1 reads what it would read


def scrubbed_people(settings: Settings, people: int, seal_embeddings: bool) -> tuple[list[dict], Path]:
    """Seal-mode rows of the first photo of ``people`` validation people; and person 0's 2nd photo."""
    data, names = split_identities(settings, "validation")
    chosen = [photos for name in names if len(photos := identity_images(data, [name])) >= 2][:people]
    settings = settings.replace(verify=dataclasses.replace(settings.verify,
                                                           seal_embeddings=seal_embeddings))
    key = derive_master_key(Password(PASSWORD.encode()), KdfParams(14, 8, 1, b"verify-scale-salt"))
    scrubber = Scrubber(settings, "seal")
    rows = [scrubber.scrub(str(p[0]), p[0].name, p[0].read_bytes(), key) for p in chosen]
    return [r for r in rows if r["faces"]], chosen[0][1]


def synthetic_output(rows: list[dict], count: int, output: Path) -> float:
    """``count`` copies of ``rows`` published as a scrub output; returns the written GB."""
    run = Path(new_run_dir(output))
    row_bytes = to_batch(rows).nbytes / len(rows)
    group_rows = max(1, int(ROW_GROUP_BYTES / row_bytes))
    for start in range(0, count, ROWS_PER_FILE):
        copies = [dict(rows[i % len(rows)], relative_path=synthetic_key(rows, i),
                       source_uri=f"file:///synthetic/{i:06d}.jpg")
                  for i in range(start, min(count, start + ROWS_PER_FILE))]
        pq.write_table(pa.Table.from_batches([to_batch(copies)]),
                       run / f"part-{start // ROWS_PER_FILE:05d}.parquet", compression="zstd",
                       row_group_size=group_rows)
    publish(output, run)
    return sum(f.stat().st_size for f in run.glob("*.parquet")) / 1e9


def synthetic_key(rows: list[dict], index: int) -> str:
    """The relative path of copy ``index`` (a copy of ``rows[index % len(rows)]``)."""
    return f"synthetic/{index:06d}/{rows[index % len(rows)]['relative_path']}"


WORKER_LINE = re.compile(r"verified (\d+) records in ([\d.]+)s")


def run_verify(args: list[str]) -> tuple[float, str, float | None]:
    """``encryptface verify`` in a fresh process: (wall seconds, its last line, the workers'
    records per second of their own time, from their log lines)."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "jobs.cli", "verify", *args], capture_output=True,
                            text=True)
    wall = time.perf_counter() - started
    batches = [(int(n), float(s)) for n, s in WORKER_LINE.findall(result.stderr)]
    busy = sum(s for _, s in batches)
    rate = round(sum(n for n, _ in batches) / busy, 1) if busy else None
    return wall, result.stdout.strip().splitlines()[-1], rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--restore-records", type=int, default=2_000)
    parser.add_argument("--output", default="out/verify-scale")
    args = parser.parse_args(argv)
    settings = load_settings(overrides=["kdf.n_log2=14"])
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    password_file = output / "password.txt"
    password_file.write_text(PASSWORD + "\n")
    report: dict = {"records": args.records, "people": args.people}
    sealed_rows, probe = scrubbed_people(settings, args.people, seal_embeddings=True)
    plain_rows, _ = scrubbed_people(settings, args.people, seal_embeddings=False)
    report["sealed_gb"] = round(synthetic_output(sealed_rows, args.records, output / "sealed"), 2)
    synthetic_output(plain_rows, args.restore_records, output / "restore")
    common = ["--password-file", str(password_file), "--probe", str(probe), "--set", "kdf.n_log2=14"]
    # copies of person 0's record at the start, the middle and the end of the dataset
    people = len(sealed_rows)
    copies = (0, args.records // 2 // people * people, (args.records - 1) // people * people)
    one = [run_verify(["--records", str(output / "sealed"), *common, "--photo",
                       synthetic_key(sealed_rows, i)]) for i in copies]
    report["one_to_one_seconds"] = [round(s, 2) for s, _, _ in one]
    report["one_to_one_last_line"] = one[0][1]
    for name, records in (("sealed", args.records), ("restore", args.restore_records)):
        seconds, line, rate = run_verify(["--records", str(output / name), *common, "--master",
                                          "local[2]"])
        report[f"one_to_n_{name}"] = {"records": records, "wall_s": round(seconds, 1), "last_line": line,
                                      "records_per_s_per_core_end_to_end": round(records / seconds / 2, 1),
                                      "records_per_s_per_core_in_workers": rate}
    report["one_to_one_median_s"] = round(statistics.median(report["one_to_one_seconds"]), 2)
    print(json.dumps(report, indent=2))
    (output / "report.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
