import numpy as np
import pytest

from encryptface.crypto.keyed import KeyedRotation, KeyedShuffle


def test_rotation_is_orthogonal_invertible_and_keyed():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((4000, 256)).astype(np.float32)
    rotation = KeyedRotation(b"k" * 32, 256)
    rotated = rotation.apply(z)
    np.testing.assert_allclose(np.linalg.norm(rotated, axis=1), np.linalg.norm(z, axis=1), rtol=1e-4)
    np.testing.assert_allclose(rotation.invert(rotated), z, atol=1e-4)
    # distribution preserving: still N(0, I)
    assert abs(rotated.mean()) < 0.01 and np.abs(np.cov(rotated.T) - np.eye(256)).max() < 0.12
    # every output mixes many inputs: no coordinate survives
    one = np.zeros((1, 256), np.float32)
    one[0, 0] = 1
    assert np.abs(rotation.apply(one)).max() < 0.5
    other = KeyedRotation(b"j" * 32, 256).apply(z[:10])
    assert np.abs(other - rotated[:10]).mean() > 0.5
    np.testing.assert_array_equal(KeyedRotation(b"k" * 32, 256).apply(z[:3]), rotated[:3])


def test_shuffle_roundtrip_and_key_dependence():
    vectors = np.random.default_rng(1).standard_normal((3, 1000)).astype(np.float32)
    shuffle = KeyedShuffle(b"a" * 16, 1000)
    np.testing.assert_array_equal(shuffle.invert(shuffle.apply(vectors)), vectors)
    assert not np.allclose(KeyedShuffle(b"b" * 16, 1000).invert(shuffle.apply(vectors)), vectors)


def test_short_keys_and_odd_sizes_are_refused():
    with pytest.raises(ValueError, match="128 bits"):
        KeyedRotation(b"short", 64)
    with pytest.raises(ValueError, match="divisible by 64"):
        KeyedRotation(b"k" * 32, 100)


def test_rotation_of_a_non_power_of_two_dimension_mixes_across_blocks():
    z = np.random.default_rng(2).standard_normal((2, 3072)).astype(np.float32)  # 3 x 1024 blocks
    rotation = KeyedRotation(b"q" * 32, 3072)
    np.testing.assert_allclose(rotation.invert(rotation.apply(z)), z, atol=1e-4)
    one = np.zeros((1, 3072), np.float32)
    one[0, 5] = 1
    spread = rotation.apply(one)[0].reshape(3, 1024)
    assert (np.abs(spread).sum(axis=1) > 0.1).all()  # reaches every block
