"""A self-contained HTML gallery of a scrub run: original | protected | restored | decoys, per face."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from encryptface.archive.output import output_key, records_dataset
from encryptface.archive.schema import STATUS_OK
from encryptface.archive.storage import StorageError, read_bytes
from encryptface.config import Settings
from encryptface.evaluation.html import face_crop, img_tag, page
from encryptface.imaging.codecs import decode_encoded, decode_image


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
    table = records_dataset(scrub_output, settings.storage).to_table(
        columns=["source_uri", "relative_path", "status", "error", "deidentified_image", "faces"])
    face_rows, other_rows, shown = [], [], 0
    for row in table.to_pylist():
        uri = html.escape(row["source_uri"])
        if row["status"] != STATUS_OK:
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
    body = (f"<p>{table.num_rows} photos, {shown} faces shown.</p>"
            "<table><tr><th>photo / face</th><th>original</th><th>protected</th>"
            + ("<th>restored</th>" if restored_uri else "")
            + "".join(f"<th>decoy {i + 1}<br>(wrong password)</th>" for i in range(len(decoy_uris)))
            + "</tr>" + "".join(face_rows) + "</table><h2>Photos without a protected face</h2>"
            "<table><tr><th>photo</th><th>status</th><th>error</th></tr>" + "".join(other_rows)
            + "</table>")
    path = Path(output_html)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page("EncryptFace gallery", body), encoding="utf-8")
    return path
