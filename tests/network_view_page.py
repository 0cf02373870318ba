"""A test-only page that shows the views of ``ui.network_view`` (the app's pages do not call
them yet): ``?model=mlp|cnn|fresh``. Without a drawing it uses a sample digit.

    streamlit run tests/network_view_page.py   # then open /?model=cnn
"""

from __future__ import annotations

import numpy as np
import streamlit as st

import nn
from digits import lookalikes as la
from digits.data import DataError
from digits.drawn import render_digit
from digits.inference import as_probabilities
from digits.preprocess import preprocess
from ui import blocks, canvas
from ui import network_view as nv
from ui.models import ModelEntry, freeze, shipped_models

st.set_page_config(page_title="Network views", layout="wide")
st.html("<style>[data-testid='stImage'] img { image-rendering: pixelated; }</style>")


@st.cache_resource
def fresh_model() -> nn.Model:
    """A small model built here and trained briefly on the first 2 000 training digits (on
    nothing when MNIST is missing)."""
    model = nn.Model([nn.Dense(48, "relu"), nn.Dense(24, "relu"), nn.Dense(10, "softmax")],
                     input_shape=(784,), seed=3)
    try:
        images, labels = la.training_digits()
        X = images[:2000].reshape(-1, 784).astype(np.float32) / 255
        nn.fit(model, X, labels[:2000].astype(np.int64), 64, 2, 0.003, optimizer="adam",
               loss="cross_entropy", seed=0, verbose=False)
    except DataError:  # no MNIST: an untrained model is still a model
        pass
    return freeze(model)


def sample_canvas(digit: int) -> np.ndarray:
    img = np.zeros((280, 280, 4), np.uint8)
    img[..., 3] = 255
    ink = render_digit(digit, np.random.default_rng(digit), appearance="gray",
                       size=(280, 280), pen=20, height_frac=0.7)
    img[..., :3] = (255 - ink if ink.mean() > 127 else ink)[..., None]
    return img


kind = st.query_params.get("model", "mlp")
if kind == "fresh":
    entry = ModelEntry("fresh", "Fresh model", fresh_model())
else:
    entry = shipped_models()[0][kind]

version = st.session_state.get(canvas.VERSION, 0)
left, right = st.columns(2)
with left:
    image = canvas.draw_canvas(f"canvas-{version}", toolbar=False)
    canvas.canvas_controls()
result = preprocess(image) if image is not None else None
if result is None or not result.ok:
    result = preprocess(sample_canvas(int(st.query_params.get("digit", 7))))
x = result.vector
outputs = entry.model.activations(x[None])
probabilities = as_probabilities(entry.model, outputs[-1])[0]
answer = int(probabilities.argmax())
with left:
    st.metric("Prediction", str(answer))
    nv.stroke_timeline(entry, final=answer)
with right:
    blocks.show_input(entry.model, x, answer, st.query_params.get("saliency", "gradient_x_input"))
wait = st.query_params.get("wait", "1") == "1"  # tests wait; ?wait=0 builds in the background
nv.network_diagram(entry, x, outputs, probabilities, wait=wait)
nv.lookalikes(entry, x, outputs, wait=wait)
