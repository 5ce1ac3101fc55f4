"""EncryptFace as a step of your own Spark job: a DataFrame in, the same DataFrame out with its
image column protected and the face records in one struct column beside it.

    from jobs.dataframe import FaceProtector, protect, restore
    protected = protect(df, "image", password, mode="seal")          # a function ...
    protected = FaceProtector(imageCol="image", mode="seal").transform(df)   # ... or a Transformer

The image column is ``binary`` or a struct with a binary ``bytes`` field (the Hugging Face layout);
it keeps its type. The password is read and the key derived on the driver; only the derived key
reaches the executors, and the Transformer's saved params hold neither (only where to read the
password from). See docs/tables.md.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Iterable, Iterator

import pyarrow as pa
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame
from pyspark.sql.pandas.types import from_arrow_type
from pyspark.sql.types import StructField, StructType

from encryptface.archive.schema import RECORD_SCHEMA
from encryptface.archive.table import check_image_column, image_bytes, with_images
from encryptface.config import Settings
from encryptface.crypto.keys import KdfParams, KeyRing, MasterKey, Password, derive_master_key, read_password
from encryptface.modes import is_reversible
from encryptface.pipeline.restorer import Restorer
from encryptface.pipeline.table import RestoreCounts, restore_rows, scrub_rows
from jobs.common import settings_from

RECORD_COLUMN = "encryptface"
# The record fields kept in the record column: the photo itself is the image column, and the
# row is the key.
RECORD_FIELDS = [f for f in RECORD_SCHEMA if f.name not in ("deidentified_image", "source_uri")]
RECORD_TYPE = pa.struct(RECORD_FIELDS)


def make_settings(overrides: Iterable[str] = (), generator: str | None = None) -> Settings:
    """Settings from conf/default.toml with ``section.key=value`` overrides and a generator, as the
    command line makes them (``--set``, ``--generator``)."""
    return settings_from(argparse.Namespace(conf=None, set=list(overrides), generator=generator,
                                            endpoint_url=None))


def protect(df: DataFrame, image_column: str, password: Password | None, mode: str = "seal",
            settings: Settings | None = None, id_column: str | None = None,
            record_column: str = RECORD_COLUMN) -> DataFrame:
    """``df`` with ``image_column`` protected (null where a row's image could not be; its record
    says why) and the face records in the struct column ``record_column``. Every row stays, in
    its partition's order. ``password`` may be None only for a mode without a key (cloak)."""
    settings = settings or make_settings()
    check_image_column(_arrow_schema(df), image_column, id_column)
    if record_column in df.columns:
        raise ValueError(f"the DataFrame already has a column {record_column!r}")
    master_key = None
    if is_reversible(mode):
        if password is None:
            raise ValueError(f"mode {mode} needs a password")
        master_key = derive_master_key(password, KdfParams.fresh(settings.kdf))  # on the driver
    work = functools.partial(_protect_batches, image_column=image_column, id_column=id_column,
                             record_column=record_column, settings=settings, mode=mode,
                             master_key=master_key)
    schema = StructType([*df.schema.fields, StructField(record_column, from_arrow_type(RECORD_TYPE))])
    return df.mapInArrow(work, schema)


def _protect_batches(batches: Iterable[pa.RecordBatch], image_column: str, id_column: str | None,
                     record_column: str, settings: Settings, mode: str,
                     master_key: MasterKey | None) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        table = pa.Table.from_batches([batch])
        keys = [None if value is None else str(value) for value in table.column(id_column).to_pylist()] \
            if id_column else [None] * table.num_rows
        rows, protected = scrub_rows(table, image_column, keys, "dataframe", 0, settings, mode, master_key,
                                     settings.spark.threads_per_task)
        records = pa.array([{name: row[name] for name in RECORD_TYPE.names} for row in rows], RECORD_TYPE)
        yield from protected.append_column(record_column, records).to_batches()


def restore(df: DataFrame, image_column: str, password: Password, settings: Settings | None = None,
            record_column: str = RECORD_COLUMN) -> DataFrame:
    """The inverse of :func:`protect`: ``image_column`` with the original faces (PNG, exact in
    every face region), null where there is nothing to restore; the record column is dropped.
    The keys of every KDF setting in the records are derived here, on the driver."""
    settings = settings or make_settings()
    keys = KeyRing(password)
    for (kdf,) in df.selectExpr(f"explode({record_column}.faces.kdf) AS kdf").where("kdf IS NOT NULL") \
            .distinct().collect():
        keys.get(kdf)
    work = functools.partial(_restore_batches, image_column=image_column, record_column=record_column,
                             settings=settings, keys=keys)
    return df.mapInArrow(work, df.drop(record_column).schema)


def _restore_batches(batches: Iterable[pa.RecordBatch], image_column: str, record_column: str,
                     settings: Settings, keys: KeyRing) -> Iterator[pa.RecordBatch]:
    restorer = Restorer(settings, settings.spark.threads_per_task)
    for batch in batches:
        table = pa.Table.from_batches([batch])
        records = [{**record, "deidentified_image": image, "source_uri": "dataframe"}
                   for record, image in zip(table.column(record_column).to_pylist(),
                                            image_bytes(table.column(image_column)), strict=True)]
        images = restore_rows(records, restorer, keys, RestoreCounts())
        yield from with_images(table.drop_columns([record_column]), image_column, images).to_batches()


def _arrow_schema(df: DataFrame) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(df.schema)


class FaceProtector(Transformer, DefaultParamsReadable, DefaultParamsWritable):
    """A ``pyspark.ml`` Transformer around :func:`protect`. Saved with ``.save(path)`` and loaded
    with ``FaceProtector.load(path)``; its params hold the settings, never a password or key: the
    password is read at ``transform`` time from ``passwordFile`` (else ``ENCRYPTFACE_PASSWORD``)."""

    # Spark ML's naming (camelCase params), which its persistence and users expect.
    imageCol = Param(Params._dummy(), "imageCol", "the image column (binary or struct with bytes)",  # noqa: N815
                     TypeConverters.toString)
    idCol = Param(Params._dummy(), "idCol", "a column whose value keys the record (optional)",  # noqa: N815
                  TypeConverters.toString)
    recordCol = Param(Params._dummy(), "recordCol", "the struct column the face records go to",  # noqa: N815
                      TypeConverters.toString)
    mode = Param(Params._dummy(), "mode", "seal, encrypt or cloak", TypeConverters.toString)
    generator = Param(Params._dummy(), "generator", "encrypt's generator (as --generator)",
                      TypeConverters.toString)
    settingsOverrides = Param(Params._dummy(), "settingsOverrides",  # noqa: N815
                              "section.key=value settings (as --set)", TypeConverters.toListString)
    passwordFile = Param(Params._dummy(), "passwordFile", "file whose first line is the password "  # noqa: N815
                         "(a path, read on the driver at transform time)", TypeConverters.toString)

    def __init__(self, imageCol: str = "image", mode: str = "seal",  # noqa: N803 - Spark ML naming
                 recordCol: str = RECORD_COLUMN, settingsOverrides: list[str] | None = None,  # noqa: N803
                 generator: str | None = None, idCol: str | None = None,  # noqa: N803
                 passwordFile: str | None = None) -> None:  # noqa: N803
        super().__init__()
        self._setDefault(imageCol="image", mode="seal", recordCol=RECORD_COLUMN, settingsOverrides=[])
        self._set(imageCol=imageCol, mode=mode, recordCol=recordCol,
                  settingsOverrides=list(settingsOverrides or []))
        for name, value in (("generator", generator), ("idCol", idCol), ("passwordFile", passwordFile)):
            if value is not None:
                self._set(**{name: value})

    def _optional(self, param: Param) -> str | None:
        return self.getOrDefault(param) if self.isDefined(param) else None

    def _transform(self, dataset: DataFrame) -> DataFrame:
        mode = self.getOrDefault(self.mode)
        settings = make_settings(self.getOrDefault(self.settingsOverrides), self._optional(self.generator))
        password = read_password(self._optional(self.passwordFile)) if is_reversible(mode) else None
        return protect(dataset, self.getOrDefault(self.imageCol), password, mode, settings,
                       self._optional(self.idCol), self.getOrDefault(self.recordCol))
