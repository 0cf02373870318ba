"""A QR code of the audience URL for the projector, made offline with ``segno``."""

from __future__ import annotations

import io
import urllib.parse

import numpy as np
import segno

MAX_URL = 1000  # characters; a join URL is short, and a longer code is hard to scan from afar
QUIET = 4  # modules of white border the QR standard asks for


def ascii_url(url: str) -> str:
    """``url`` with non-ASCII characters percent-encoded (UTF-8) and a non-ASCII host in its
    IDNA form: the same address, in the characters every phone's QR reader decodes alike
    (a raw "é" is read back as other characters by some readers)."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"url: expected a non-empty string, received {url!r}")
    url = url.strip()
    if url.isascii():
        return url
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if parts.hostname and not parts.hostname.isascii():
        netloc = netloc.replace(parts.hostname, parts.hostname.encode("idna").decode("ascii"))
    keep = "/?#[]@!$&'()*+,;=:%~"
    return urllib.parse.urlunsplit((parts.scheme, urllib.parse.quote(netloc, safe=keep),
                                    *(urllib.parse.quote(p, safe=keep) for p in parts[2:])))


def _code(url: str) -> segno.QRCode:
    url = ascii_url(url)
    if len(url) > MAX_URL:
        raise ValueError(f"url: expected at most {MAX_URL} characters, received {len(url)}")
    # Error correction M (15% of the code may be unreadable): a projector's glare and a
    # phone held at an angle read it, and a short URL stays a small, coarse code.
    return segno.make(url, error="m", micro=False)


def qr_matrix(url: str) -> np.ndarray:
    """The QR code of ``url`` as (n, n) bool (True = dark module), without the quiet zone."""
    return np.array(_code(url).matrix, dtype=bool)


def qr_svg(url: str, scale: int = 10) -> str:
    """The QR code of ``url`` as an SVG document (black on white, with its quiet zone), sized
    ``scale`` px per module; it scales cleanly to any width."""
    out = io.BytesIO()
    _code(url).save(out, kind="svg", scale=scale, border=QUIET, xmldecl=False,
                    svgclass="join-qr", lineclass=None, title="Scan to draw along")
    return out.getvalue().decode("utf-8")


def qr_png(url: str, scale: int = 10) -> bytes:
    """The QR code of ``url`` as PNG bytes (black on white, quiet zone included)."""
    out = io.BytesIO()
    _code(url).save(out, kind="png", scale=scale, border=QUIET)
    return out.getvalue()
