"""The manifest of a scrub output: which object version each record came from, for incremental runs.

Every scrub run writes ``_manifest/manifest.parquet`` inside its run folder (Spark and pyarrow skip
``_``-prefixed paths when they read the records, and the manifest is published with the records by
the same atomic publication). An incremental run lists the input, compares each object's size and
version (S3 ETag, local mtime) with the manifest, and scrubs only new and changed objects and those
whose bytes could not be read last time (storage or internal errors are worth another try; a
corrupt photo that was read fails the same way until it changes). The other records are carried
over from the previous run: Parquet files holding none of the replaced keys are hard-linked (S3:
copied server side), the few holding some are rewritten without them. The cost of a nightly run
follows the delta, not the archive.

Objects that are no longer listed keep their records (an archive often deletes originals once they
are scrubbed); the run summary counts them.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath

import pyarrow as pa
import pyarrow.parquet as pq

from encryptface.archive.output import data_files, output_key
from encryptface.archive.schema import MANIFEST_SCHEMA, STATUS_ERROR
from encryptface.archive.storage import (
    ObjectInfo,
    arrow_filesystem,
    copy_object,
    exists,
    parse_uri,
    write_bytes,
)
from encryptface.config import StorageSettings

MANIFEST_DIR = "_manifest"
MANIFEST_FILE = "manifest.parquet"


@dataclasses.dataclass(frozen=True)
class Delta:
    """What an incremental run has to do."""

    todo: list[ObjectInfo]           # objects to scrub now
    new: int                         # ... of which never seen before
    changed: int                     # ... of which seen with another size, version or mode
    retried: int                     # ... of which could not be read last time
    unchanged: int                   # listed objects whose records are carried over
    unlisted: int                    # records whose object is no longer listed (kept)

    @property
    def replaced(self) -> set[str]:
        """Relative paths whose previous records must not be carried over."""
        return {info.relative_path for info in self.todo}

    def describe(self) -> str:
        """One line for the job's log."""
        return (f"{len(self.todo)} to scrub ({self.new} new, {self.changed} changed, {self.retried} "
                f"retried after a read error), {self.unchanged} unchanged, {self.unlisted} no longer "
                f"listed (records kept)")


def read_manifest(run_dir: str | os.PathLike[str], storage: StorageSettings) -> pa.Table | None:
    """The manifest of a published run folder, or None when it has none (an older output)."""
    uri = parse_uri(str(run_dir)).join(f"{MANIFEST_DIR}/{MANIFEST_FILE}")
    if not exists(uri, storage):
        return None
    return read_parquet(uri, storage).cast(MANIFEST_SCHEMA)


def read_parquet(uri: str, storage: StorageSettings, columns: list[str] | None = None) -> pa.Table:
    """One Parquet file (local or S3), only ``columns`` if given."""
    filesystem, path = arrow_filesystem(uri, storage)
    return pq.read_table(path, filesystem=filesystem, columns=columns)


def write_parquet(uri: str, table: pa.Table, storage: StorageSettings) -> None:
    """Write ``table`` as one zstd Parquet file at ``uri`` (atomically: see :func:`write_bytes`)."""
    encoded = pa.BufferOutputStream()
    pq.write_table(table, encoded, compression="zstd")
    write_bytes(uri, encoded.getvalue().to_pybytes(), storage)


def plan(objects: Sequence[ObjectInfo], previous: pa.Table | None, mode: str) -> Delta:
    """Compare the listing with the previous manifest (None: everything is new); a record made
    with another protection mode than ``mode`` counts as changed."""
    if previous is None:
        return Delta(list(objects), len(objects), 0, 0, 0, 0)
    seen = {row["relative_path"]: row for row in
            previous.select(["relative_path", "size", "version", "status", "source_sha256",
                             "mode"]).to_pylist()}
    todo, new, changed, retried = [], 0, 0, 0
    for info in objects:
        row = seen.get(info.relative_path)
        if row is None:
            new += 1
        elif (row["size"], row["version"], row["mode"]) != (info.size, info.version, mode):
            changed += 1
        elif row["status"] == STATUS_ERROR and row["source_sha256"] is None:
            retried += 1
        else:
            continue
        todo.append(info)
    listed = {info.relative_path for info in objects}
    unlisted = sum(path not in listed for path in seen)
    return Delta(todo, new, changed, retried, len(objects) - len(todo), unlisted)


def carry_over(previous_run: str | os.PathLike[str], run_dir: str | os.PathLike[str],
               replaced: set[str], storage: StorageSettings) -> list[str]:
    """Bring the previous run's records into ``run_dir``, without those of ``replaced`` paths:
    files holding none of them are linked (local) or copied server side (S3), the others
    rewritten without them.

    Returns the names of the data files placed in ``run_dir``.
    """
    placed = []
    target_dir = parse_uri(str(run_dir))
    for source in data_files(previous_run, storage):
        name = PurePosixPath(source).name
        paths = read_parquet(source, storage, ["relative_path"]).column("relative_path").to_pylist()
        kept = [path not in replaced for path in paths]
        if all(kept):
            copy_object(source, target_dir.join(name), storage)
        elif any(kept):
            table = read_parquet(source, storage)
            write_parquet(target_dir.join(name), table.filter(pa.array(kept)), storage)
        else:
            continue
        placed.append(name)
    return placed


def entries_for_files(run_dir: str | os.PathLike[str], file_names: Iterable[str],
                      objects: Sequence[ObjectInfo], run_id: str, mode: str, images_uri: str | None,
                      image_format: str, storage: StorageSettings) -> pa.Table:
    """Manifest entries for the records in ``file_names``, which this run scrubbed.

    ``images_uri`` is where ``--write-images`` put the protected photos (None: not written).
    """
    by_path = {info.relative_path: info for info in objects}
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    rows = []
    for name in file_names:
        columns = ["relative_path", "source_uri", "source_sha256", "status", "deidentified_image"]
        filesystem, path = arrow_filesystem(parse_uri(str(run_dir)).join(name), storage)
        for batch in pq.ParquetFile(path, filesystem=filesystem).iter_batches(batch_size=256,
                                                                               columns=columns):
            written = batch.column("deidentified_image").is_valid().to_pylist()
            for record, has_image in zip(batch.drop_columns(["deidentified_image"]).to_pylist(), written):
                info = by_path.get(record["relative_path"])
                image = output_key(images_uri, record["relative_path"], image_format) \
                    if images_uri and has_image else None
                rows.append({**record, "size": info.size if info else None,
                             "version": info.version if info else None, "mode": mode, "data_file": name,
                             "image_uri": image, "run_id": run_id, "scrubbed_at": now})
    return pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA)


def carried_entries(previous: pa.Table | None, replaced: set[str],
                    placed: Iterable[str]) -> pa.Table:
    """The previous manifest's entries for the records carried over (same files, same names)."""
    if previous is None:
        return MANIFEST_SCHEMA.empty_table()
    placed = set(placed)
    keep = [path not in replaced and name in placed for path, name in
            zip(previous.column("relative_path").to_pylist(), previous.column("data_file").to_pylist())]
    return previous.filter(pa.array(keep, pa.bool_()))


def write_manifest(run_dir: str | os.PathLike[str], tables: Sequence[pa.Table],
                   storage: StorageSettings) -> str:
    """Write the run's manifest (the concatenation of ``tables``) into its run folder."""
    table = pa.concat_tables([t.cast(MANIFEST_SCHEMA) for t in tables]) if tables else \
        MANIFEST_SCHEMA.empty_table()
    uri = parse_uri(str(run_dir)).join(f"{MANIFEST_DIR}/{MANIFEST_FILE}")
    write_parquet(uri, table.sort_by("relative_path"), storage)
    return uri
