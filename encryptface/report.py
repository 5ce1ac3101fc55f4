"""The evaluation report: a console table and a self-contained HTML page (tables, distance
histograms, a gallery), from the metrics of :func:`encryptface.evaluation.aggregate`."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from encryptface.gallery import img_tag
from encryptface.plots import line_chart

_STYLE = ("body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}"
          "td,th{border:1px solid #ccc;padding:3px 8px;text-align:center}td img{height:150px}"
          ".charts img{height:300px;margin:4px}")


def gallery_head(reversible: bool) -> list[str]:
    """Column titles of the gallery rows made by ``Evaluator.evaluate_record``."""
    if reversible:
        return ["original", "protected (JPEG q90)", "restored", "wrong password 1 (decoy)",
                "wrong password 2 (decoy)",
                "wrong password 3 (decoy)"]
    return ["original", "protected (JPEG q90)", "change x10"]


def summary_table(runs: Sequence[dict], far: str = "0.01") -> tuple[list[str], list[list[str]]]:
    """One row per run (``{"settings": {...}, "metrics": {...}}``): protection per recogniser at
    ``far``, quality, cost, and recovery when there is any."""
    names = measured_recognizers(runs[0]["metrics"])
    head = ["settings", *[f"PSR {n}" for n in names], "PSNR face", "SSIM face", "redetected", "sharpness",
            "realism AUC", "landmarks/IOD", "s/photo"]
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
                _fmt(m.get("realism", {}).get("classifier_auc_original_vs_published")),
                _fmt(m.get("realism", {}).get("landmark_error_iod_median")),
                _fmt(cost["scrub_seconds_per_photo_mean"], 2)]
        if recovery:
            row += [_fmt(m["recognizers"][n]["far"][far].get("restored_matched_to_same_photo"))
                    for n in names]
            row += [_fmt(m["recovery"]["psnr_face_db_mean"], 2)]
        rows.append(row)
    return head, rows


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
              "protected (JPEG q90)": np.histogram(protected, edges)[0]}
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
    pictures = "".join("<tr>" + "".join(f"<td>{_jpeg_tag(t)}</td>" for t in row) + "</tr>" for row in gallery)
    Path(path).write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>{runs[0]['metrics']['faces']} faces, {runs[0]['metrics']['faces_with_reference_photo']} with "
        "another photo of the person. PSR = protection success rate: share of protected faces "
        "(published as JPEG q90, re-detected) that the recogniser does not match to another photo of "
        "the person at the threshold for FAR 0.01 (from impostor pairs of the original faces).</p>"
        f"{missing}<table>{_rows_html(head, rows)}</table>"
        "<h2>By false-accept rate (first run)</h2><table><tr>"
        "<th>recogniser</th><th>FAR</th><th>threshold</th>"
        + "".join(f"<th>{html.escape(k)}</th>" for k in far_keys) + f"</tr>{far_rows}</table>"
        f"<div class='charts'>{charts}</div><h2>Gallery</h2><table><tr>"
        + "".join(f"<th>{html.escape(h)}</th>" for h in gallery_head) + f"</tr>{pictures}</table>"
        "</body></html>")


def _rows_html(head: list[str], rows: list[list[str]]) -> str:
    return "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>" + "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)


def _jpeg_tag(data: bytes) -> str:
    return f'<img src="data:image/jpeg;base64,{base64.b64encode(data).decode()}">'


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"
