"""Load (slow: `make test-slow`): 10,000 small photos through `scrub --mode seal` in local[2] with no
memory growth across batches, and one 50 MP photo with 30 faces. Prints the numbers it checks."""

import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pyarrow.dataset as ds
import pytest
from conftest import FAST, LFW_TRAIN, REPO

from encryptface.archive.output import records_path

pytestmark = pytest.mark.slow
FLAGS = [f"--set={item}" for item in FAST]


def _scrub(source, output, password_file, *extra):
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1")
    result = subprocess.run([sys.executable, "-m", "jobs.scrub", "--input", str(source), "--output",
                             str(output), "--mode=seal", "--password-file", password_file,
                             "--master", "local[2]", *FLAGS, *extra],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=3000)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_ten_thousand_small_photos_without_memory_growth(tmp_path, password_file):
    rng = np.random.default_rng(0)
    sources = sorted(LFW_TRAIN.glob("*/*.jpg"))
    folder = tmp_path / "many"
    for index in range(10_000):  # random crops of LFW photos, re-encoded: all different objects
        image = cv2.imread(str(sources[index % len(sources)]))
        x, y = rng.integers(0, 60, size=2)
        size = int(rng.integers(150, 190))
        sub = folder / f"{index // 1000:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(sub / f"{index:05d}.jpg"), image[y:y + size, x:x + size])
    result = _scrub(folder, tmp_path / "out", password_file)
    table = ds.dataset(records_path(tmp_path / "out")).to_table(columns=["relative_path", "status"])
    assert table.num_rows == 10_000 and len(set(table.column("relative_path").to_pylist())) == 10_000
    peaks: dict[str, list[float]] = {}
    for pid, mb in re.findall(r"pid (\d+) scrubbed .* peak RSS (\d+) MB", result.stderr):
        peaks.setdefault(pid, []).append(float(mb))
    print(result.stdout.strip().splitlines()[0])
    for pid, series in peaks.items():
        tenth = max(1, len(series) // 10)
        print(f"worker {pid}: {len(series)} batches, peak RSS after first 10% {max(series[:tenth]):.0f} MB, "
              f"at the end {series[-1]:.0f} MB")
        assert series[-1] - max(series[:tenth]) < 100  # MB: no growth with the number of batches


def test_one_fifty_megapixel_photo_with_thirty_faces(tmp_path, password_file):
    sources = sorted(LFW_TRAIN.glob("*/*.jpg"))[:30]
    cell_w, cell_h = 1440, 1152  # 6 x 5 cells -> 8640 x 5760 = 49.8 MP
    canvas = np.full((cell_h * 5, cell_w * 6, 3), 200, np.uint8)
    for index, path in enumerate(sources):
        face = cv2.resize(cv2.imread(str(path))[40:210, 40:210], (900, 900), interpolation=cv2.INTER_CUBIC)
        row, col = divmod(index, 6)
        canvas[row * cell_h + 120: row * cell_h + 1020, col * cell_w + 270: col * cell_w + 1170] = face
    folder = tmp_path / "big"
    folder.mkdir()
    cv2.imwrite(str(folder / "crowd.jpg"), canvas, [cv2.IMWRITE_JPEG_QUALITY, 92])
    result = _scrub(folder, tmp_path / "out", password_file, "--set=images.max_bytes=200000000")
    row = ds.dataset(records_path(tmp_path / "out")).to_table().to_pylist()[0]
    print(result.stdout.strip().splitlines()[0], f"worker seconds {row['seconds']:.1f}")
    assert row["status"] == "ok" and (row["width"], row["height"]) == (8640, 5760)
    assert len(row["faces"]) >= 28  # YuNet on the 1280 px copy may miss a crop or two
