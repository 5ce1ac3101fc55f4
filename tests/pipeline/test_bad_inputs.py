"""Hostile files: mutated JPEG / PNG / WebP / TIFF / BMP bytes, absurd headers and truncations
through decoding, detection and the whole scrub of one photo. Every case must end as a decoded
image or an error row with a message: no other exception, bounded memory. (Time is bounded by the
size limits and `images.max_seconds`, tested with a counting clock in test_scrubber.py: a unit test
never asserts on wall-clock time.)"""

import io
import resource
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from PIL import Image

from encryptface.config import SAMPLES_DIR
from encryptface.faces.detection import FaceDetector
from encryptface.imaging.codecs import ImageError, decode_image
from encryptface.pipeline.scrubber import Scrubber


def _seed_files() -> list[bytes]:
    photo = Image.open(SAMPLES_DIR / "obama2.jpg").convert("RGB").resize((160, 120))
    seeds = []
    for fmt, mode in (("JPEG", "RGB"), ("PNG", "RGBA"), ("WEBP", "RGB"), ("TIFF", "CMYK"), ("BMP", "L")):
        buffer = io.BytesIO()
        photo.convert(mode).save(buffer, fmt)
        seeds.append(buffer.getvalue())
    return seeds


SEEDS = _seed_files()


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["flip", "splice", "truncate", "insert"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "splice":
            data[at:at + 4] = draw(st.binary(min_size=4, max_size=4))
        elif kind == "truncate":
            del data[at:]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
    return bytes(data)


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (no real pixel data)."""
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


@pytest.fixture(scope="module")
def scrubber(settings):
    return Scrubber(settings, "seal")


@hyp_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=mutated())
def test_mutated_images_decode_or_say_why(settings, data):
    try:
        rgb, _ = decode_image(data, settings.images)
    except ImageError as exc:
        assert str(exc)
    else:
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
        FaceDetector(settings.detection).detect(rgb)  # whatever decodes must also detect


@hyp_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=mutated())
def test_scrub_of_mutated_photos_always_gives_a_row(scrubber, master_key, data):
    row = scrubber.scrub("fuzz", "fuzz.bin", data, master_key)
    assert row["status"] in ("ok", "no_face", "error")
    assert (row["status"] == "error") == (row["deidentified_image"] is None)
    if row["status"] == "error":
        assert row["error"]


@pytest.mark.parametrize("width, height", [(100_000, 100_000), (2 ** 31 - 1, 1), (1, 2 ** 31 - 1), (0, 5)])
def test_absurd_dimensions_are_refused_before_decoding(settings, width, height):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageError):
        decode_image(_png_header(width, height), settings.images)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KB: no huge buffer


def test_exif_garbage_keeps_the_photo(settings):
    image = Image.open(SAMPLES_DIR / "obama2.jpg").convert("RGB").resize((120, 90))
    exif = Image.Exif()
    exif[0x0112] = 77  # orientation tag with a value that does not exist
    exif[0x010F] = "x" * 5000
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    rgb, fmt = decode_image(buffer.getvalue(), settings.images)
    assert fmt == "JPEG" and rgb.shape[:2] == (90, 120)
