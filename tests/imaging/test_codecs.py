import io

import numpy as np
import pytest
from PIL import Image

from encryptface.config import SAMPLES_DIR
from encryptface.imaging.codecs import ImageError, decode_encoded, decode_image, encode_image


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


@pytest.fixture(scope="module")
def obama():
    return Image.open(SAMPLES_DIR / "obama2.jpg").convert("RGB")


def test_jpeg_decodes_to_rgb8(settings):
    rgb, fmt = decode_image((SAMPLES_DIR / "obama2.jpg").read_bytes(), settings.images)
    assert fmt == "JPEG" and rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "P", "I;16", "LA"])
def test_odd_modes_become_rgb8(settings, obama, mode):
    if mode == "I;16":
        gray = np.asarray(obama.convert("L"), np.uint16) * 257
        image, fmt = Image.fromarray(gray), "PNG"
    else:
        image, fmt = obama.convert(mode), ("JPEG" if mode in ("L", "CMYK") else "PNG")
    rgb, _ = decode_image(_encode(image, fmt), settings.images)
    assert rgb.shape == (obama.height, obama.width, 3) and rgb.dtype == np.uint8
    reference = np.asarray(obama.convert("L"), np.float64)
    # Same picture: strongly correlated with the luminance of the source.
    assert np.corrcoef(rgb.mean(axis=2).ravel(), reference.ravel())[0, 1] > 0.9


def test_transparent_pixels_become_white(settings):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgb, _ = decode_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG"), settings.images)
    assert (rgb == 255).all()


def test_exif_orientation_is_applied(settings, obama):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display needs a 90 degree turn
    data = _encode(obama, "JPEG", exif=exif.tobytes())
    rgb, _ = decode_image(data, settings.images)
    assert rgb.shape[:2] == (obama.width, obama.height)


@pytest.mark.parametrize("data, message", [
    (b"", "empty object"),
    (b"this is not an image at all", "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image"),
])
def test_garbage_gives_clear_errors(settings, data, message):
    with pytest.raises(ImageError, match=message):
        decode_image(data, settings.images)


def test_truncated_jpeg_is_an_error(settings):
    data = (SAMPLES_DIR / "obama2.jpg").read_bytes()
    with pytest.raises(ImageError, match="corrupt or truncated"):
        decode_image(data[: len(data) // 2], settings.images)


def test_decompression_bomb_is_refused_before_decoding(settings):
    bomb = _encode(Image.new("1", (20000, 20000)), "PNG")  # 400 MP in a few kB
    assert len(bomb) < 100_000
    with pytest.raises(ImageError, match="image too large"):
        decode_image(bomb, settings.images)


def test_encode_roundtrip_png_is_lossless():
    rgb = np.random.default_rng(0).integers(0, 256, (17, 23, 3), dtype=np.uint8)
    assert np.array_equal(decode_encoded(encode_image(rgb, "png")), rgb)
