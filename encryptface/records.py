"""The output contract: one Parquet row per input photo (Arrow schema and row helpers)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from encryptface.detection import Face

STATUS_OK = "ok"
STATUS_NO_FACE = "no_face"
STATUS_ERROR = "error"

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
