"""Detector recall by face size for networks, scales and thresholds, from one detection run.

    python -m benchmarks.detector_sweep [--split tune|check|all] [--output out/detector-sweep]

Runs every network of the registry on every photo of the split (facebench by default) at native
and 2x resolution once, keeping every detection scoring 0.3 or more with how it was found; then
judges each combination (networks, finest scale, score threshold, min_face) the way
:class:`~encryptface.faces.detection.FaceDetector` would merge it. Writes ``sweep.json`` and
prints a Markdown table sorted by the recall of faces of 16 px or more.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from benchmarks.coverage import FACEBENCH, split_photos
from encryptface.config import load_settings, resolve_repo_path
from encryptface.evaluation.coverage import coverage_table, load_annotations, photo_coverage, summarise
from encryptface.faces.detection import FaceDetector, merged_faces
from encryptface.faces.detectors import NETWORK_NAMES

FLOOR = 0.3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", default=f"{FACEBENCH}/images")
    parser.add_argument("--annotations", default=f"{FACEBENCH}/annotations")
    parser.add_argument("--split", choices=("tune", "check", "all"), default="tune")
    parser.add_argument("--output", default="out/detector-sweep")
    args = parser.parse_args(argv)
    settings = load_settings()
    everything = dataclasses.replace(settings.detection, detectors=NETWORK_NAMES, upscale=2.0,
                                     upscale_max_megapixels=1e3, min_face=0)
    detector = FaceDetector(everything, threads=1)
    annotations = load_annotations(resolve_repo_path(args.annotations))
    photos = split_photos(resolve_repo_path(args.images), set(annotations), args.split)
    runs = []
    for path in photos:
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        rows, sources = detector.passes(rgb, FLOOR)
        runs.append((path.stem, rows, np.array([s.split()[0] for s in sources]),
                     np.array([float(s.split()[1][1:]) for s in sources]), sources))
    summaries = {}
    subsets = [c for k in (1, 2, 3) for c in itertools.combinations(NETWORK_NAMES, k)]
    for networks, finest, threshold, min_face in itertools.product(
            subsets, (1.0, 2.0), (0.3, 0.4, 0.5, 0.6, 0.7), (4, 8)):
        config = dataclasses.replace(everything, detectors=networks, min_face=min_face,
                                     score_threshold=threshold, uncertain_threshold=threshold)
        results = []
        for name, rows, nets, scales, sources in runs:
            keep = np.isin(nets, networks) & (scales <= finest) & (rows[:, 14] >= threshold)
            faces = merged_faces(rows[keep], [s for s, k in zip(sources, keep, strict=True) if k], config)
            results.append(photo_coverage(name, annotations[name], [f.bbox for f in faces]))
        name = f"{'+'.join(networks)} x{finest:g} score>={threshold} min_face {min_face}"
        summaries[name] = summarise(results)

    def key(item: tuple[str, dict]) -> float:
        buckets = item[1]["buckets"]
        return -sum(buckets[b]["found"] for b in ("16-32", "32-64", ">=64"))

    ranked = dict(sorted(summaries.items(), key=key))
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    (output / "sweep.json").write_text(json.dumps(ranked, indent=1))
    print(coverage_table(dict(list(ranked.items())[:40])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
