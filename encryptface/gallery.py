"""A self-contained HTML gallery of a scrub run: original | protected | restored | decoys, per face."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pyarrow.dataset as ds

from encryptface.config import Settings
from encryptface.images import decode_encoded, decode_image, encode_image
from encryptface.output import output_key, records_path
from encryptface.storage import StorageError, read_bytes

_THUMB = 160
_STYLE = """body{font-family:sans-serif;margin:1.5em;background:#fafafa}
table{border-collapse:collapse;margin-bottom:2em}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:center;vertical-align:middle}img{height:160px}code{font-size:90%}"""


def face_crop(rgb: np.ndarray, bbox: Sequence[float], margin: float = 0.35) -> np.ndarray:
    """The face box widened by ``margin`` on each side, clipped to the photo, ``_THUMB`` px high."""
    x, y, w, h = bbox
    x0, y0 = max(0, int(x - margin * w)), max(0, int(y - margin * h))
    x1, y1 = min(rgb.shape[1], int(x + w * (1 + margin))), min(rgb.shape[0], int(y + h * (1 + margin)))
    crop = rgb[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]
    scale = _THUMB / crop.shape[0]
    return cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), _THUMB),
                      interpolation=cv2.INTER_AREA)


def img_tag(rgb: np.ndarray | None) -> str:
    """An inline ``<img>`` (JPEG, base64) of an RGB image, or "n/a" for ``None``."""
    if rgb is None:
        return "<em>n/a</em>"
    data = base64.b64encode(encode_image(rgb, "jpeg", 90)).decode()
    return f'<img src="data:image/jpeg;base64,{data}">'


def _load(uri: str, settings: Settings, stored: bool) -> np.ndarray | None:
    try:
        data = read_bytes(uri, settings.storage)
        return decode_encoded(data) if stored else decode_image(data, settings.images)[0]
    except (StorageError, ValueError):
        return None


def write_gallery(scrub_output: str, output_html: str | Path, settings: Settings,
                  restored_uri: str | None = None, max_faces: int = 50,
                  decoy_uris: Sequence[str] = ()) -> Path:
    """Write the gallery of the first ``max_faces`` faces of a scrub output (with the photos
    ``encryptface restore`` wrote under ``restored_uri``, and those ``restore --decoys`` wrote
    with wrong passwords under each of ``decoy_uris``, if given) and a table of every photo
    without a face or with an error."""
    table = ds.dataset(records_path(scrub_output), format="parquet").to_table(
        columns=["source_uri", "relative_path", "status", "error", "deidentified_image", "faces"])
    face_rows, other_rows, shown = [], [], 0
    for row in table.to_pylist():
        uri = html.escape(row["source_uri"])
        if row["status"] != "ok":
            other_rows.append(f"<tr><td><code>{uri}</code></td><td>{row['status']}</td>"
                              f"<td>{html.escape(row['error'] or '')}</td></tr>")
            continue
        if shown >= max_faces:
            continue
        original = _load(row["source_uri"], settings, stored=False)
        protected = decode_encoded(row["deidentified_image"])
        back = [_load(output_key(uri, row["relative_path"], "png"), settings, stored=True)
                for uri in ([restored_uri] if restored_uri else []) + list(decoy_uris)]
        for index, face in enumerate(row["faces"][:max_faces - shown]):
            cells = [img_tag(None if image is None else face_crop(image, face["bbox"]))
                     for image in (original, protected, *back)]
            face_rows.append(f"<tr><td><code>{uri}</code><br>face {index} "
                             f"(score {face['score']:.2f})</td><td>{'</td><td>'.join(cells)}</td></tr>")
            shown += 1
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>EncryptFace gallery</title>"
            f"<style>{_STYLE}</style></head><body><h1>EncryptFace gallery</h1>"
            f"<p>{table.num_rows} photos, {shown} faces shown.</p>"
            "<table><tr><th>photo / face</th><th>original</th><th>protected</th>"
            + ("<th>restored</th>" if restored_uri else "")
            + "".join(f"<th>decoy {i + 1}<br>(wrong password)</th>" for i in range(len(decoy_uris)))
            + "</tr>"
            + "".join(face_rows) + "</table><h2>Photos without a protected face</h2>"
            "<table><tr><th>photo</th><th>status</th><th>error</th></tr>" + "".join(other_rows)
            + "</table></body></html>")
    path = Path(output_html)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
