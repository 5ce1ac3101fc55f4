"""Keyed, exactly invertible, distribution-preserving transforms of Gaussian vectors.

A rotation ``R = H S3 P3 H S2 P2 H S1 P1`` (P: keyed permutations, S: keyed sign flips, H: the
normalised Walsh-Hadamard matrix, block-diagonal when the dimension is not a power of two) is
orthogonal, so ``R z`` is again N(0, I) when ``z`` is, and ``R^T`` undoes it exactly. Three rounds
mix every coordinate into every other (the structured random rotations of fast Johnson-Lindenstrauss
transforms) at O(K^2) per vector, where a dense Haar rotation would cost an O(K^3) QR per face.
Randomness comes from Philox keyed with 128 bits of the face key.
"""

from __future__ import annotations

import functools

import numpy as np

_ROUNDS = 3


def _generator(key: bytes, purpose: int) -> np.random.Generator:
    if len(key) < 16:
        raise ValueError("a keyed transform needs at least 128 bits of key")
    return np.random.Generator(np.random.Philox(key=int.from_bytes(key[:16], "little"),
                                                counter=[purpose, 0, 0, 0]))


@functools.lru_cache(maxsize=4)
def _hadamard(dim: int) -> np.ndarray:
    matrix = np.ones((1, 1), np.float64)
    while matrix.shape[0] < dim:
        matrix = np.block([[matrix, matrix], [matrix, -matrix]])
    return (matrix / np.sqrt(dim)).astype(np.float32)


def _mixing_block(dim: int, max_block: int = 2048) -> int:
    """The largest power of two dividing ``dim`` (capped): Hadamard mixing runs on blocks of it,
    and the keyed permutations between rounds mix across blocks."""
    block = min(dim & -dim, max_block)
    if block < 64:
        raise ValueError(f"keyed rotation needs a dimension divisible by 64, got {dim}")
    return block


class KeyedRotation:
    """The orthogonal map ``z -> R z`` for one key (rows of a batch are vectors)."""

    def __init__(self, key: bytes, dim: int) -> None:
        rng = _generator(key, purpose=1)
        self.block = _mixing_block(dim)
        self.hadamard = _hadamard(self.block)
        self.rounds = [(rng.permutation(dim), rng.choice(np.array([-1.0, 1.0], np.float32), dim))
                       for _ in range(_ROUNDS)]

    def _mix(self, z: np.ndarray) -> np.ndarray:  # H is symmetric and its own inverse
        return (z.reshape(len(z), -1, self.block) @ self.hadamard).reshape(z.shape)

    def apply(self, z: np.ndarray) -> np.ndarray:
        for order, signs in self.rounds:
            z = self._mix(z[:, order] * signs)
        return z

    def invert(self, z: np.ndarray) -> np.ndarray:
        for order, signs in reversed(self.rounds):
            unmixed = self._mix(z) * signs
            z = np.empty_like(unmixed)
            z[:, order] = unmixed
        return z


class KeyedShuffle:
    """A keyed permutation with sign flips of the coordinates: hides the residual's structure."""

    def __init__(self, key: bytes, dim: int) -> None:
        rng = _generator(key, purpose=2)
        self.order = rng.permutation(dim)
        self.signs = rng.choice(np.array([-1.0, 1.0], np.float32), dim)

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        return vectors[:, self.order] * self.signs

    def invert(self, vectors: np.ndarray) -> np.ndarray:
        out = np.empty_like(vectors)
        out[:, self.order] = vectors * self.signs
        return out
