"""The side-by-side sheet: one row per face, the photo's face then one published face per variant."""

from __future__ import annotations

import cv2

from benchmarks.side_by_side import TILE, main


def test_the_sheet_has_a_tile_per_variant(tmp_path):
    output = tmp_path / "sheet.png"
    assert main(["--faces", "2", "--columns", "1", "--grid", "stylegan.halo_levels=0,25",
                 "--output", str(output)]) == 0
    sheet = cv2.imread(str(output))
    assert sheet.shape[1] == 3 * TILE and sheet.shape[0] == 2 * TILE   # photo + 2 variants, 2 faces
    photo, first, second = (sheet[:TILE, k * TILE:(k + 1) * TILE] for k in range(3))
    assert (photo != first).any() and (photo != second).any()   # each variant replaced the face
