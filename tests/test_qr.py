"""The join QR code decodes back to the URL (zxing-cpp, a dev requirement)."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import zxingcpp
from PIL import Image

from digits import qr

URLS = ["http://192.168.1.20:8501/?mode=audience",
        "https://digits.example.org/talk/?mode=audience&model=cnn",
        "http://localhost:8501/?mode=audience&x=" + "é" * 20]


def decode(pixels: np.ndarray) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(pixels)
            if r.format == zxingcpp.BarcodeFormat.QRCode]


@pytest.mark.parametrize("url", URLS)
def test_png_decodes_back_to_the_url(url):
    img = Image.open(io.BytesIO(qr.qr_png(url, scale=6)))
    assert img.format == "PNG"
    assert decode(np.asarray(img.convert("L"))) == [qr.ascii_url(url)]


@pytest.mark.parametrize("url", URLS)
def test_matrix_decodes_back_to_the_url(url):
    m = qr.qr_matrix(url)
    n = m.shape[0]
    assert m.shape == (n, n) and m.dtype == bool and (n - 21) % 4 == 0  # a QR version's size
    # Three finder patterns: 7x7 dark rings in three corners.
    for r, c in [(0, 0), (0, n - 7), (n - 7, 0)]:
        ring = m[r:r + 7, c:c + 7]
        assert ring[0].all() and ring[-1].all() and ring[:, 0].all() and ring[:, -1].all()
        assert ring[2:5, 2:5].all() and not ring[1, 1:6].any()
    pixels = np.pad(~m, qr.QUIET, constant_values=True).astype(np.uint8) * 255
    assert decode(np.kron(pixels, np.ones((5, 5), np.uint8))) == [qr.ascii_url(url)]


def test_non_ascii_urls_are_percent_encoded():
    assert qr.ascii_url(URLS[0]) == URLS[0]
    assert qr.ascii_url("http://localhost:8501/é?x=ü") == "http://localhost:8501/%C3%A9?x=%C3%BC"
    assert qr.ascii_url("http://bücher.example/?a=1") == "http://xn--bcher-kva.example/?a=1"


def test_svg_is_a_sized_document_with_the_same_modules():
    url = URLS[0]
    svg = qr.qr_svg(url, scale=10)
    root = ET.fromstring(svg)
    n = qr.qr_matrix(url).shape[0]
    assert root.tag.endswith("svg") and root.get("width") == str((n + 2 * qr.QUIET) * 10)
    assert "Scan to draw along" in svg


@pytest.mark.parametrize("bad, match", [("", "non-empty"), ("   ", "non-empty"), (None, "url"),
                                        ("http://x/" + "a" * 2000, "at most")])
def test_bad_urls_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        qr.qr_svg(bad)
