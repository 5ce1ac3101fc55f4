"""Parquet tables with an image column: what the column holds, how its bytes come out and go back
in with the same Arrow type, the key of each row, and the description a scrub run keeps of the
table it wrote (``_table.json`` in the records' run folder, read by restore).

An image column is ``binary`` (``large_binary``) or a struct with a binary ``bytes`` field (the
Hugging Face ``datasets`` layout ``{bytes, path}``); the other fields of the struct are kept.
"""

from __future__ import annotations

import dataclasses
import json

import pyarrow as pa
import pyarrow.compute as pc

from encryptface.archive.storage import ObjectInfo, list_objects, parse_uri, read_bytes, write_bytes
from encryptface.config import StorageSettings

BYTES_FIELD = "bytes"
TABLE_FILE = "_table.json"       # in the records' run folder: where the table of this run went


def check_image_column(schema: pa.Schema, column: str, id_column: str | None = None) -> None:
    """:class:`ValueError` (one line) unless ``column`` holds images and ``id_column`` exists."""
    if column not in schema.names:
        raise ValueError(f"no column {column!r} in the table (columns: {', '.join(schema.names)})")
    kind = schema.field(column).type
    if not (_is_binary(kind) or (pa.types.is_struct(kind) and kind.get_field_index(BYTES_FIELD) >= 0
                                 and _is_binary(kind.field(BYTES_FIELD).type))):
        raise ValueError(f"column {column!r} is {kind}, not binary or a struct with a binary "
                         f"{BYTES_FIELD!r} field")
    if id_column is not None and id_column not in schema.names:
        raise ValueError(f"no id column {id_column!r} in the table")


def _is_binary(kind: pa.DataType) -> bool:
    return pa.types.is_binary(kind) or pa.types.is_large_binary(kind)


def image_bytes(column: pa.ChunkedArray | pa.Array) -> list[bytes | None]:
    """The image bytes of each row (None where the value, or its ``bytes``, is null)."""
    if pa.types.is_struct(column.type):
        values = pc.struct_field(column, BYTES_FIELD)
        return [None if valid is False else value for value, valid in
                zip(values.to_pylist(), column.is_valid().to_pylist(), strict=True)]
    return column.to_pylist()


def with_images(table: pa.Table, column: str, images: list[bytes | None]) -> pa.Table:
    """``table`` with the bytes of ``column`` replaced by ``images``, same type, same other fields."""
    original = table.column(column).combine_chunks()
    kind = original.type
    if pa.types.is_struct(kind):
        fields = [pa.array(images, kind.field(BYTES_FIELD).type) if field.name == BYTES_FIELD
                  else original.field(index) for index, field in enumerate(kind)]
        replaced = pa.StructArray.from_arrays(fields, fields=list(kind), mask=pc.invert(original.is_valid()))
    else:
        replaced = pa.array(images, kind)
    return table.set_column(table.schema.get_field_index(column), table.schema.field(column), replaced)


def row_keys(table: pa.Table, id_column: str | None, relative_path: str, first_row: int = 0) -> list[str]:
    """The records' key (``relative_path``) of each row: the id column's value as text, else (and
    where the id is null) ``<file>/<row index in the file>``."""
    ids = table.column(id_column).to_pylist() if id_column else [None] * table.num_rows
    return [f"{relative_path}/{first_row + index}" if value is None else str(value)
            for index, value in enumerate(ids)]


def table_files(uri: str, storage: StorageSettings) -> list[ObjectInfo]:
    """Every Parquet data file of a dataset (partition folders included; ``_``- and
    ``.``-prefixed files and folders skipped, as Spark and pyarrow do), in key order."""
    files = [info for info in list_objects(uri, storage, (".parquet",))
             if not any(part.startswith(("_", ".")) for part in info.relative_path.split("/"))]
    if not files:
        raise FileNotFoundError(f"no Parquet files under {uri}")
    return files


@dataclasses.dataclass(frozen=True)
class TableRun:
    """What a scrub run wrote for a table: the output table's run folder, its image and id
    columns, and per input file its relative path, its records file and its row count (the
    records file holds the file's rows in the same order)."""

    table_run: str
    image_column: str
    id_column: str | None
    files: tuple[tuple[str, str, int], ...]

    def save(self, records_run: str, storage: StorageSettings) -> None:
        """Write ``_table.json`` into the records' run folder."""
        write_bytes(parse_uri(records_run).join(TABLE_FILE),
                    json.dumps(dataclasses.asdict(self), indent=1).encode(), storage)

    @classmethod
    def load(cls, records_run: str, storage: StorageSettings) -> TableRun:
        """The table a records run wrote; :class:`FileNotFoundError` when it wrote none."""
        try:
            data = json.loads(read_bytes(parse_uri(records_run).join(TABLE_FILE), storage))
        except OSError:
            raise FileNotFoundError(f"{records_run} holds no table (scrub with --image-column and "
                                    "--output-table)") from None
        return cls(data["table_run"], data["image_column"], data["id_column"],
                   tuple(tuple(entry) for entry in data["files"]))
