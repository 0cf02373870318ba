"""The answer after each stroke: the canvas's strokes (fabric.js JSON) drawn again one by one
and read by the network. Pure: Pillow and NumPy, no Streamlit."""

from __future__ import annotations

import hashlib
import json
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

import nn

from .inference import class_probabilities
from .preprocess import preprocess

Array = np.ndarray

MAX_STROKES = 40  # a longer drawing shows its last MAX_STROKES steps
CURVE_STEPS = 4  # points per quadratic segment


@dataclass(frozen=True)
class Step:
    """After ``strokes`` strokes the network said ``digit`` (None: nothing to recognise yet)
    with probability ``confidence``."""

    strokes: int
    digit: int | None
    confidence: float


def stroke_objects(json_data: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The freehand strokes of an ``st_canvas`` ``json_data`` (its ``objects`` whose type is
    a path), in drawing order; anything else is ignored."""
    if not isinstance(json_data, dict):
        return []
    objects = json_data.get("objects")
    if not isinstance(objects, list):
        return []
    return [o for o in objects if isinstance(o, dict) and str(o.get("type", "")).lower()
            == "path" and isinstance(o.get("path"), list)]


def _points(path: list[Any]) -> list[tuple[float, float]]:
    """A fabric.js path (M/L/Q/C commands in canvas coordinates) as a polyline."""
    pts: list[tuple[float, float]] = []
    for cmd in path:
        if not isinstance(cmd, (list, tuple)) or not cmd:
            continue
        op, args = str(cmd[0]).upper(), cmd[1:]
        try:
            nums = [float(v) for v in args]
        except (TypeError, ValueError):
            continue
        if op in ("M", "L") and len(nums) >= 2:
            pts.append((nums[0], nums[1]))
        elif op == "Q" and len(nums) >= 4 and pts:
            (x0, y0), (cx, cy), (x1, y1) = pts[-1], nums[0:2], nums[2:4]
            for t in np.linspace(0, 1, CURVE_STEPS + 1)[1:]:
                u = 1 - t
                pts.append((u * u * x0 + 2 * u * t * cx + t * t * x1,
                            u * u * y0 + 2 * u * t * cy + t * t * y1))
        elif op == "C" and len(nums) >= 6 and pts:
            (x0, y0) = pts[-1]
            c1, c2, end = nums[0:2], nums[2:4], nums[4:6]
            for t in np.linspace(0, 1, CURVE_STEPS + 1)[1:]:
                u = 1 - t
                pts.append((u**3 * x0 + 3 * u * u * t * c1[0] + 3 * u * t * t * c2[0]
                            + t**3 * end[0],
                            u**3 * y0 + 3 * u * u * t * c1[1] + 3 * u * t * t * c2[1]
                            + t**3 * end[1]))
    return [p for p in pts if np.isfinite(p[0]) and np.isfinite(p[1])]


def render_strokes(objects: list[dict[str, Any]], size: int = 280, pen: float = 20.0
                   ) -> Array:
    """Draw strokes as the canvas does (white, round ends, on opaque black):
    (size, size, 4) uint8 RGBA. A stroke's own ``strokeWidth`` wins over ``pen``.
    Strokes are drawn where their path says (the canvas never moves them: no edit mode)."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 255))
    draw = ImageDraw.Draw(img)
    for obj in objects:
        pts = _points(obj["path"])
        if not pts:
            continue
        try:
            width = float(obj.get("strokeWidth", pen))
        except (TypeError, ValueError):
            width = pen
        width = max(1.0, min(width, float(size)))
        r = width / 2
        if len(pts) > 1:
            draw.line(pts, fill=(255, 255, 255, 255), width=round(width), joint="curve")
        for x, y in (pts[0], pts[-1]):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, 255))
    return np.asarray(img)


def _prefix_keys(objects: list[dict[str, Any]]) -> list[str]:
    """One key per prefix of the strokes (a running hash): equal prefixes, equal keys."""
    h = hashlib.sha1()
    keys = []
    for obj in objects:
        h.update(json.dumps(obj.get("path"), separators=(",", ":")).encode())
        h.update(str(obj.get("strokeWidth")).encode())
        keys.append(h.hexdigest())
    return keys


def stroke_timeline(model: nn.Model, objects: list[dict[str, Any]], size: int = 280,
                    pen: float = 20.0, cache: MutableMapping[str, Step] | None = None,
                    model_key: str = "", last: Step | None = None) -> list[Step]:
    """What the network says after the first k strokes, for every k (the last MAX_STROKES).

    ``cache`` (e.g. a dict in the session) keeps earlier prefixes' steps, keyed by
    ``model_key`` and the strokes, so each new stroke costs one drawing, one preprocessing
    and one prediction. Uncached prefixes are predicted in one batch. ``last``: the step for
    all the strokes when the caller has it already (the page's own prediction of the whole
    drawing): then a one-stroke drawing costs nothing, and each stroke one earlier prefix."""
    keys = _prefix_keys(objects)
    first = max(0, len(objects) - MAX_STROKES)
    steps: dict[int, Step] = {}
    todo: list[tuple[int, Array]] = []
    if last is not None and objects:
        steps[len(objects)] = Step(len(objects), last.digit, last.confidence)
    for k in range(first + 1, len(objects) + 1):
        if k in steps:
            continue
        key = f"{model_key}:{keys[k - 1]}"
        hit = cache.get(key) if cache is not None else None
        if hit is not None and hit.strokes == k:
            steps[k] = hit
            continue
        result = preprocess(render_strokes(objects[:k], size, pen))
        if result.ok:
            todo.append((k, result.vector))
        else:
            steps[k] = Step(k, None, 0.0)
    if todo:
        P = class_probabilities(model, np.stack([v for _, v in todo]))
        for (k, _), p in zip(todo, P, strict=True):
            steps[k] = Step(k, int(p.argmax()), float(p.max()))
    out = [steps[k] for k in range(first + 1, len(objects) + 1)]
    if cache is not None:
        for step in out:
            cache[f"{model_key}:{keys[step.strokes - 1]}"] = step
    return out


def timeline_text(steps: list[Step]) -> str:
    """``"1 → 7 → 4"``: the answer after each stroke ("·" where there was nothing yet)."""
    return " → ".join("·" if s.digit is None else str(s.digit) for s in steps)
