"""Face coverage against box annotations: did the detector find each annotated face, and was the
face really changed in the published photo?

Annotations come as Pascal VOC XML (one file per photo, every ``<object>`` a face) or in the WIDER
FACE text format (image path, box count, one ``x y w h ...`` line per box). Photos and annotation
files are matched by file stem (``images/a.jpg`` <-> ``annotations/a.xml``).

Measures, per face size bucket (size = sqrt of the annotated box's area, in source pixels):
- ``found``: the face is matched one-to-one by a detection (IoU >= :data:`MATCH_IOU`);
- ``covered``: at least :data:`COVERED_SHARE` of the box's pixels differ in the published photo
  from the original (both encoded the same way, so unchanged JPEG blocks compare equal);
and over all photos the detections that match no annotated face (``unmatched``).
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from encryptface.config import ImageSettings
from encryptface.faces.cover import changed_pixels, pixel_region
from encryptface.imaging.codecs import decode_encoded, decode_image, encode_image

# Upper edges of the size buckets (sqrt of box area, px); the last bucket is open.
SIZE_EDGES = (16, 32, 64)
BUCKETS = ("<16", "16-32", "32-64", ">=64")
MATCH_IOU = 0.3
COVERED_SHARE = 0.9


class AnnotationError(ValueError):
    """An annotation file that cannot be read (one line, with the file's name)."""


@dataclasses.dataclass(frozen=True)
class Box:
    """An annotated face, ``[x0, x1) x [y0, y1)`` in source pixels."""

    x0: float
    y0: float
    x1: float
    y1: float
    label: str = "face"

    @property
    def size(self) -> float:
        """sqrt of the box's area (the bucket key)."""
        return float(np.sqrt(max(0.0, self.x1 - self.x0) * max(0.0, self.y1 - self.y0)))


def size_bucket(size: float) -> str:
    """The bucket name of a face of ``size`` px (sqrt of box area)."""
    return BUCKETS[int(np.searchsorted(SIZE_EDGES, size, side="right"))]


def read_voc(path: Path) -> list[Box]:
    """The face boxes of one Pascal VOC XML file (every ``<object>`` is a face)."""
    try:
        root = ElementTree.parse(path).getroot()
        boxes = []
        for obj in root.iter("object"):
            bndbox = obj.find("bndbox")
            if bndbox is None:
                raise AnnotationError(f"{path.name}: an <object> without <bndbox>")
            x0, y0, x1, y1 = (float(bndbox.findtext(k, "nan")) for k in ("xmin", "ymin", "xmax", "ymax"))
            if not all(np.isfinite((x0, y0, x1, y1))) or x1 <= x0 or y1 <= y0:
                raise AnnotationError(f"{path.name}: bad box {x0, y0, x1, y1}")
            boxes.append(Box(x0, y0, x1, y1, (obj.findtext("name") or "face").strip()))
    except (ElementTree.ParseError, ValueError) as exc:
        if isinstance(exc, AnnotationError):
            raise
        raise AnnotationError(f"{path.name}: not a Pascal VOC annotation ({exc})") from None
    return boxes


def read_wider(path: Path) -> dict[str, list[Box]]:
    """photo stem -> face boxes of a WIDER FACE annotation file. Boxes flagged invalid, or of zero
    size, are left out."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    lines = [line for line in lines if line]
    photos: dict[str, list[Box]] = {}
    index = 0
    try:
        while index < len(lines):
            name, count = lines[index], int(lines[index + 1])
            index += 2
            boxes = []
            # a photo without faces still has one all-zero box line
            for line in lines[index:index + max(count, 1)]:
                values = [float(v) for v in line.split()]
                x, y, w, h = values[:4]
                invalid = len(values) > 7 and values[7] == 1
                if w > 0 and h > 0 and not invalid:
                    boxes.append(Box(x, y, x + w, y + h))
            index += max(count, 1)
            photos[Path(name).stem] = boxes
    except (IndexError, ValueError):
        raise AnnotationError(f"{path.name}: not a WIDER FACE annotation file (near line "
                              f"{index + 1})") from None
    return photos


def load_annotations(location: Path) -> dict[str, list[Box]]:
    """photo stem -> face boxes from a folder of VOC ``.xml`` and/or WIDER ``.txt`` files, or from
    one such file."""
    location = Path(location)
    if not location.exists():
        raise AnnotationError(f"annotations not found: {location}")
    files = [location] if location.is_file() else sorted(
        p for p in location.rglob("*") if p.suffix.lower() in (".xml", ".txt"))
    annotations: dict[str, list[Box]] = {}
    for file in files:
        if file.suffix.lower() == ".xml":
            annotations[file.stem] = read_voc(file)
        else:
            annotations.update(read_wider(file))
    if not annotations:
        raise AnnotationError(f"no VOC .xml or WIDER .txt annotations in {location}")
    return annotations


def iou_matrix(boxes: Sequence[Box], detections: Sequence[Sequence[float]]) -> np.ndarray:
    """IoU of each annotated box (rows) with each detection ``(x, y, w, h)`` (columns)."""
    if not boxes or not detections:
        return np.zeros((len(boxes), len(detections)))
    a = np.array([[b.x0, b.y0, b.x1, b.y1] for b in boxes], float)
    d = np.array(detections, float).reshape(-1, 4).copy()
    d[:, 2:] += d[:, :2]
    ix = np.clip(np.minimum(a[:, None, 2], d[None, :, 2]) - np.maximum(a[:, None, 0], d[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], d[None, :, 3]) - np.maximum(a[:, None, 1], d[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_d = (d[:, 2] - d[:, 0]) * (d[:, 3] - d[:, 1])
    return inter / np.maximum(area_a[:, None] + area_d[None, :] - inter, 1e-9)


def match(boxes: Sequence[Box], detections: Sequence[Sequence[float]],
          threshold: float = MATCH_IOU) -> tuple[list[int | None], list[int]]:
    """Greedy one-to-one matching, best IoU first: for each box the index of its detection (or
    None), and the indices of the detections that match no box."""
    ious = iou_matrix(boxes, detections)
    matched: list[int | None] = [None] * len(boxes)
    used: set[int] = set()
    for flat in np.argsort(-ious, axis=None):
        row, col = divmod(int(flat), max(len(detections), 1))
        if ious.size == 0 or ious[row, col] < threshold:
            break
        if matched[row] is None and col not in used:
            matched[row] = col
            used.add(col)
    return matched, [i for i in range(len(detections)) if i not in used]


def changed_shares(original: np.ndarray, published: np.ndarray, boxes: Sequence[Box]) -> list[float]:
    """For each box, the share of its pixels (clipped to the photo) that differ by more than
    :data:`~encryptface.faces.cover.CHANGE_LEVELS` in some channel between ``original`` (encoded
    as the published photo was) and ``published``."""
    if original.shape != published.shape:
        raise ValueError(f"published photo {published.shape} differs in size from the original "
                         f"{original.shape}")
    # the original is encoded like the published photo: the encoder leaves unchanged blocks identical
    changed = changed_pixels(original, published)
    shares = []
    for box in boxes:
        inside = pixel_region(box.x0, box.y0, box.x1, box.y1, changed.shape)
        shares.append(float(changed[inside.slices].mean()) if inside else 0.0)
    return shares


@dataclasses.dataclass(frozen=True)
class PhotoCoverage:
    """One photo's faces: size, found, changed share, plus its unmatched detections."""

    name: str
    sizes: list[float]
    found: list[bool]
    changed: list[float | None]   # None where the published photo was not compared
    detections: int
    unmatched: list[tuple[float, float, float, float]]  # x, y, w, h of detections matching no box

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def photo_coverage(name: str, boxes: Sequence[Box], detections: Sequence[Sequence[float]],
                   original: np.ndarray | None = None,
                   published: np.ndarray | None = None) -> PhotoCoverage:
    """Coverage of one photo: ``detections`` are ``(x, y, w, h)``; with ``original`` (encoded as
    published) and ``published`` also the changed share of every box."""
    matched, unmatched = match(boxes, detections)
    changed: list[float | None] = [None] * len(boxes)
    if original is not None and published is not None:
        changed = list(changed_shares(original, published, boxes))
    return PhotoCoverage(name=name, sizes=[b.size for b in boxes],
                         found=[m is not None for m in matched], changed=changed,
                         detections=len(detections),
                         unmatched=[tuple(float(v) for v in detections[i]) for i in unmatched])


def summarise(photos: Iterable[PhotoCoverage]) -> dict:
    """Per-bucket faces / found / covered rates, and unmatched detections, over ``photos``."""
    photos = list(photos)
    buckets = {name: {"faces": 0, "found": 0, "covered": 0, "compared": 0} for name in BUCKETS}
    for photo in photos:
        for size, found, changed in zip(photo.sizes, photo.found, photo.changed, strict=True):
            row = buckets[size_bucket(size)]
            row["faces"] += 1
            row["found"] += int(found)
            if changed is not None:
                row["compared"] += 1
                row["covered"] += int(changed >= COVERED_SHARE)
    for row in buckets.values():
        row["found_rate"] = row["found"] / row["faces"] if row["faces"] else None
        row["covered_rate"] = row["covered"] / row["compared"] if row["compared"] else None
    detections = sum(p.detections for p in photos)
    unmatched = sum(len(p.unmatched) for p in photos)
    return {"photos": len(photos), "faces": sum(r["faces"] for r in buckets.values()),
            "buckets": buckets, "detections": detections, "unmatched": unmatched,
            "unmatched_rate": unmatched / detections if detections else None,
            "unmatched_per_photo": unmatched / len(photos) if photos else None}


def coverage_table(summaries: dict[str, dict]) -> str:
    """A Markdown table: one row per summary (name -> :func:`summarise` output) with found and
    covered rates per bucket and the unmatched detections."""
    head = ["run", "faces"] + [f"found {b}" for b in BUCKETS] + [f"covered {b}" for b in BUCKETS] \
        + ["unmatched / det.", "unmatched / photo"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def percent(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f} %"

    for name, summary in summaries.items():
        rows = summary["buckets"]
        cells = [name, str(summary["faces"])]
        cells += [percent(rows[b]["found_rate"]) for b in BUCKETS]
        cells += [percent(rows[b]["covered_rate"]) for b in BUCKETS]
        cells += [percent(summary["unmatched_rate"]),
                  "-" if summary["unmatched_per_photo"] is None else f"{summary['unmatched_per_photo']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def records_coverage(records: Iterable[dict], annotations: dict[str, list[Box]],
                     read_original: Callable[[str], bytes], images: ImageSettings
                     ) -> tuple[list[PhotoCoverage], dict[str, int]]:
    """Coverage of the scrub records (dicts with ``relative_path``, ``source_uri``, ``status``,
    ``deidentified_image``, ``faces`` [{``bbox``}]) of annotated photos, judged on the published
    photo against the original (read with ``read_original(uri)``, encoded as ``images`` says the
    scrub encodes). Also counts: photos judged, without annotation, without a published photo."""
    results, counts = [], {"judged": 0, "not_annotated": 0, "not_published": 0}
    for record in records:
        name = Path(record["relative_path"]).stem
        if name not in annotations:
            counts["not_annotated"] += 1
            continue
        if not record.get("deidentified_image"):
            counts["not_published"] += 1
            continue
        published = decode_encoded(record["deidentified_image"])
        original = decode_image(read_original(record["source_uri"]), images)[0]
        # encoded as the scrub encoded its output, so blocks it did not touch compare equal
        original = decode_encoded(encode_image(original, images.output_format, images.jpeg_quality))
        results.append(photo_coverage(name, annotations[name],
                                      [face["bbox"] for face in record["faces"] or []],
                                      original, published))
        counts["judged"] += 1
    return results, counts
