"""The evaluation report: a console table and a self-contained HTML page (tables, distance
histograms, a gallery), from the metrics of :func:`encryptface.evaluation.aggregate.aggregate`."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from encryptface.evaluation.html import img_tag, jpeg_tag, page, table_rows
from encryptface.imaging.codecs import PUBLISHED_JPEG_QUALITY
from encryptface.imaging.plots import line_chart


def gallery_head(reversible: bool) -> list[str]:
    """Column titles of the gallery rows made by ``Evaluator.evaluate_record``."""
    shown = ["original", f"protected (JPEG q{PUBLISHED_JPEG_QUALITY})"]
    if reversible:
        return [*shown, "restored", *(f"wrong password {n} (decoy)" for n in (1, 2, 3))]
    return [*shown, "change x10"]


def summary_table(runs: Sequence[dict], far: str = "0.01") -> tuple[list[str], list[list[str]]]:
    """One row per run (``{"settings": {...}, "metrics": {...}}``): protection per recogniser at
    ``far``, quality, what the stand-in keeps (sex, age range, appearance group, dark-appearance
    faces, mouth open/closed, dense landmarks), cost, and recovery when there is any."""
    names = measured_recognizers(runs[0]["metrics"])
    head = ["settings", *[f"PSR {n}" for n in names], "PSNR face", "SSIM face", "redetected", "sharpness",
            "skin dE", "realism AUC", "stand-in realism AUC", "sealed", "decoy realism AUC", "landmarks/IOD",
            "sex kept", "age kept",
            "look kept", "dark kept", "mouth agree", "dense lmk/IOD", "s/photo"]
    recovery = "recovery" in runs[0]["metrics"]
    if recovery:
        head += [f"restored {n}" for n in names] + ["restore PSNR"]
    rows = []
    for run in runs:
        m = run["metrics"]
        quality, cost = m["quality"], m["cost"]
        row = [", ".join(f"{k}={v}" for k, v in run["settings"].items()) or "default"]
        row += [_fmt(m["recognizers"][n]["far"][far]["protection_success"]) for n in names]
        row += [_fmt(quality["psnr_face_db_mean"], 2), _fmt(quality["ssim_face_mean"]),
                _fmt(quality["redetected_after_jpeg90"]), _fmt(quality.get("sharpness_ratio_mean"), 2),
                _fmt(quality.get("skin_tone_delta_e_median"), 1),
                _fmt(m.get("realism", {}).get("classifier_auc_original_vs_published")),
                _fmt(m.get("realism", {}).get("classifier_auc_original_vs_stand_ins")),
                _fmt(m.get("realism", {}).get("sealed_share")),
                _fmt(m.get("realism", {}).get("classifier_auc_original_vs_decoy")),
                _fmt(m.get("realism", {}).get("landmark_error_iod_median")),
                *judge_cells(m.get("judges", {})), _fmt(cost["scrub_seconds_per_photo_mean"], 2)]
        if recovery:
            row += [_fmt(m["recognizers"][n]["far"][far].get("restored_matched_to_same_photo"))
                    for n in names]
            row += [_fmt(m["recovery"]["psnr_face_db_mean"], 2)]
        rows.append(row)
    return head, rows


def judge_cells(judges: dict) -> list[str]:
    """Summary cells of :func:`encryptface.evaluation.aggregate.judge_metrics` ("n/a" for metrics
    written before the judges existed)."""
    kept = [_fmt(judges.get(name, {}).get("kept")) for name in ("sex", "age", "group")]
    return [*kept, judges.get("dark_kept", "n/a"), _fmt(judges.get("mouth", {}).get("agreement")),
            _fmt(judges.get("dense_landmark_error_iod_median"))]


def measured_recognizers(metrics: dict) -> list[str]:
    """The recognisers with protection rates (those without had no impostor pairs)."""
    return [name for name, entry in metrics["recognizers"].items() if "far" in entry]


def console_table(head: list[str], rows: list[list[str]]) -> str:
    """Aligned plain-text columns."""
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in [head, *rows])


def histogram_png(name: str, entry: dict) -> np.ndarray:
    """Distance to another photo of the person: unprotected vs protected, with the threshold."""
    protected = [d for d in entry["protected_distance"] if d is not None]
    values = entry["baseline_distance"] + protected
    edges = np.linspace(min(values), max(values), 21)
    series = {"unprotected": np.histogram(entry["baseline_distance"], edges)[0],
              f"protected (JPEG q{PUBLISHED_JPEG_QUALITY})": np.histogram(protected, edges)[0]}
    return line_chart(edges[:-1], series, f"{name}: distance to another photo "
                      f"(threshold at FAR 0.01: {entry['thresholds']['0.01']})")


def write_report(path: str | Path, title: str, runs: Sequence[dict],
                 gallery: Sequence[Sequence[bytes]], gallery_head: Sequence[str]) -> None:
    """Write ``report.html``: summary of every run, the first run by FAR, histograms, gallery
    (rows of JPEG thumbnails)."""
    head, rows = summary_table(runs)
    first = {name: runs[0]["metrics"]["recognizers"][name]
             for name in measured_recognizers(runs[0]["metrics"])}
    missing = "".join(f"<p><b>{html.escape(name)}</b>: {html.escape(entry['missing'])}</p>"
                      for name, entry in runs[0]["metrics"]["recognizers"].items() if "missing" in entry)
    far_keys = list(next(iter(first.values()))["far"]["0.01"]) if first else []
    far_rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{far}</td><td>{entry['thresholds'][far]}</td>"
        + "".join(f"<td>{_fmt(row.get(k))}</td>" for k in far_keys) + "</tr>"
        for name, entry in first.items() for far, row in entry["far"].items())
    charts = "".join(img_tag(histogram_png(name, entry)) for name, entry in first.items()
                     if entry["baseline_distance"])
    pictures = "".join("<tr>" + "".join(f"<td>{jpeg_tag(t)}</td>" for t in row) + "</tr>" for row in gallery)
    body = (
        f"<p>{runs[0]['metrics']['faces']} faces, {runs[0]['metrics']['faces_with_reference_photo']} with "
        "another photo of the person. PSR = protection success rate: share of protected faces "
        f"(published as JPEG q{PUBLISHED_JPEG_QUALITY}, re-detected) that the recogniser does not match "
        "to another photo of the person at the threshold for FAR 0.01 (from impostor pairs of the "
        f"original faces).</p>{missing}<table>{table_rows(head, rows)}</table>"
        "<h2>By false-accept rate (first run)</h2><table><tr>"
        "<th>recogniser</th><th>FAR</th><th>threshold</th>"
        + "".join(f"<th>{html.escape(k)}</th>" for k in far_keys) + f"</tr>{far_rows}</table>"
        f"<div class='charts'>{charts}</div><h2>Gallery</h2><table><tr>"
        + "".join(f"<th>{html.escape(h)}</th>" for h in gallery_head) + f"</tr>{pictures}</table>")
    Path(path).write_text(page(title, body), encoding="utf-8")


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"
