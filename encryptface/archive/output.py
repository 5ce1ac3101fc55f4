"""Output layout and atomic publication of a dataset (the records, an output table).

Every run writes into a fresh run folder ``OUTPUT/.runs/<run id>/``, from the executors, and the
driver then publishes it with one small atomic step taken last:

- a local folder: ``OUTPUT/records`` is a symlink to ``.runs/<run id>``, swapped with one
  ``rename`` (readers keep reading ``OUTPUT/records`` with any Parquet reader);
- object storage (``s3://bucket/prefix``): the object ``OUTPUT/_CURRENT`` holds the run id, written
  with one PUT (S3 replaces an object atomically and reads after a write see it).

Readers resolve the published run through :func:`records_path` (one resolver for every job); they
see the previous complete run or the new one, never a mix. A run killed before its publication
leaves the previous run published; older runs are deleted only after the new one is.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path, PurePosixPath

import pyarrow.dataset as ds

from encryptface.archive.storage import (
    arrow_filesystem,
    delete_tree,
    list_folders,
    list_objects,
    parse_uri,
    read_bytes,
    write_bytes,
)
from encryptface.config import StorageSettings

RECORDS = "records"      # local: the link to the published run of the records
TABLE = "table"          # local: the link to the published run of an output table
RUNS = ".runs"           # the run folders
CURRENT = "_CURRENT"     # object storage: the published run's id, the commit written last
_RUN_ID = re.compile(r"^[0-9A-Za-z._-]+$")


def check_output_uri(uri: str) -> str:
    """``uri`` when it can hold an output (a path, ``file://`` or ``s3://bucket[/prefix]``), else
    :class:`ValueError` with one line saying why (the jobs refuse it before any work)."""
    location = parse_uri(uri)
    if location.scheme == "s3" and not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", location.bucket):
        raise ValueError(f"not a valid S3 bucket name in {uri!r}")
    if location.scheme == "file" and Path(location.key).is_file():
        raise ValueError(f"output {uri} is a file, not a folder")
    return uri


def new_run_dir(output: str | os.PathLike[str]) -> str:
    """The URI (a local path or ``s3://``) of a fresh run folder for this run's files; a local
    folder is created."""
    run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    run = parse_uri(str(output)).join(f"{RUNS}/{run_id}")
    if parse_uri(run).scheme != "s3":
        Path(run).mkdir(parents=True)
    return run


def run_id_of(run: str | os.PathLike[str]) -> str:
    """The id of a run folder (its last path component)."""
    return PurePosixPath(str(run).rstrip("/")).name


def publish(output: str | os.PathLike[str], run: str | os.PathLike[str],
            storage: StorageSettings | None = None, link: str = RECORDS, clean: bool = True) -> str:
    """Publish ``run`` as the current dataset of ``output`` atomically and (``clean``) delete the
    other runs. ``link`` names the local symlink; ``storage`` is needed on S3 only. Returns the
    published run's URI."""
    output, run_id = str(output), run_id_of(run)
    location = parse_uri(output)
    if location.scheme == "s3":
        write_bytes(location.join(CURRENT), run_id.encode() + b"\n", storage)
    else:
        target = Path(location.key) / link
        if target.exists() and not target.is_symlink():
            raise FileExistsError(f"{target} exists and is not an EncryptFace link; not replacing")
        temporary = Path(location.key) / f".{link}.{uuid.uuid4().hex[:8]}"
        temporary.symlink_to(Path(RUNS) / run_id)
        os.replace(temporary, target)
    if clean:
        clean_runs(output, run_id, storage)
    return location.join(f"{RUNS}/{run_id}")


def clean_runs(output: str | os.PathLike[str], keep: str, storage: StorageSettings | None) -> None:
    """Delete every run folder of ``output`` but ``keep`` (a run id). Called after publishing:
    readers that resolved the previous run just before lose it, as with any replaced dataset."""
    runs = parse_uri(str(output)).join(RUNS)
    for name in list_folders(runs, storage):
        if name != keep:
            delete_tree(parse_uri(runs).join(name), storage)


def records_path(path: str | os.PathLike[str], storage: StorageSettings | None = None,
                 link: str = RECORDS) -> Path | str:
    """The published Parquet dataset of a scrub output (a local :class:`Path`, or the ``s3://``
    URI of its run folder: S3 needs ``storage``), or the dataset folder itself when ``path`` is
    one. :class:`FileNotFoundError` when there is none."""
    location = parse_uri(str(path))
    if location.scheme == "s3":
        if storage is None:
            raise ValueError("reading records on S3 needs the storage settings")
        try:
            run_id = read_bytes(location.join(CURRENT), storage).decode().strip()
        except OSError:
            run_id = ""
        if run_id:
            if not _RUN_ID.match(run_id):
                raise FileNotFoundError(f"{location.join(CURRENT)} does not name a run: {run_id[:40]!r}")
            return location.join(f"{RUNS}/{run_id}")
        if any(True for _ in data_files(str(path), storage)):
            return str(path).rstrip("/")
        raise FileNotFoundError(f"no EncryptFace records in {path} (expected {location.join(CURRENT)})")
    candidate = Path(location.key)
    if (candidate / link).exists():
        return (candidate / link).resolve()
    if candidate.is_dir() and any(candidate.glob("*.parquet")):
        return candidate.resolve()
    raise FileNotFoundError(f"no EncryptFace records in {candidate} (expected {candidate / link})")


def records_dataset(path: str | os.PathLike[str], storage: StorageSettings | None = None) -> ds.Dataset:
    """The published records of a scrub output as a pyarrow dataset (local, or S3 with ``storage``),
    for readers outside Spark."""
    dataset = records_path(path, storage)
    if parse_uri(str(dataset)).scheme != "s3":
        return ds.dataset(dataset, format="parquet")
    filesystem, _ = arrow_filesystem(str(dataset), storage)
    return ds.dataset([arrow_filesystem(uri, storage)[1] for uri in data_files(dataset, storage)],
                      filesystem=filesystem, format="parquet")


def data_files(dataset: str | os.PathLike[str], storage: StorageSettings) -> list[str]:
    """The URIs of the Parquet data files directly in a dataset folder, in name order (not those
    in ``_``- or ``.``-prefixed subfolders, such as the manifest)."""
    return [info.uri for info in list_objects(str(dataset), storage, (".parquet",))
            if "/" not in info.relative_path and not info.relative_path.startswith(("_", "."))]


def record_file_name(run_dir: str | os.PathLike[str], partition: int) -> str:
    """The records file of one partition of a run: the run id in the name keeps it apart from the
    files an incremental run carries over from earlier runs; the partition number makes a retried
    task replace its own file."""
    return f"part-{partition:05d}-{run_id_of(run_dir)}.zstd.parquet"


def output_key(base_uri: str, relative_path: str, image_format: str) -> str:
    """Where a photo's output goes: same relative key, extension of the encoding written."""
    suffix = ".jpg" if image_format == "jpeg" else f".{image_format}"
    return parse_uri(base_uri).join(str(PurePosixPath(relative_path).with_suffix(suffix)))
