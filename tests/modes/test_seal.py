"""Seal mode's pixelation blocks."""

import numpy as np

from encryptface.modes.seal import shifted_blocks


def test_sealed_blocks_move_towards_grey_and_the_same_blocks_move_the_same_way():
    black = np.zeros((7, 7, 3), np.uint8)
    white = np.full((7, 7, 3), 255, np.uint8)
    moved = shifted_blocks(black, 16)
    assert moved.min() >= 8 and moved.max() <= 24 and len(np.unique(moved)) > 5
    assert (moved[:, :, 0] == moved[:, :, 1]).all()          # the same shift on every channel
    assert (shifted_blocks(white, 16) <= 247).all()
    assert np.array_equal(moved, shifted_blocks(black.copy(), 16))
