"""The manifest of a scrub output: which object version each record came from, for incremental runs.

Every scrub run writes ``_manifest/manifest.parquet`` inside its run folder (Spark and pyarrow skip
``_``-prefixed paths when they read the records, and the manifest is published with the records by
the same atomic link swap). An incremental run lists the input, compares each object's size and
version (S3 ETag, local mtime) with the manifest, and scrubs only new and changed objects and those
whose bytes could not be read last time (storage or internal errors are worth another try; a
corrupt photo that was read fails the same way until it changes). The other records are carried
over from the previous run: Parquet files holding none of the replaced keys are hard-linked, the
few holding some are rewritten without them. The cost of a nightly run follows the delta, not the
archive.

Objects that are no longer listed keep their records (an archive often deletes originals once they
are scrubbed); the run summary counts them.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from encryptface.archive.output import output_key
from encryptface.archive.schema import MANIFEST_SCHEMA, STATUS_ERROR
from encryptface.archive.storage import ObjectInfo

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


def read_manifest(run_dir: str | os.PathLike[str]) -> pa.Table | None:
    """The manifest of a published run folder, or None when it has none (an older output)."""
    path = Path(run_dir) / MANIFEST_DIR / MANIFEST_FILE
    if not path.is_file():
        return None
    return pq.read_table(path, schema=MANIFEST_SCHEMA)


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
               replaced: set[str]) -> list[str]:
    """Bring the previous run's records into ``run_dir``, without those of ``replaced`` paths.

    Returns the names of the data files placed in ``run_dir``.
    """
    placed = []
    for source in sorted(Path(previous_run).glob("*.parquet")):
        target = Path(run_dir) / source.name
        paths = pq.read_table(source, columns=["relative_path"]).column("relative_path").to_pylist()
        kept = [path not in replaced for path in paths]
        if all(kept):
            _link_or_copy(source, target)
        elif any(kept):
            table = pq.read_table(source)
            pq.write_table(table.filter(pa.array(kept)), target, compression="zstd")
        else:
            continue
        placed.append(target.name)
    return placed


def entries_for_files(run_dir: str | os.PathLike[str], file_names: Iterable[str],
                      objects: Sequence[ObjectInfo], run_id: str, mode: str, images_uri: str | None,
                      image_format: str) -> pa.Table:
    """Manifest entries for the records in ``file_names``, which this run scrubbed.

    ``images_uri`` is where ``--write-images`` put the protected photos (None: not written).
    """
    by_path = {info.relative_path: info for info in objects}
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    rows = []
    for name in file_names:
        columns = ["relative_path", "source_uri", "source_sha256", "status", "deidentified_image"]
        for batch in pq.ParquetFile(Path(run_dir) / name).iter_batches(batch_size=256, columns=columns):
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


def write_manifest(run_dir: str | os.PathLike[str], tables: Sequence[pa.Table]) -> Path:
    """Write the run's manifest (the concatenation of ``tables``) into its run folder."""
    folder = Path(run_dir) / MANIFEST_DIR
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.concat_tables([t.cast(MANIFEST_SCHEMA) for t in tables]) if tables else \
        MANIFEST_SCHEMA.empty_table()
    path = folder / MANIFEST_FILE
    pq.write_table(table.sort_by("relative_path"), path, compression="zstd")
    return path


def _link_or_copy(source: Path, target: Path) -> None:
    # A hard link costs no I/O; the previous run folder is deleted after publishing, which only
    # drops its name. Filesystems without hard links get a copy.
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
