"""The network diagram's numbers (digits.network), the look-alike bank (digits.lookalikes),
what a unit looks for (digits.neurons) and the per-stroke timeline (digits.strokes)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import nn
from digits import lookalikes as la
from digits import network, neurons, pictures, strokes
from digits.data import DataUnavailableError
from digits.pictures import png_bytes


def dense_model(weights: list[tuple[np.ndarray, np.ndarray]], acts: list[str],
                dtype: str = "float64") -> nn.Model:
    """A dense model with hand-set weights [(W (n_in, n_out), B (n_out,)), ...]."""
    model = nn.Model([nn.Dense(W.shape[1], a) for (W, _), a in zip(weights, acts, strict=True)],
                     input_shape=(weights[0][0].shape[0],), dtype=dtype)
    for layer, (W, B) in zip(model.layers, weights, strict=True):
        layer.params["W"][...] = W
        layer.params["B"][...] = B.reshape(1, -1)
    return model


def random_mlp(rng: np.random.Generator, hidden: int) -> nn.Model:
    """784 -> hidden relu -> 10 softmax, float32, random weights."""
    return dense_model([(rng.normal(size=(784, hidden)), np.zeros(hidden)),
                        (rng.normal(size=(hidden, 10)), np.zeros(10))], ["relu", "softmax"],
                       dtype="float32")


# ------------------------------------------------------------------ contribution ranking


def test_last_hidden_layer_contribution_is_activation_times_weight_to_the_answer():
    W1 = np.eye(4)[:, :3] * np.array([1.0, 2.0, 3.0])  # a = (x0, 2 x1, 3 x2)
    W2 = np.array([[1.0, 0.0], [-3.0, 1.0], [0.5, 0.0]])
    model = dense_model([(W1, np.zeros(3)), (W2, np.zeros(2))], ["relu", "softmax"])
    x = np.array([[2.0, 1.0, 4.0, 9.0]])
    outputs = model.activations(x)
    c = network.contributions(model, x[0], outputs, answer=0)[0]
    np.testing.assert_allclose(c, [2.0 * 1, 2.0 * -3, 12.0 * 0.5])
    assert list(network.top_units(c, 2)) == [1, 2]  # |-6| and |6| tie: the lower index first
    assert list(network.top_units(c, 3)) == [1, 2, 0]


def test_earlier_layer_contribution_goes_through_the_later_weights_and_relu():
    W1 = np.array([[1.0, 1.0], [0.0, 2.0]])  # a1 = (x0, x0 + 2 x1)
    W2 = np.array([[1.0, -1.0], [1.0, 1.0]])  # z2 = (a1_0 + a1_1, a1_1 - a1_0)
    W3 = np.array([[2.0, 0.0], [5.0, 1.0]])
    model = dense_model([(W1, np.zeros(2)), (W2, np.zeros(2)), (W3, np.zeros(2))],
                        ["relu", "relu", "softmax"])
    x = np.array([[3.0, 0.5]])  # a1 = (3, 4); z2 = (7, 1): both active
    outputs = model.activations(x)
    c = network.contributions(model, x[0], outputs, answer=0)
    # d logit0 / d a1 = W2 @ (relu' * W3[:, 0]) = (1*2 + (-1)*5, 1*2 + 1*5) = (-3, 7)
    np.testing.assert_allclose(c[0], [3.0 * -3, 4.0 * 7])
    np.testing.assert_allclose(c[1], [7.0 * 2, 1.0 * 5])
    x2 = np.array([[3.0, -1.0]])  # a1 = (3, 1); z2 = (4, -2): the second unit is off
    c2 = network.contributions(model, x2[0], model.activations(x2), answer=0)
    np.testing.assert_allclose(c2[0], [3.0 * 2, 1.0 * 2])


def test_gradients_by_layer_match_the_input_gradient_and_finite_differences():
    rng = np.random.default_rng(5)
    model = nn.Model([nn.Dense(6, "tanh"), nn.Dense(5, "relu"), nn.Dense(3, "softmax")],
                     input_shape=(4,), dtype="float64", seed=2)
    x = rng.normal(size=(1, 4))
    grads = model.gradients_by_layer(x, 2)
    assert [g.shape for g in grads] == [(1, 4), (1, 6), (1, 5), (1, 3)]
    np.testing.assert_allclose(grads[0], model.input_gradient(x, 2), rtol=1e-12)
    np.testing.assert_array_equal(grads[-1], [[0.0, 0.0, 1.0]])  # the seed, on the logit
    # d logit_2 / d a_0 by finite differences through the layers after the first
    a0 = model.activations(x)[0]
    tail = network.sub_model(model, model.layers[1:], (6,))

    def logit(a: np.ndarray) -> float:
        h = a
        for layer in tail.layers[:-1]:
            h = layer.forward(h)
        return float(tail.layers[-1].forward_with_logits(h)[1][0, 2])

    eps = 1e-6
    numeric = [(logit(a0 + eps * e) - logit(a0 - eps * e)) / (2 * eps) for e in np.eye(6)]
    np.testing.assert_allclose(grads[1][0], numeric, rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="class_index expected"):
        model.gradients_by_layer(x, 3)


def test_one_stroke_computes_the_gradients_once():
    rng = np.random.default_rng(4)
    model = random_mlp(rng, 16)
    x = rng.random(784).astype(np.float32)
    answer = int(model.predict(x[None])[0].argmax())
    expected = model.input_gradient(x[None], answer)[0] * x
    calls = []
    real = model.gradients_by_layer
    model.gradients_by_layer = lambda *a, **k: calls.append(1) or real(*a, **k)
    outputs = model.activations(x[None])
    network.build_diagram(model, x, outputs, model.predict(x[None])[0])
    g = network.gradient_x_input(model, x, answer)
    assert len(calls) == 1  # the diagram's pass serves the saliency too
    np.testing.assert_allclose(g, expected, rtol=1e-5)
    network.gradient_x_input(model, x, (answer + 1) % 10)
    assert len(calls) == 2  # another answer is another pass


def test_diagram_shows_the_top_units_and_the_strongest_edges():
    W1 = np.zeros((784, 5))
    W1[0, :] = [0.0, 1.0, 2.0, 3.0, 4.0]  # pixel 0 = 1 gives activations 0..4
    W2 = np.zeros((5, 3))
    W2[:, 1] = [9.0, 1.0, -2.0, 0.1, 0.5]  # contributions to class 1: 0, 1, -4, 0.3, 2
    W2[:, 0] = [0.0, 0.0, 0.0, 0.0, 0.1]
    model = dense_model([(W1, np.zeros(5)), (W2, np.zeros(3))], ["relu", "softmax"])
    x = np.zeros(784)
    x[0] = 1.0
    outputs = model.activations(x[None])
    p = np.array([0.1, 0.8, 0.1])  # the answer whose contributions are ranked: class 1
    d = network.build_diagram(model, x, outputs, p, per_layer=3, edges_per_gap=4)
    assert d.answer == 1
    hidden = d.columns[1]
    assert list(hidden.units) == [2, 4, 1]  # |-4| > 2 > 1 > 0.3
    np.testing.assert_allclose(hidden.contribution, [-4.0, 2.0, 1.0])
    np.testing.assert_allclose(hidden.activation, [2.0, 4.0, 1.0])
    assert (hidden.total, d.columns[-1].total) == (5, 3)
    # input -> hidden: what the drawing gives each shown unit (x . W[:, j])
    assert list(d.edges[0][:, 2]) == [4.0, 2.0, 1.0]  # strongest first
    E0 = d.edges[0][np.argsort(d.edges[0][:, 1])]
    np.testing.assert_allclose(E0, [[0, 0, 2.0], [0, 1, 4.0], [0, 2, 1.0]])
    # hidden -> output: a_i * W2[i, j], the four largest |values| over shown units
    got = {(int(s), int(t)): v for s, t, v in d.edges[1]}
    assert got[(0, 1)] == pytest.approx(-4.0)  # unit 2 (position 0) to class 1
    assert got[(1, 1)] == pytest.approx(2.0)  # unit 4 (position 1) to class 1
    assert got[(2, 1)] == pytest.approx(1.0)  # unit 1 (position 2) to class 1
    assert got[(1, 0)] == pytest.approx(0.4)  # unit 4 to class 0
    assert len(got) == 4
    svg = network.diagram_svg(d, model)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    # one document; the three shown templates are windows onto one stacked picture
    assert svg.count("<svg") == 1 + 3 and svg.count("<image") == 2  # + the drawing
    assert "3 of 5 shown" in svg and "answer: 1" in svg


def tiny_cnn(seed: int = 0) -> nn.Model:
    model = nn.Model([nn.Reshape((1, 8, 8)), nn.Conv2D(3, 3, padding="same", activation="relu"),
                      nn.MaxPool2D(2), nn.Conv2D(4, 3, activation="relu"), nn.Flatten(),
                      nn.Dense(3, "softmax")], input_shape=(64,), seed=seed, dtype="float64")
    return model


def test_conv_contributions_are_the_derivative_of_scaling_a_map():
    model = tiny_cnn(1)
    x = np.random.default_rng(2).random((1, 64))
    outputs = model.activations(x)
    answer = int(outputs[-1][0].argmax())
    c = network.contributions(model, x[0], outputs, answer)

    def logit_with_scaled_map(i: int, ch: int, eps: float) -> float:
        a = outputs[i].copy()
        a[0, ch] *= 1 + eps
        for layer in model.layers[i + 1:-1]:
            a = layer.forward(a)
        return float((a.reshape(1, -1) @ model.layers[-1].params["W"])[0, answer])

    for i in (1, 3):
        for ch in range(outputs[i].shape[1]):
            h = 1e-6
            numeric = (logit_with_scaled_map(i, ch, h) - logit_with_scaled_map(i, ch, -h)) / (2 * h)
            assert c[i][ch] == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def test_conv_edges_match_a_convolution_of_one_channel_at_a_time():
    model = tiny_cnn(3)
    x = np.random.default_rng(4).random((1, 64))
    outputs = model.activations(x)
    x_in = outputs[2][0]  # the pooled maps that layer 3 reads (3, 4, 4)
    src, dst = np.array([2, 0]), np.array([3, 1, 0])
    E = network.edge_values(model, x_in, 3, 3, src, dst)
    conv = model.layers[3]
    linear = nn.Conv2D(4, 3, activation="linear")
    linear.build((3, 4, 4), np.random.default_rng(0), np.float64)
    linear.params["W"][...] = conv.params["W"]
    for a, c in enumerate(src):
        only = np.zeros_like(x_in)
        only[c] = x_in[c]
        maps = linear.forward(only[None])[0]  # bias is zero in `linear`
        for b, f in enumerate(dst):
            assert E[a, b] == pytest.approx(maps[f].sum())
    E_pad = network.edge_values(model, outputs[0][0], 1, 1, np.array([0]), np.array([0, 2]))
    first = nn.Conv2D(3, 3, padding="same", activation="linear")
    first.build((1, 8, 8), np.random.default_rng(0), np.float64)
    first.params["W"][...] = model.layers[1].params["W"]
    maps = first.forward(outputs[0])[0]
    np.testing.assert_allclose(E_pad[0], [maps[0].sum(), maps[2].sum()])


def test_the_shipped_cnn_diagram_has_map_thumbnails_and_valid_edges():
    model = nn.Model.load("weights/cnn.npz")
    x = np.zeros(784, np.float32)
    x.reshape(28, 28)[5:23, 13:16] = 1.0  # a "1"
    outputs = model.activations(x[None])
    d = network.build_diagram(model, x, outputs, outputs[-1][0])
    kinds = [c.kind for c in d.columns]
    assert kinds == ["input", "conv", "conv", "dense", "output"]
    assert d.columns[1].maps.shape == (network.PER_MAP_LAYER, 28, 28)
    for g, E in enumerate(d.edges):
        assert len(E) > 0
        assert E[:, 0].max() < len(d.columns[g].units)
        assert E[:, 1].max() < len(d.columns[g + 1].units)
    svg = network.diagram_svg(d, model)
    filters = model.layers[1].params["W"].shape[0]  # the shipped recipe's first conv
    assert f"8 of {filters} shown" in svg and "12 of 128 shown" in svg


def test_model_without_hidden_layers_still_draws():
    model = dense_model([(np.random.default_rng(0).normal(size=(784, 10)), np.zeros(10))],
                        ["softmax"])
    x = np.random.default_rng(1).random(784)
    outputs = model.activations(x[None])
    d = network.build_diagram(model, x, outputs, outputs[-1][0])
    assert [c.kind for c in d.columns] == ["input", "output"]
    assert "<svg" in network.diagram_svg(d, model)
    assert la.feature_layer(model) == -1
    np.testing.assert_array_equal(la.features_of(model, x, outputs), x.astype(np.float32))


def test_png_is_a_valid_png():
    from io import BytesIO

    from PIL import Image

    img = (np.arange(28 * 28 * 3) % 256).astype(np.uint8).reshape(28, 28, 3)
    back = np.asarray(Image.open(BytesIO(png_bytes(img))))
    np.testing.assert_array_equal(back, img)
    grey = img[..., 0]
    np.testing.assert_array_equal(np.asarray(Image.open(BytesIO(png_bytes(grey)))), grey)


# ------------------------------------------------------------ the picture sent per stroke


def _decode_png_uri(uri: str) -> np.ndarray:
    import base64
    from io import BytesIO

    from PIL import Image

    assert uri.startswith("data:image/png;base64,")
    img = Image.open(BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    img.load()
    return np.asarray(img.convert("RGB")).astype(int)


def test_palette_png_decodes_to_the_colormap_within_a_quantisation_step():
    from digits.viz import colorize, lookup_table

    rng = np.random.default_rng(5)
    values = rng.normal(size=(28, 28)).astype(np.float32)
    lim = float(np.abs(values).max())
    for cmap, lo, levels in (("RdBu_r", -lim, 65), ("magma", 0.0, 65), ("magma", 0.0, 17)):
        got = _decode_png_uri(pictures.palette_uri(values, cmap, lo, lim, levels))
        want = colorize(values, cmap, lo, lim).astype(int)
        lut = lookup_table(cmap).astype(int)
        # a pixel moves at most half a step of 255 / (levels - 1) table entries (+1 rounding)
        reach = int(np.ceil(255 / (levels - 1) / 2)) + 1
        worst = max(np.abs(lut[i:i + reach + 1] - lut[i]).max() for i in range(256 - reach))
        assert got.shape == (28, 28, 3)
        assert np.abs(got - want).max() <= worst, cmap
    # the middle of a diverging map (value 0) stays its exact middle colour
    zero = _decode_png_uri(pictures.palette_uri(np.zeros((2, 2)), "RdBu_r", -1.0, 1.0, 65))
    np.testing.assert_array_equal(zero[0, 0], pictures.quantised_colormap("RdBu_r", 65)[32])


def test_stacked_tiles_decode_as_one_picture_and_reject_mixed_widths():
    rng = np.random.default_rng(6)
    blocks = [rng.integers(0, 65, (28, 28)).astype(np.uint8) for _ in range(4)]
    blocks[1][:] = 7  # a very compressible tile between noisy ones
    palette = pictures.quantised_colormap("RdBu_r", 65)
    tiles = [pictures.png_tile(b) for b in blocks]
    got = _decode_png_uri(pictures.stacked_palette_uri(tiles, palette))
    np.testing.assert_array_equal(got, palette[np.concatenate(blocks)].astype(int))
    with pytest.raises(ValueError, match="one width"):
        pictures.stacked_palette_uri([tiles[0], pictures.png_tile(blocks[0][:, :14])], palette)
    with pytest.raises(ValueError, match="below 3"):
        pictures.palette_png_bytes(np.full((2, 2), 3, np.uint8), palette[:3])


def _mlp_diagram(seed: int = 0):
    rng = np.random.default_rng(seed)
    model = random_mlp(rng, 32)
    x = np.zeros(784, np.float32)
    x.reshape(28, 28)[6:22, 12:16] = 1.0
    outputs = model.activations(x[None])
    return model, network.build_diagram(model, x, outputs, model.predict(x[None])[0])


def test_the_diagram_uri_survives_the_html_attribute_and_decodes_to_the_svg():
    from html.parser import HTMLParser

    model, d = _mlp_diagram()
    svg = network.diagram_svg(d, model)
    page = network.diagram_html(d, model)

    class Img(HTMLParser):
        src = alt = None

        def handle_starttag(self, tag, attrs):
            if tag == "img":
                self.src, self.alt = dict(attrs)["src"], dict(attrs)["alt"]

    parser = Img()
    parser.feed(page)
    assert parser.src is not None and parser.src.startswith("data:image/svg+xml;charset=utf-8,")
    body = parser.src.split(",", 1)[1]
    for char in '<>#&"\n':  # read by the HTML parser or sanitiser, or a fragment
        assert char not in body
    assert "</title" not in parser.src  # the sanitiser drops an attribute holding it
    assert network.svg_of_data_uri(parser.src) == svg  # what the browser draws
    assert parser.alt == network.diagram_alt(d)
    assert len(page.encode()) < 1.15 * len(svg.encode())  # base64 alone would add a third
    tricky = "<svg><text>50% · a&amp;b \"q\" #1\t</text></svg>"
    assert network.svg_of_data_uri(network.svg_data_uri(tricky)) == tricky
    import base64
    b64 = "data:image/svg+xml;base64," + base64.b64encode(tricky.encode()).decode()
    assert network.svg_of_data_uri(b64) == tricky
    with pytest.raises(ValueError, match="data:image/svg"):
        network.svg_of_data_uri("data:image/png;base64,AAAA")


def test_edges_carry_their_colour_and_width_through_classes():
    import re

    model, d = _mlp_diagram(1)
    svg = network.diagram_svg(d, model)
    rules = dict(re.findall(r"\.(w\d+)\{([^}]*)\}", svg))
    group = re.search(r"<g fill='none' stroke='([^']+)' stroke-linecap='round'>(.*?)</g>", svg)
    assert group is not None and group.group(1) == network.POSITIVE
    assert f".n{{stroke:{network.NEGATIVE}}}" in svg
    classes = re.findall(r"<path d='[^']+' class='([^']+)'/>", group.group(2))
    values = np.concatenate([E[:, 2] for E in d.edges])
    strength = np.concatenate([np.abs(E[:, 2]) / np.abs(E[:, 2]).max() for E in d.edges])
    assert len(classes) == len(values) > 10
    for cls, v, r in zip(classes, values, strength, strict=True):
        names = cls.split()
        assert ("n" in names) == (v < 0)  # blue lowers, orange raises
        (step,) = [c for c in names if c.startswith("w")]
        width = float(re.search(r"stroke-width:([\d.]+)", rules[step]).group(1))
        opacity = float(re.search(r"stroke-opacity:([\d.]+)", rules[step]).group(1))
        assert width == pytest.approx(0.5 + 5.5 * r, abs=5.5 / 64 + 0.005)
        assert opacity == pytest.approx(0.25 + 0.6 * r, abs=0.6 / 64 + 0.005)


def test_the_templates_picture_holds_the_shown_units_in_their_colours():
    import re

    from digits.viz import colorize

    model, d = _mlp_diagram(2)
    svg = network.diagram_svg(d, model)
    hidden = d.columns[1]
    uri = re.search(r"<defs><image id='m1' href='([^']+)' width='28' height='(\d+)'/>", svg)
    assert uri is not None and int(uri.group(2)) == 28 * len(hidden.units)
    got = _decode_png_uri(uri.group(1))
    templates = network.first_layer_templates(model, hidden.index)
    for j, unit in enumerate(hidden.units):
        t = templates[unit]
        lim = float(np.abs(t).max())
        want = colorize(t, "RdBu_r", -lim, lim).astype(int)  # as signed_uri draws it
        assert np.abs(got[28 * j:28 * (j + 1)] - want).max() <= 12, unit  # 65 colours
        assert f"viewBox='0 {28 * j} 28 28'" in svg


# ---------------------------------------------------------------------------- saliency


def test_gradient_x_input_is_zero_off_the_ink_and_occlusion_sees_the_ink():
    model = nn.Model.load("weights/mlp.npz")
    x = np.zeros(784, np.float32)
    x.reshape(28, 28)[5:23, 13:16] = 1.0
    answer = int(model.predict(x[None])[0].argmax())
    gx = network.gradient_x_input(model, x, answer)
    assert np.all(gx[x == 0] == 0) and np.any(gx[x > 0] != 0)
    occ = network.occlusion(model, x, answer)
    outside = np.ones((28, 28), bool)
    outside[4:24, 12:16] = False  # the 4x4 patches that hold ink
    assert np.all(occ[outside] == 0)
    assert occ[4:24, 12:16].max() > 0  # erasing part of the stroke lowers the answer


# ------------------------------------------------------------------------ look-alikes


def test_nearest_matches_brute_force_cosine():
    rng = np.random.default_rng(5)
    model = random_mlp(rng, 16)
    images = (rng.random((300, 784)) < 0.2).astype(np.float32)
    labels = rng.integers(0, 10, 300)
    bank = la.build_bank(model, images, labels, batch=64)
    F = model.activations(images)[0]
    for _ in range(5):
        query = rng.random(784).astype(np.float32)
        f = la.features_of(model, query, model.activations(query[None]))
        rows, sims = la.nearest(bank, f, 8)
        brute = (F @ f) / (np.linalg.norm(F, axis=1) * np.linalg.norm(f) + 1e-30)
        expected = np.argsort(-brute, kind="stable")[:8]
        np.testing.assert_array_equal(rows, expected)
        np.testing.assert_allclose(sims, brute[expected], rtol=1e-4)


@pytest.mark.parametrize("shift", [-25.0, 0.0, 60.0])  # few, about half, all units on
def test_nearest_reads_the_units_on_and_still_matches_brute_force(shift):
    rng = np.random.default_rng(9)
    model = random_mlp(rng, 32)
    model.layers[0].params["B"][...] = shift
    images = rng.random((200, 784)).astype(np.float32)
    bank = la.build_bank(model, images, np.zeros(200, int), batch=64)
    assert bank.features_by_unit.shape == (32, 200) and bank.features.shape == (200, 32)
    F = model.activations(images)[0]
    on = []
    for _ in range(4):
        query = rng.random(784).astype(np.float32)
        f = la.features_of(model, query, model.activations(query[None]))
        on.append(np.count_nonzero(f))
        rows, sims = la.nearest(bank, f, 5)
        brute = (F @ f) / (np.linalg.norm(F, axis=1) * np.linalg.norm(f) + 1e-30)
        np.testing.assert_allclose(sims, np.sort(brute)[::-1][:5], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(brute[rows], sims, rtol=1e-4, atol=1e-6)
    if shift < 0:
        assert min(on) >= 1 and max(on) <= 16  # the look-up read the rows of the units on
    elif shift > 0:
        assert min(on) == 32  # every unit on: the whole matrix
    rows, sims = la.nearest(bank, np.zeros(32, np.float32), 3)  # nothing on: no similarity
    assert len(rows) == 3 and not np.any(sims)


def test_bank_top_digits_per_unit_match_brute_force():
    rng = np.random.default_rng(6)
    model = tiny_cnn(7)
    model.layers[1].params["B"][...] = 0.5  # every map positive somewhere: no ties at 0
    images = rng.random((120, 64))
    bank = la.build_bank(model, images, np.zeros(120, int), top_k=5, batch=50)
    outs = model.activations(images)
    maps = outs[1].reshape(120, 3, -1).max(axis=2)  # a map's strongest pixel
    for ch in range(3):
        np.testing.assert_array_equal(bank.top[1][ch],
                                      np.argsort(-maps[:, ch], kind="stable")[:5])
    assert set(bank.top) == {1, 3}


def test_bank_cache_is_per_weights_not_per_object():
    la.clear_banks()
    rng = np.random.default_rng(8)
    model = random_mlp(rng, 8)
    calls = []

    def load() -> tuple[np.ndarray, np.ndarray]:
        calls.append(1)
        return (rng.integers(0, 256, (50, 28, 28)).astype(np.uint8), np.arange(50) % 10)

    first = la.bank_for(model, load)
    twin = model.copy()
    assert la.bank_for(twin, load) is first and len(calls) == 1
    twin.layers[0].params["W"][0, 0] += 1.0
    assert la.bank_for(twin, load) is not first and len(calls) == 2
    assert first.features.shape == (50, 8)
    for _, param, _ in model.parameters():  # frozen, as the app's models: its digest is kept
        param.setflags(write=False)
    assert la.cached_bank(model) is first and la.bank_for(model, load) is first
    assert la.request_bank(model, load) is first and len(calls) == 2
    la.clear_banks()


def test_a_wide_last_hidden_layer_gets_fewer_bank_digits(monkeypatch):
    """The bank holds at most BANK_FEATURES stored values: all of BANK_SIZE digits for a
    narrow last hidden layer, fewer for a wide one (never below MIN_BANK_SIZE), and
    bank_for builds it from that many."""
    def mlp(*hidden: int) -> nn.Model:
        return nn.Model([*(nn.Dense(h) for h in hidden), nn.Dense(10, "softmax")],
                        input_shape=(784,), seed=0)

    assert la.bank_size(mlp(512, 128)) == la.BANK_SIZE
    assert la.bank_size(mlp(800, 800)) == la.BANK_FEATURES // 800 < la.BANK_SIZE
    assert la.bank_size(nn.Model([nn.Dense(10, "softmax")], input_shape=(784,))) == (
        min(la.BANK_SIZE, la.BANK_FEATURES // 784))
    assert la.bank_size(mlp(16), most=300) == 300
    monkeypatch.setattr(la, "BANK_FEATURES", 16 * 40)  # 40 digits of 16 features
    monkeypatch.setattr(la, "MIN_BANK_SIZE", 30)
    assert la.bank_size(mlp(64)) == 30  # 10 digits of 64 would be too few
    la.clear_banks()
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (100, 28, 28)).astype(np.uint8)
    bank = la.bank_for(mlp(16), lambda: (images, np.arange(100) % 10), size=100)
    assert len(bank.labels) == 40 and bank.features.shape == (40, 16)
    la.clear_banks()


# ------------------------------------------------------------------------------ neurons


def test_first_layer_unit_shows_its_weights_and_deeper_units_their_gradient():
    model = nn.Model.load("weights/mlp.npz")
    x = np.zeros(784, np.float32)
    x.reshape(28, 28)[5:23, 13:16] = 1.0
    outputs = model.activations(x[None])
    v = neurons.describe_unit(model, x, outputs, 0, 7)
    np.testing.assert_array_equal(v.picture, model.layers[0].params["W"][:, 7].reshape(28, 28))
    assert v.activation == pytest.approx(float(outputs[0][0, 7]))
    w = neurons.describe_unit(model, x, outputs, 1, 3)
    # the gradient of z2_3: sum_i W2[i, 3] relu'(z1_i) W1[:, i]
    active = outputs[0][0] > 0
    expected = (model.layers[0].params["W"][:, active] @ model.layers[1].params["W"][active, 3])
    np.testing.assert_allclose(w.picture.ravel(), expected, rtol=1e-4, atol=1e-5)
    width = model.layers[1].params["W"].shape[1]  # the second hidden layer's units
    assert 1 <= w.rank <= width and w.total == width
    with pytest.raises(ValueError, match="layer expected"):
        neurons.describe_unit(model, x, outputs, 2, 0)
    with pytest.raises(ValueError, match="unit expected"):
        neurons.describe_unit(model, x, outputs, 1, width)


# ----------------------------------------------------------------------------- timeline


def path(points: list[tuple[float, float]], width: float = 20.0) -> dict:
    """A fabric.js freehand path object through ``points`` (M, then Q segments, then L)."""
    cmds = [["M", *points[0]]]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        cmds.append(["Q", x0, y0, (x0 + x1) / 2, (y0 + y1) / 2])
    cmds.append(["L", *points[-1]])
    return {"type": "Path", "path": cmds, "strokeWidth": width, "stroke": "#FFFFFF"}


def test_render_strokes_draws_where_the_path_goes():
    img = strokes.render_strokes([path([(140, 40), (140, 240)])])
    assert img.shape == (280, 280, 4)
    assert img[140, 140, 0] == 255 and img[140, 100, 0] == 0 and img[20, 140, 0] == 0
    assert img[40, 140, 0] == 255  # round end


def test_stroke_objects_keeps_paths_only():
    data = {"objects": [path([(1, 1), (5, 5)]), {"type": "rect"}, "junk",
                        {"type": "path", "path": "bad"}]}
    assert len(strokes.stroke_objects(data)) == 1
    assert strokes.stroke_objects(None) == [] and strokes.stroke_objects({"objects": 3}) == []


def test_timeline_reads_each_prefix_and_caches_it():
    class Counting:
        """Stands in for a model: 'digit' = number of ink columns // 20, and counts calls."""

        output_activation = "softmax"
        input_shape = (784,)

        def __init__(self) -> None:
            self.rows = 0

        def predict(self, X: np.ndarray) -> np.ndarray:
            self.rows += len(X)
            P = np.full((len(X), 10), 0.01)
            for i, v in enumerate(X):
                P[i, min(9, int((v.reshape(28, 28).sum(axis=0) > 0).sum()) // 5)] = 0.91
            return P

    one = path([(140, 40), (140, 240)])
    bar = path([(60, 40), (220, 40)])
    diag = path([(220, 40), (100, 240)])
    model = Counting()
    cache: dict = {}
    steps = strokes.stroke_timeline(model, [one], cache=cache, model_key="m")
    assert [s.strokes for s in steps] == [1] and model.rows == 1
    steps = strokes.stroke_timeline(model, [one, bar, diag], cache=cache, model_key="m")
    assert [s.strokes for s in steps] == [1, 2, 3]
    assert model.rows == 3  # the first stroke's answer came from the cache
    assert steps[0].digit is not None and steps[0].digit < steps[2].digit
    assert strokes.timeline_text(steps).count("→") == 2


def test_timeline_takes_the_last_step_from_the_caller():
    class Counting:
        output_activation = "softmax"
        input_shape = (784,)
        rows = 0

        def predict(self, X: np.ndarray) -> np.ndarray:
            Counting.rows += len(X)
            P = np.full((len(X), 10), 0.01)
            P[:, 3] = 0.91
            return P

    one = path([(140, 40), (140, 240)])
    bar = path([(60, 40), (220, 40)])
    known = strokes.Step(1, 7, 0.97)
    steps = strokes.stroke_timeline(Counting(), [one], last=known)
    assert steps == [known] and Counting.rows == 0  # a one-stroke drawing costs nothing
    steps = strokes.stroke_timeline(Counting(), [one, bar], last=strokes.Step(2, 4, 0.9))
    assert [(s.strokes, s.digit) for s in steps] == [(1, 3), (2, 4)] and Counting.rows == 1


def test_timeline_with_the_shipped_mlp_reads_a_one_then_a_seven():
    model = nn.Model.load("weights/mlp.npz")
    one = path([(150, 50), (135, 240)])
    top = path([(70, 55), (150, 50)])
    steps = strokes.stroke_timeline(model, [one, top])
    assert [s.digit for s in steps] == [1, 7]
    assert strokes.timeline_text(steps) == "1 → 7"
    assert strokes.stroke_timeline(model, []) == []


def test_request_bank_builds_in_the_background_and_reports_a_failure_once():
    import threading

    la.clear_banks()
    rng = np.random.default_rng(9)
    model = random_mlp(rng, 8)
    go = threading.Event()

    def load() -> tuple[np.ndarray, np.ndarray]:
        go.wait(10)
        return rng.integers(0, 256, (40, 28, 28)).astype(np.uint8), np.arange(40) % 10

    assert la.request_bank(model, load) is None  # started, not waited for
    assert la.request_bank(model, load) is None  # still building: no second build
    go.set()
    for _ in range(200):
        bank = la.cached_bank(model)
        if bank is not None:
            break
        threading.Event().wait(0.05)
    assert bank is not None and la.request_bank(model, load) is bank

    other = model.copy()
    other.layers[0].params["W"][0, 0] += 1.0

    def missing() -> tuple[np.ndarray, np.ndarray]:
        raise DataUnavailableError("no MNIST here")

    assert la.request_bank(other, missing) is None
    for _ in range(200):
        try:
            la.request_bank(other, missing)
        except DataUnavailableError as exc:
            assert "no MNIST" in str(exc)
            break
        threading.Event().wait(0.05)
    else:
        raise AssertionError("the failure was never reported")
    with pytest.raises(DataUnavailableError):  # reported again, not retried at once
        la.request_bank(other, missing)
    la.clear_banks()
