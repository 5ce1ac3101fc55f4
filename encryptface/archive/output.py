"""Output folder layout and atomic replacement of the records dataset.

``OUTPUT/records`` is a symlink to ``OUTPUT/.runs/<run id>``. A run writes its Parquet files into
a fresh run folder and then swaps the link with one ``rename``: readers see either the previous
complete dataset or the new one, never a mix, and a run killed mid-write leaves the old one intact.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path, PurePosixPath

from encryptface.archive.storage import parse_uri

RECORDS = "records"
RUNS = ".runs"


def new_run_dir(output_dir: str | os.PathLike[str]) -> Path:
    """A fresh, not yet existing folder for this run's Parquet files."""
    run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    runs = Path(output_dir) / RUNS
    runs.mkdir(parents=True, exist_ok=True)
    return runs / run_id


def publish(output_dir: str | os.PathLike[str], run_dir: Path) -> Path:
    """Point ``OUTPUT/records`` at ``run_dir`` atomically and delete older runs."""
    output = Path(output_dir)
    link = output / RECORDS
    if link.exists() and not link.is_symlink():
        raise FileExistsError(f"{link} exists and is not an EncryptFace records link; not replacing")
    temporary = output / f".{RECORDS}.{uuid.uuid4().hex[:8]}"
    temporary.symlink_to(Path(RUNS) / run_dir.name)
    os.replace(temporary, link)
    for stale in (output / RUNS).iterdir():
        if stale.name != run_dir.name:
            shutil.rmtree(stale, ignore_errors=True)
    return link


def records_path(path: str | os.PathLike[str]) -> Path:
    """The Parquet dataset for a scrub output folder (or the dataset folder itself)."""
    candidate = Path(path)
    if (candidate / RECORDS).exists():
        return (candidate / RECORDS).resolve()
    if candidate.is_dir() and any(candidate.glob("*.parquet")):
        return candidate.resolve()
    raise FileNotFoundError(f"no EncryptFace records in {candidate} (expected {candidate / RECORDS})")


def record_file_name(run_dir: str | os.PathLike[str], partition: int) -> str:
    """The records file of one partition of a run: the run id in the name keeps it apart from the
    files an incremental run carries over from earlier runs; the partition number makes a retried
    task replace its own file."""
    return f"part-{partition:05d}-{Path(run_dir).name}.zstd.parquet"


def output_key(base_uri: str, relative_path: str, image_format: str) -> str:
    """Where a photo's output goes: same relative key, extension of the encoding written."""
    suffix = ".jpg" if image_format == "jpeg" else f".{image_format}"
    return parse_uri(base_uri).join(str(PurePosixPath(relative_path).with_suffix(suffix)))
