"""Small pictures without a plotting library: image grids and line charts (OpenCV drawing)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]


def image_grid(images: Sequence[np.ndarray], columns: int, pad: int = 2) -> np.ndarray:
    """Same-size RGB images in a grid (row-major), white padding."""
    height, width = images[0].shape[:2]
    rows = -(-len(images) // columns)
    grid = np.full((rows * (height + pad) + pad, columns * (width + pad) + pad, 3), 255, np.uint8)
    for index, image in enumerate(images):
        y, x = pad + (index // columns) * (height + pad), pad + (index % columns) * (width + pad)
        grid[y:y + height, x:x + width] = image
    return grid


def line_chart(x: Sequence[float], series: Mapping[str, Sequence[float]], title: str,
               size: tuple[int, int] = (640, 400)) -> np.ndarray:
    """An RGB line chart of ``series`` over ``x`` with a legend and y-axis bounds."""
    width, height = size
    left, right, top, bottom = 60, 20, 40, 40
    chart = np.full((height, width, 3), 255, np.uint8)
    values = np.concatenate([np.asarray(v, float) for v in series.values()])
    low, high = float(values.min()), float(values.max())
    span = high - low or 1.0
    x = np.asarray(x, float)
    x_span = float(x.max() - x.min()) or 1.0

    def to_px(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        px = left + (xs - x.min()) / x_span * (width - left - right)
        py = top + (high - ys) / span * (height - top - bottom)
        return np.stack([px, py], axis=1).astype(np.int32)

    cv2.rectangle(chart, (left, top), (width - right, height - bottom), (0, 0, 0), 1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(chart, title, (left, 25), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(chart, f"{high:.3g}", (5, top + 5), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(chart, f"{low:.3g}", (5, height - bottom), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(chart, f"{x.min():.0f}", (left, height - 15), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(chart, f"{x.max():.0f}", (width - right - 40, height - 15), font, 0.4, (0, 0, 0), 1,
                cv2.LINE_AA)
    for index, (name, ys) in enumerate(series.items()):
        colour = _COLOURS[index % len(_COLOURS)]
        cv2.polylines(chart, [to_px(x, np.asarray(ys, float))], False, colour, 2, cv2.LINE_AA)
        cv2.putText(chart, name, (width - right - 150, top + 20 + 18 * index), font, 0.45, colour, 1,
                    cv2.LINE_AA)
    return chart


def save_png(path: str, rgb: np.ndarray) -> None:
    """Write an RGB image as PNG."""
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
