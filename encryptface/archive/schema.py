"""Every table EncryptFace writes or reads, in one place: the records (one Parquet row per input
photo, the output contract), the job inputs, restore, evaluation and manifest rows, their status
values, and the format of a face record's ``model_id``."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from encryptface.faces.detection import Face

STATUS_OK = "ok"
STATUS_NO_FACE = "no_face"          # records: the photo was read and holds no face
STATUS_ERROR = "error"
STATUS_SKIPPED = "skipped"          # restore: the record has nothing to restore

FACE_TYPE = pa.struct([
    ("bbox", pa.list_(pa.float32())),          # x, y, w, h in source pixels
    ("landmarks", pa.list_(pa.float32())),     # 5 points, x0 y0 ... x4 y4
    ("score", pa.float32()),
    ("mode", pa.string()),
    ("encrypted_latent", pa.binary()),
    ("kdf", pa.string()),                      # JSON: algorithm, parameters, run salt
    ("salt", pa.binary()),                     # per-record salt for the HKDF expansion
    ("model_id", pa.string()),
    ("metrics", pa.string()),                  # JSON, per-face measurements of the mode (cloak)
    ("sealed_embedding", pa.binary()),         # recogniser embedding, AES-GCM (verify.seal_embeddings)
    ("key_check", pa.binary()),                # 16 bytes: tells a right password (MasterKey.key_check)
])

RECORD_SCHEMA = pa.schema([
    ("source_uri", pa.string()),
    ("relative_path", pa.string()),            # key relative to the input prefix
    ("source_sha256", pa.string()),
    ("status", pa.string()),
    ("error", pa.string()),
    ("width", pa.int32()),
    ("height", pa.int32()),
    ("source_format", pa.string()),
    ("deidentified_image", pa.binary()),
    ("faces", pa.list_(FACE_TYPE)),
    ("seconds", pa.float64()),                 # processing time of this photo in the worker
])

INPUT_SCHEMA = pa.schema([
    ("source_uri", pa.string()),
    ("relative_path", pa.string()),
    ("size", pa.int64()),
])

VERIFY_SCHEMA = pa.schema([                   # one row per face that matched probe AND password
    ("source_uri", pa.string()),
    ("relative_path", pa.string()),
    ("face_index", pa.int32()),
    ("distance", pa.float64()),
])

RESTORE_SCHEMA = pa.schema([
    ("source_uri", pa.string()),
    ("output_uri", pa.string()),
    ("status", pa.string()),
    ("error", pa.string()),
    ("faces_restored", pa.int32()),
])

EVALUATION_SCHEMA = pa.schema([
    ("source_uri", pa.string()),
    ("relative_path", pa.string()),
    ("status", pa.string()),
    ("error", pa.string()),
    ("measurement", pa.string()),             # JSON, see encryptface.evaluation.measure.measure_face
    ("thumbnails", pa.list_(pa.binary())),    # JPEG face crops for the report's gallery
])

EMBEDDING_SCHEMA = pa.schema([("uri", pa.string()), ("embeddings", pa.string()), ("error", pa.string())])

MANIFEST_SCHEMA = pa.schema([
    ("relative_path", pa.string()),
    ("source_uri", pa.string()),
    ("size", pa.int64()),
    ("version", pa.string()),          # "etag:..." (S3) or "mtime:<ns>" (local file)
    ("source_sha256", pa.string()),
    ("status", pa.string()),
    ("mode", pa.string()),             # the protection mode the record was made with
    ("data_file", pa.string()),        # the Parquet file (in the run folder) holding the record
    ("image_uri", pa.string()),        # the protected photo written by --write-images, if any
    ("run_id", pa.string()),           # the run that scrubbed this version
    ("scrubbed_at", pa.string()),      # UTC, ISO 8601
])

# A face record's model_id: "<detector id>+<mode's model id>", and a mode's model id begins with
# the id of the model it used, then "/" and how it used it (e.g. "<generator id>/permuted/openvino").


def record_model_id(detector_id: str, mode_model_id: str) -> str:
    """The ``model_id`` stored in a face record."""
    return f"{detector_id}+{mode_model_id}"


def generator_of(model_id: str) -> str:
    """The id of the model a face record was made with (its mode's model id up to the first /)."""
    return model_id.partition("+")[2].partition("/")[0]


def error_row(source_uri: str, relative_path: str, message: str, source_sha256: str | None = None,
              seconds: float = 0.0) -> dict:
    """A row for a photo that could not be processed, saying why."""
    return {"source_uri": source_uri, "relative_path": relative_path, "source_sha256": source_sha256,
            "status": STATUS_ERROR, "error": message, "width": None, "height": None,
            "source_format": None, "deidentified_image": None, "faces": [], "seconds": seconds}


def to_batch(rows: list[dict]) -> pa.RecordBatch:
    """Rows (dicts with the contract's keys) as an Arrow batch of :data:`RECORD_SCHEMA`."""
    return pa.RecordBatch.from_pylist(rows, schema=RECORD_SCHEMA)


def record_face(face: dict) -> Face:
    """The detection stored in a face record (box, landmarks, score)."""
    return Face(bbox=tuple(face["bbox"]), landmarks=np.asarray(face["landmarks"], np.float32).reshape(5, 2),
                score=float(face["score"]))
