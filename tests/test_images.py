"""Reading image files (digits.images): the right way up, transparency kept, odd files refused
with a message that says what they are (issue 17, items 6, 12 and 14). Every file is made here."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digits import images
from digits.drawn import render_digit
from digits.images import ImageFileError, load_image
from digits.preprocess import preprocess


def seven() -> np.ndarray:
    """(280, 280) uint8: a dark 7 on light paper."""
    img = render_digit(7, np.random.default_rng(3), appearance="paper", size=(280, 280), pen=20,
                       height_frac=0.7)
    return img if img.ndim == 2 else np.asarray(Image.fromarray(img).convert("L"))


def test_exif_orientation_is_applied(tmp_path: Path):
    upright = seven()
    path = tmp_path / "rotated.png"
    stored = Image.fromarray(np.rot90(upright).copy())  # pixels stored turned 90° left ...
    exif = Image.Exif()
    exif[0x0112] = 6  # ... and the EXIF Orientation tag says "turn 90° right to show"
    stored.save(path, exif=exif)
    np.testing.assert_array_equal(load_image(path), upright)


def palette_digit() -> Image.Image:
    """A palette image whose transparent index 0 and ink index 1 are both black."""
    img = Image.new("P", (64, 64), 0)
    img.putpalette([0, 0, 0] * 2 + [0, 0, 0] * 254)
    img.paste(1, (28, 8, 36, 56))  # a "1": a vertical bar of ink
    return img


@pytest.mark.parametrize("suffix", [".png", ".gif"])
def test_palette_transparency_is_kept(tmp_path: Path, suffix: str):
    path = tmp_path / f"palette{suffix}"
    palette_digit().save(path, transparency=0)
    pixels = load_image(path)
    assert pixels.shape == (64, 64, 4)
    assert pixels[0, 0, 3] == 0 and pixels[30, 30, 3] == 255  # background clear, ink opaque
    result = preprocess(pixels)
    assert result.ok, result.message


def test_animated_gif_is_refused_with_its_frame_count(tmp_path: Path):
    path = tmp_path / "animated.gif"
    frames = [Image.fromarray(seven()), Image.fromarray(255 - seven())]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    with pytest.raises(ImageFileError, match="animated image of 2 frames; save the frame"):
        load_image(path)


def test_float_tiff_in_0_to_1_is_scaled(tmp_path: Path):
    path = tmp_path / "float.tif"
    fractions = seven().astype(np.float32) / 255
    Image.fromarray(fractions, mode="F").save(path)
    pixels = load_image(path)
    assert pixels.dtype == np.uint8
    np.testing.assert_array_equal(pixels, seven())
    assert preprocess(pixels).ok


def test_16_bit_png_is_scaled(tmp_path: Path):
    path = tmp_path / "deep.png"
    Image.fromarray(seven().astype(np.uint16) * 257).save(path)
    np.testing.assert_array_equal(load_image(path), seven())


def test_float_image_with_nan_is_refused(tmp_path: Path):
    path = tmp_path / "nan.tif"
    a = np.zeros((8, 8), np.float32)
    a[2, 2] = np.nan
    Image.fromarray(a, mode="F").save(path)
    with pytest.raises(ImageFileError, match="NaN or infinite"):
        load_image(path)


def test_folder_fifo_long_name_and_missing_file_say_what_they_are(tmp_path: Path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    cases = {tmp_path: "is a folder, not an image file",
             fifo: r"is a FIFO \(named pipe\), not an image file",  # returns: never read
             tmp_path / ("a" * 300 + ".png"): "the file name is too long",
             tmp_path / "missing.png": "no such file"}
    for path, message in cases.items():
        with pytest.raises(ImageFileError, match=message) as info:
            load_image(path)
        assert str(path) in str(info.value)


def test_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "secret.png"
    Image.fromarray(seven()).save(path)
    real_open = os.open

    def denied(name, *args, **kwargs):  # root reads a 0000 file anyway, so the OS is faked
        if Path(name) == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(name))
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(images.os, "open", denied)
    with pytest.raises(ImageFileError, match=r"secret\.png: permission denied"):
        load_image(path)


def test_size_limit_in_binary_units(tmp_path: Path):
    path = tmp_path / "big.png"
    with open(path, "wb") as f:
        f.truncate(21 * 2**20)  # sparse: nothing is written
    with pytest.raises(ImageFileError, match=r"file is 21 MiB; the limit is 20 MiB$"):
        load_image(path)
    assert images.mib(20 * 2**20) == "20 MiB" and images.mib(1.5 * 2**20) == "1.5 MiB"
