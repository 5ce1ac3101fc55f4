"""The HTML pieces the gallery and the report share: one page style, inline JPEG images, face
thumbnails and tables."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence

import cv2
import numpy as np

from encryptface.imaging.codecs import encode_image

THUMBNAIL_HEIGHT = 160
THUMBNAIL_JPEG_QUALITY = 90
STYLE = ("body{font-family:sans-serif;margin:1.5em;background:#fafafa}"
         "table{border-collapse:collapse;margin-bottom:2em}"
         "td,th{border:1px solid #ccc;padding:4px 8px;text-align:center;vertical-align:middle}"
         f"td img{{height:{THUMBNAIL_HEIGHT}px}}code{{font-size:90%}}.charts img{{height:300px;margin:4px}}")


def face_crop(rgb: np.ndarray, bbox: Sequence[float], margin: float = 0.35) -> np.ndarray:
    """The face box widened by ``margin`` on each side, clipped to the photo, thumbnail high."""
    x, y, w, h = bbox
    x0, y0 = max(0, int(x - margin * w)), max(0, int(y - margin * h))
    x1, y1 = min(rgb.shape[1], int(x + w * (1 + margin))), min(rgb.shape[0], int(y + h * (1 + margin)))
    crop = rgb[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]
    scale = THUMBNAIL_HEIGHT / crop.shape[0]
    return cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), THUMBNAIL_HEIGHT),
                      interpolation=cv2.INTER_AREA)


def thumbnail_jpeg(rgb: np.ndarray) -> bytes:
    """An image as the JPEG bytes a page shows."""
    return encode_image(rgb, "jpeg", THUMBNAIL_JPEG_QUALITY)


def jpeg_tag(data: bytes) -> str:
    """An inline ``<img>`` of JPEG bytes."""
    return f'<img src="data:image/jpeg;base64,{base64.b64encode(data).decode()}">'


def img_tag(rgb: np.ndarray | None) -> str:
    """An inline ``<img>`` of an RGB image, or "n/a" for ``None``."""
    return "<em>n/a</em>" if rgb is None else jpeg_tag(thumbnail_jpeg(rgb))


def table_rows(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A header row and rows of escaped text cells."""
    return "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>" + "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)


def page(title: str, body: str) -> str:
    """A complete, self-contained HTML page."""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>")
