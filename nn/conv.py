"""Convolutional layers: ``Conv2D`` (im2col plus one matrix product per batch) and
``MaxPool2D``, with the im2col / col2im helpers they share.

Images are channels-first, (batch, channels, height, width), as the layer contract's shapes
say (see ``nn.layers``). Internally the convolution works on channels-last memory: ``Conv2D``
returns its (N, F, H, W) output as a transposed *view* of an (N, H, W, F) array, and ``Conv2D``
and ``MaxPool2D`` read their input through ``X.transpose(0, 2, 3, 1)``, which is free when the
input came from one of them. im2col then gathers contiguous runs of channels and the whole
batch is one (N*Ho*Wo, kh*kw*C) @ (kh*kw*C, F) matrix product. Callers only ever see the
logical (N, C, H, W) shape; ``np.ascontiguousarray`` gives a C-ordered copy if one is needed.

In training a Conv2D and the MaxPool2D after it run as one (``Conv2D.forward_fused``, called by
``Model``): im2col's rows come in pool-window order, so the pool works on contiguous blocks,
and its backward is folded into the conv's. The stride-1 input gradient is a matrix product
and a contiguous shifted add per kernel offset (``Conv2D._input_gradient``). Training's working
arrays are kept from step to step (``_Scratch``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .activations import Activation
from .layers import Layer, _positive_int

Array = np.ndarray

PADDINGS = ("valid", "same")
# Inference (training=False) runs convolutions in chunks of examples whose im2col matrix stays
# under this many bytes, so that predicting on thousands of images does not need gigabytes.
INFERENCE_COLS_BYTES = 32 * 2**20


def _int_pair(value: Any, name: str, owner: str) -> tuple[int, int]:
    """A positive int or a pair of positive ints (a list, from JSON) -> (rows, cols)."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in pair
    ):
        raise ValueError(
            f"{owner}: {name} expected a positive integer or a pair of positive integers. "
            f"Received: {name}={value!r}"
        )
    return int(pair[0]), int(pair[1])


def _check_image_shape(layer: Layer, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """Per-example (C, H, W) or ValueError telling how to get there."""
    if len(input_shape) != 3:
        raise ValueError(
            f"{layer.describe()}: expected input of shape (batch, channels, height, width). "
            f"Received: per-example shape {tuple(input_shape)}; for flat (batch, 784) images "
            f"put a Reshape((1, 28, 28)) first"
        )
    C, H, W = (int(d) for d in input_shape)
    return C, H, W


def _window_geometry(size: int, k: int, s: int, padding: str, owner: str, what: str
                     ) -> tuple[int, int, int]:
    """Output length and (before, after) padding of a sliding window along one axis.

    "valid": no padding, out = (size - k) // s + 1. "same": out = ceil(size / s), padded as
    evenly as possible (the extra pixel after), as in TensorFlow."""
    if padding == "same":
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        return out, total // 2, total - total // 2
    if size < k:
        raise ValueError(
            f"{owner}: {what} expected to be at most the input's size with padding='valid'. "
            f"Received: {what} {k} for an input of size {size}"
        )
    return (size - k) // s + 1, 0, 0


def _strided(start: int, count: int, step: int) -> slice:
    """The slice start, start + step, ... (count items) along one axis."""
    return slice(start, start + (count - 1) * step + 1, step)


# im2col copies runs of kw*C contiguous values; below this many channels those runs are too
# short and it builds the transposed matrix instead, one copy per kernel offset (runs of Wo).
FEW_CHANNELS = 4


class _Scratch:
    """Working arrays a layer keeps from one training step to the next: the same shapes
    every step, so no new memory (and no page faults) per step. Only for arrays that never
    leave the layer; a private copy of a layer gets its own (``clear_cache``)."""

    def __init__(self) -> None:
        self.arrays: dict[str, Array] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: np.dtype, zero: bool = False
            ) -> Array:
        """The array ``name`` of this shape and dtype, new when it has none. ``zero``: filled
        with zeros when new; the caller writes the same part of it every time (the rest
        stays zero, e.g. an image's padding)."""
        array = self.arrays.get(name)
        if array is None or array.shape != shape or array.dtype != dtype:
            array = self.arrays[name] = (np.zeros if zero else np.empty)(shape, dtype=dtype)
        return array


def _fresh(name: str, shape: tuple[int, ...], dtype: np.dtype, zero: bool = False) -> Array:
    """A new array: what layers use instead of a ``_Scratch`` outside training."""
    return (np.zeros if zero else np.empty)(shape, dtype=dtype)


def _pool_major(view: Array, n_axis: int, blocks: tuple[int, int]) -> Array:
    """A view whose axes n_axis, n_axis + 1, n_axis + 2 are (N, Ho, Wo), with Ho and Wo split
    by ``blocks`` = (bh, bw) and reordered as (bh, bw, N, Ho // bh, Wo // bw): the pixels of
    every bh x bw block of the output become bh*bw separate contiguous runs of rows. (1, 1)
    keeps the view as it is."""
    if blocks == (1, 1):
        return view
    bh, bw = blocks
    shape = view.shape
    N, Ho, Wo = shape[n_axis : n_axis + 3]
    split = view.reshape(*shape[:n_axis], N, Ho // bh, bh, Wo // bw, bw, *shape[n_axis + 3 :])
    lead, trail = range(n_axis), range(n_axis + 5, split.ndim)
    return split.transpose(*lead, n_axis + 2, n_axis + 4, n_axis, n_axis + 1, n_axis + 3, *trail)


def _im2col(Xt: Array, kernel: tuple[int, int], stride: tuple[int, int],
            pads: tuple[int, int, int, int], out: tuple[int, int],
            blocks: tuple[int, int] = (1, 1), scratch: _Scratch | None = None) -> Array:
    """Channels-last images Xt (N, H, W, C) -> the (N*Ho*Wo, kh*kw*C) matrix whose row
    (n, i, j) is the receptive field of output pixel (i, j) of example n, in (kh, kw, C) order.

    ``pads`` is (top, bottom, left, right) zero padding, ``out`` is (Ho, Wo). For C >=
    ``FEW_CHANNELS`` this is one strided copy of a ``sliding_window_view``; for fewer channels
    the matrix is built transposed, (kh*kw*C, N*Ho*Wo), with one contiguous copy per kernel
    offset, and returned as its transpose (a Fortran-ordered view, which matmul takes as is).
    With ``blocks`` = (bh, bw) (dividing Ho and Wo) the rows are in the order
    (a, b, n, i', j') for output pixel (i' * bh + a, j' * bw + b): pool-window major (see
    ``_pool_major``), what a fused max pool reads as bh*bw contiguous blocks. With a
    ``scratch``, the padded images and the matrix are its arrays (valid until next call)."""
    new = _fresh if scratch is None else scratch.get
    N, H, W, C = Xt.shape
    (kh, kw), (sh, sw), (top, bottom, left, right), (Ho, Wo) = kernel, stride, pads, out
    if top or bottom or left or right:
        Xp = new("padded", (N, H + top + bottom, W + left + right, C), Xt.dtype, True)
        Xp[:, top : top + H, left : left + W] = Xt
    else:
        Xp = Xt
    if C < FEW_CHANNELS:
        Xq = Xp.transpose(3, 0, 1, 2)  # (C, N, Hp, Wp)
        first = _pool_major(Xq[:, :, _strided(0, Ho, sh), _strided(0, Wo, sw)], 1, blocks)
        colsT = new("cols", (kh, kw, *first.shape), Xt.dtype)
        for i in range(kh):
            for j in range(kw):
                colsT[i, j] = _pool_major(Xq[:, :, _strided(i, Ho, sh), _strided(j, Wo, sw)],
                                          1, blocks)
        return colsT.reshape(kh * kw * C, N * Ho * Wo).T
    windows = np.lib.stride_tricks.sliding_window_view(Xp, (kh, kw), axis=(1, 2))
    windows = windows[:, _strided(0, Ho, sh), _strided(0, Wo, sw)]  # (N, Ho, Wo, C, kh, kw)
    windows = _pool_major(windows.transpose(0, 1, 2, 4, 5, 3), 0, blocks)
    cols = new("cols", windows.shape, Xt.dtype)
    np.copyto(cols, windows)
    return cols.reshape(N * Ho * Wo, kh * kw * C)


def _mark(winner: Array, where: Array, code: int) -> None:
    """winner = max(winner, code) where ``where`` (bool), in place: arithmetic, as np.copyto
    with where= is many times slower."""
    np.maximum(winner, np.multiply(where, winner.dtype.type(code), dtype=winner.dtype),
               out=winner)


def _block_max(A3: Array | list[Array]) -> tuple[Array, Array]:
    """A3 (P, R, F), or P arrays of one shape -> (Y, winner), each (R, F) (that shape,
    C-ordered): the maximum over the P blocks and the first block holding it (uint8 for
    P < 255)."""
    P = len(A3)
    Y = A3[0].copy()
    winner = np.zeros(Y.shape, dtype=np.uint8 if P < 255 else np.intp)
    better = np.empty(Y.shape, dtype=np.bool_)
    for k in range(1, P):
        np.greater(A3[k], Y, out=better)  # strictly: ties keep the first maximum
        np.maximum(Y, A3[k], out=Y)
        _mark(winner, better, k)  # k grows: the last block that beat the running maximum
    return Y, winner


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as in every deep-learning library) with an activation.

    ``Y[n, f] = activation(B[f] + sum_c X[n, c] ⋆ W[f, c])``, vectorised as im2col plus one matrix
    product for the whole batch.

    Args:
        filters: number of output channels F, a positive integer.
        kernel_size: kh = kw = k, or a pair (kh, kw).
        stride: an int or a pair (sh, sw).
        padding: "valid" (no padding: Ho = (H - kh) // sh + 1) or "same" (zeros around the
            image so that Ho = ceil(H / sh); the odd pixel goes at the bottom/right).
        activation: a name from ``nn.activations.ACTIVATIONS`` (linear by default); softmax
            would act across the F channels of each pixel.
        initializer: default He normal for relu-like activations, Glorot otherwise, with
            fan_in = C*kh*kw and fan_out = F*kh*kw.
    Shapes:
        input (batch, C, H, W) -> output (batch, F, Ho, Wo).
    Parameters:
        W: (F, C, kh, kw), B: (F,).
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: str = "valid",
        activation: str | Activation = "linear",
        *,
        initializer: str | None = None,
        name: str | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(activation=activation, initializer=initializer, name=name, seed=seed)
        owner = type(self).__name__
        self.filters = _positive_int(filters, "filters", owner)
        self.kernel_size = _int_pair(kernel_size, "kernel_size", owner)
        self.stride = _int_pair(stride, "stride", owner)
        if padding not in PADDINGS:
            raise ValueError(
                f"{owner}: padding expected one of {list(PADDINGS)}. Received: padding={padding!r}"
            )
        self.padding = padding
        # (cols (M, K), Z (M, F), A (M, F), W as a matrix (F, K), input shape (N, C, H, W),
        # pooled): M = N*Ho*Wo rows of im2col, K = kh*kw*C in (kh, kw, C) order; pooled is
        # None, or (the pool's window (ph, pw), its winners) when a MaxPool2D was fused in
        # (``forward_fused``; the rows are then pool-window major).
        self._cache: tuple[Array, Array, Array, Array, tuple[int, ...], Any] | None = None
        self._scratch = _Scratch()  # training's working arrays, reused step after step

    # --- shapes -------------------------------------------------------------------------------
    def _geometry(self, input_shape: tuple[int, ...]) -> tuple[tuple[int, int, int], ...]:
        """((Ho, top, bottom), (Wo, left, right)) for a per-example (C, H, W)."""
        _, H, W = _check_image_shape(self, input_shape)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        return (_window_geometry(H, kh, sh, self.padding, self.describe(), "kernel height"),
                _window_geometry(W, kw, sw, self.padding, self.describe(), "kernel width"))

    def parameter_shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        self._geometry(input_shape)  # validates
        kh, kw = self.kernel_size
        return {"W": (self.filters, int(input_shape[0]), kh, kw), "B": (self.filters,)}

    def fans(self, input_shape: tuple[int, ...]) -> tuple[int, int]:
        kh, kw = self.kernel_size
        return int(input_shape[0]) * kh * kw, self.filters * kh * kw

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        (Ho, _, _), (Wo, _, _) = self._geometry(input_shape)
        return (self.filters, Ho, Wo)

    def peak_values(self, input_shape: tuple[int, ...]) -> int:
        """The padded input, the im2col matrix (Ho*Wo, kh*kw*C) and the output, per example."""
        C, H, W = (int(d) for d in input_shape)
        (Ho, top, bottom), (Wo, left, right) = self._geometry(input_shape)
        kh, kw = self.kernel_size
        return (C * (H + top + bottom) * (W + left + right) + Ho * Wo * kh * kw * C
                + self.filters * Ho * Wo)

    # --- computation --------------------------------------------------------------------------
    def _weight_matrix(self) -> Array:
        """W (F, C, kh, kw) as the (F, kh*kw*C) matrix that matches im2col's column order."""
        return self.params["W"].transpose(0, 2, 3, 1).reshape(self.filters, -1)

    def _pads(self, input_shape: tuple[int, ...]) -> tuple[tuple[int, int], tuple[int, ...]]:
        """((Ho, Wo), (top, bottom, left, right)) for a per-example (C, H, W)."""
        (Ho, top, bottom), (Wo, left, right) = self._geometry(input_shape)
        return (Ho, Wo), (top, bottom, left, right)

    def _im2col(self, X: Array) -> Array:
        """X (N, C, H, W) -> (N*Ho*Wo, kh*kw*C), see ``_im2col``."""
        out, pads = self._pads(X.shape[1:])
        return _im2col(X.transpose(0, 2, 3, 1), self.kernel_size, self.stride, pads, out)

    def _input_gradient(self, dZ: Array, Wm: Array, input_shape: tuple[int, ...],
                        blocks: tuple[int, int] = (1, 1)) -> Array:
        """dX (N, C, H, W) from dZ (N*Ho*Wo, F), the gradient w.r.t. the pre-activation, its
        rows in ``blocks`` order (see ``_im2col``).

        Stride 1: dZ goes into a zero grid as wide as the padded input, (N, Ho, Wp, F); output
        pixel (y, x) feeds input pixel (y + i, x + j) of the padded input, which for each
        example's flattened rows is a shift by i * Wp + j. So per kernel offset one matrix
        product, grid @ W[:, :, i, j] (N*Ho*Wp, C), and one shifted add with runs of
        Ho*Wp*C contiguous values.
        Other strides: dcols = dZ @ Wm, then ``_col2im``."""
        N, C, H, W = input_shape
        F = self.filters
        (Ho, Wo), (top, bottom, left, right) = self._pads((C, H, W))
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if (sh, sw) != (1, 1):
            if blocks != (1, 1):  # back to (n, i, j) row order
                natural = np.empty((N, Ho, Wo, F), dtype=dZ.dtype)
                view = _pool_major(natural, 0, blocks)
                view[...] = dZ.reshape(view.shape)
                dZ = natural.reshape(-1, F)
            return self._col2im(dZ @ Wm, input_shape)
        Hp, Wp = H + top + bottom, W + left + right
        grid = self._scratch.get("grid", (N, Ho, Wp, F), dZ.dtype, zero=True)
        view = _pool_major(grid[:, :, :Wo], 0, blocks)
        view[...] = dZ.reshape(view.shape)
        rows = Ho * Wp  # per example; Ho + kh - 1 = Hp
        grid = grid.reshape(N * rows, F)
        dXp = np.zeros((N, Hp * Wp + kw - 1, C), dtype=dZ.dtype)  # kw - 1: the last shift's
        D = self._scratch.get("D", (N * rows, C), dZ.dtype)  # overhang (zero columns)
        for i in range(kh):
            for j in range(kw):
                shift = i * Wp + j
                np.matmul(grid, self.params["W"][:, :, i, j], out=D)
                dXp[:, shift : shift + rows] += D.reshape(N, rows, C)
        dXp = dXp[:, : Hp * Wp].reshape(N, Hp, Wp, C)
        return dXp[:, top : top + H, left : left + W].transpose(0, 3, 1, 2)

    def _col2im(self, dcols: Array, input_shape: tuple[int, ...]) -> Array:
        """Adjoint of ``_im2col``: dcols (N*Ho*Wo, kh*kw*C) -> dX (N, C, H, W), summing the
        contributions of overlapping windows (one vectorised add per kernel offset)."""
        N, C, H, W = input_shape
        (Ho, Wo), (top, bottom, left, right) = self._pads((C, H, W))
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        d6 = dcols.reshape(N, Ho, Wo, kh, kw, C)
        dXp = np.zeros((N, H + top + bottom, W + left + right, C), dtype=dcols.dtype)
        for i in range(kh):
            rows = _strided(i, Ho, sh)
            for j in range(kw):
                dXp[:, rows, _strided(j, Wo, sw)] += d6[:, :, :, i, j]
        return dXp[:, top : top + H, left : left + W].transpose(0, 3, 1, 2)

    def _cols(self, X: Array, blocks: tuple[int, int] = (1, 1), scratch: _Scratch | None = None
              ) -> Array:
        """X (N, C, H, W) -> im2col's (M, K) matrix, rows in ``blocks`` order (``_im2col``)."""
        out, pads = self._pads(X.shape[1:])
        return _im2col(X.transpose(0, 2, 3, 1), self.kernel_size, self.stride, pads, out, blocks,
                       scratch)

    def _forward_rows(self, X: Array, Wm: Array, blocks: tuple[int, int] = (1, 1),
                      scratch: _Scratch | None = None) -> tuple[Array, Array, Array]:
        """X (N, C, H, W) -> (cols (M, K), Z (M, F), A (M, F)). For relu, A is Z rectified in
        place (``Activation.in_place``). ``blocks``, ``scratch``: see ``_im2col``."""
        cols = self._cols(X, blocks, scratch)
        Z = cols @ Wm.T  # (M, F)
        Z += self.params["B"]
        return cols, Z, self.activation.in_place(Z)

    def forward(self, X: Array, training: bool = False) -> Array:
        """X: (batch, C, H, W) -> (batch, F, Ho, Wo) (a view of channels-last memory)."""
        if X.dtype != self.dtype:
            X = X.astype(self.dtype)
        N = X.shape[0]
        F, Ho, Wo = self.output_shape(X.shape[1:])
        Wm = self._weight_matrix()
        if training:
            cols, Z, A = self._forward_rows(X, Wm, scratch=self._scratch)
            self._cache = (cols, Z, A, Wm, X.shape, None)
        else:
            row_bytes = Ho * Wo * Wm.shape[1] * X.itemsize
            chunk = max(1, INFERENCE_COLS_BYTES // row_bytes)
            if len(X) <= chunk:
                A = self._forward_rows(X, Wm)[2]
            else:  # blocks of examples, to bound the memory of im2col
                A = np.empty((N * Ho * Wo, F), dtype=self.dtype)
                for start in range(0, N, chunk):
                    stop = min(start + chunk, N)
                    A[start * Ho * Wo : stop * Ho * Wo] = self._forward_rows(X[start:stop], Wm)[2]
        return A.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2)

    # --- a max pool fused in (training only) -----------------------------------------------
    def fuses_with(self, layer: Layer, input_shape: tuple[int, ...]) -> bool:
        """True when ``layer``, the next one, is a MaxPool2D that tiles this layer's output
        for per-example inputs ``input_shape`` exactly (windows as strides, dividing Ho and
        Wo): then ``forward_fused`` can run both."""
        if not isinstance(layer, MaxPool2D) or layer.stride != layer.pool_size:
            return False
        _, Ho, Wo = self.output_shape(input_shape)
        (ph, pw) = layer.pool_size
        return Ho % ph == 0 and Wo % pw == 0

    def forward_fused(self, X: Array, pool: MaxPool2D) -> Array:
        """Training forward of this layer and then ``pool`` (``fuses_with`` must hold): X
        (batch, C, H, W) -> the pool's output (batch, F, Ho // ph, Wo // pw), a view of
        channels-last memory, equal to ``pool.forward(self.forward(X, True), True)``.

        im2col's rows come in pool-window major order, so that the ph*pw elements of every
        window lie in ph*pw contiguous blocks of the activations: the maximum and its argmax
        (the first maximum, as ``MaxPool2D``) are a few contiguous passes. Both layers cache
        for backward: ``pool.backward`` then hands dY through and this layer's ``backward``
        routes it to the winners. For relu, which commutes with the maximum, as adding a
        channel's bias does, both come after the pool (on a quarter of the values for 2x2)
        and a window whose maximum is <= 0 has no winner: relu's derivative would zero its
        gradient."""
        if X.dtype != self.dtype:
            X = X.astype(self.dtype)
        N = X.shape[0]
        F, Ho, Wo = self.output_shape(X.shape[1:])
        blocks = pool.pool_size
        P = blocks[0] * blocks[1]
        Wm = self._weight_matrix()
        relu = self.activation.name == "relu"
        if relu:
            cols = self._cols(X, blocks, self._scratch)
            Z = A = self._scratch.get("Z", (len(cols), F), self.dtype)
            np.matmul(cols, Wm.T, out=Z)  # (M, F) without the bias
        else:
            cols, Z, A = self._forward_rows(X, Wm, blocks, self._scratch)
        Y, winner = _block_max(A.reshape(P, -1, F))
        if relu:
            Y += self.params["B"]
            np.maximum(Y, 0, out=Y)
            _mark(winner, ~(Y > 0), P)  # no winner (as relu's derivative: NaN too)
            Z = A = None  # backward needs neither
        self._cache = (cols, Z, A, Wm, X.shape, (blocks, winner))
        pool._cache = _FUSED
        return Y.reshape(N, Ho // blocks[0], Wo // blocks[1], F).transpose(0, 3, 1, 2)

    def _unpool(self, dY: Array, winner: Array, Z: Array | None, A: Array | None) -> Array:
        """dY (batch, F, Ho', Wo'), the gradient w.r.t. the fused pool's output -> dZ (M, F)
        in pool-window major row order: each window's gradient at its winner (none for
        code P), times the activation's derivative (relu's is in the winners)."""
        P = int(np.prod(self._cache[5][0]))
        dYm = dY.transpose(0, 2, 3, 1).reshape(winner.shape)  # (N*Ho'*Wo', F); copies if needed
        dA = self._scratch.get("dA", (P, *winner.shape), self.dtype)
        mask = self._scratch.get("mask", winner.shape, np.dtype(np.bool_))
        for k in range(P):
            np.equal(winner, k, out=mask)
            np.multiply(dYm, mask, out=dA[k])
        dA = dA.reshape(-1, self.filters)
        if Z is None:
            return dA
        return self.activation_gradient(Z, A, dA, False)

    def backward(self, dY: Array, need_input_grad: bool = True, *, from_logits: bool = False
                 ) -> Array | None:
        """dY: (batch, F, Ho, Wo), the gradient w.r.t. the output (w.r.t. the pre-activation
        when ``from_logits``); after ``forward_fused``, w.r.t. the pool's output. Fills grads
        W and B and returns dX (batch, C, H, W), or None (and skips its cost) when not
        needed."""
        cols, Z, A, Wm, input_shape, pooled = self.cached()
        if pooled is not None:
            (ph, pw), winner = pooled
            dZ = self._unpool(dY, winner, Z, A)
        else:
            dYm = dY.transpose(0, 2, 3, 1).reshape(Z.shape)  # free if dY is channels-last
            if dYm.dtype != self.dtype:
                dYm = dYm.astype(self.dtype)
            dZ = self.activation_gradient(Z, A, dYm, from_logits)  # (M, F)
        kh, kw = self.kernel_size
        if cols.flags.f_contiguous:  # few channels: cols is the transpose of (K, M) memory,
            dWmT = cols.T @ dZ  # and this order of the product is the faster one
            dW = dWmT.reshape(kh, kw, -1, self.filters).transpose(3, 2, 0, 1)
        else:
            dW = (dZ.T @ cols).reshape(self.filters, kh, kw, -1).transpose(0, 3, 1, 2)
        np.copyto(self.gradient_buffer("W"), dW)
        # column sums as a matrix-vector product: several times faster than sum(axis=0)
        np.matmul(np.ones(len(dZ), dtype=dZ.dtype), dZ, out=self.gradient_buffer("B"))
        if not need_input_grad:
            return None
        return self._input_gradient(dZ, Wm, input_shape, (1, 1) if pooled is None else (ph, pw))

    def clear_cache(self) -> None:
        """Drop the cache and the working arrays (a private copy gets its own)."""
        super().clear_cache()
        self._scratch = _Scratch()

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=list(self.kernel_size),
                      stride=list(self.stride), padding=self.padding)
        return config


# MaxPool2D's cache after Conv2D.forward_fused: its work is the conv's (forward and backward).
_FUSED = "fused into the previous Conv2D"


class MaxPool2D(Layer):
    """Max pooling over (pool_h, pool_w) windows, no padding (a partial window at the bottom
    or right edge is dropped).

    Args:
        pool_size: an int or a pair (ph, pw).
        stride: an int or a pair; defaults to pool_size (non-overlapping windows).
    Shapes:
        input (batch, C, H, W) -> output (batch, C, (H - ph) // sh + 1, (W - pw) // sw + 1).
    Ties: the gradient goes to exactly one element of a window, the first maximum in row-major
    window order (as PyTorch does).
    """

    def __init__(self, pool_size: int | tuple[int, int] = 2,
                 stride: int | tuple[int, int] | None = None, *, name: str | None = None) -> None:
        super().__init__(name=name)
        owner = type(self).__name__
        self.pool_size = _int_pair(pool_size, "pool_size", owner)
        self.stride = self.pool_size if stride is None else _int_pair(stride, "stride", owner)
        # (argmax within the window (N, Ho, Wo, C) uint8/int, input shape (N, C, H, W))
        self._cache: tuple[Array, tuple[int, ...]] | None = None

    def _geometry(self, input_shape: tuple[int, ...]) -> tuple[int, int]:
        _, H, W = _check_image_shape(self, input_shape)
        (ph, pw), (sh, sw) = self.pool_size, self.stride
        Ho = _window_geometry(H, ph, sh, "valid", self.describe(), "pool height")[0]
        Wo = _window_geometry(W, pw, sw, "valid", self.describe(), "pool width")[0]
        return Ho, Wo

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator,
              dtype: np.dtype | type = np.float32) -> None:
        self._geometry(input_shape)
        super().build(input_shape, rng, dtype)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (int(input_shape[0]), *self._geometry(input_shape))

    def _windows(self, Xt: Array, Ho: int, Wo: int) -> list[Array]:
        """For each offset (a, b) in the window, row-major: the (N, Ho, Wo, C) view of the
        channels-last Xt holding element (a, b) of every window."""
        (ph, pw), (sh, sw) = self.pool_size, self.stride
        return [Xt[:, _strided(a, Ho, sh), _strided(b, Wo, sw)]
                for a in range(ph) for b in range(pw)]

    def forward(self, X: Array, training: bool = False) -> Array:
        """X: (batch, C, H, W) -> (batch, C, Ho, Wo) (a view of channels-last memory)."""
        if X.dtype != self.dtype:
            X = X.astype(self.dtype)
        Ho, Wo = self._geometry(X.shape[1:])
        views = self._windows(X.transpose(0, 2, 3, 1), Ho, Wo)
        if training:
            # index: the window's first maximum, the offset k in row-major window order
            Y, index = _block_max(views)  # (N, Ho, Wo, C) each, C-ordered
            self._cache = (index, X.shape)
        else:
            Y = views[0].copy()  # (N, Ho, Wo, C), C-ordered
            for view in views[1:]:
                np.maximum(Y, view, out=Y)
        return Y.transpose(0, 3, 1, 2)

    def backward(self, dY: Array, need_input_grad: bool = True, *, from_logits: bool = False
                 ) -> Array | None:
        """dY: (batch, C, Ho, Wo) -> dX (batch, C, H, W): each window's gradient goes to its
        (first) maximum. After ``Conv2D.forward_fused``: dY itself, which that conv's
        ``backward`` takes."""
        cache = self.cached()
        if not need_input_grad:
            return None
        if cache is _FUSED:
            return dY
        index, (N, C, H, W) = cache
        Ho, Wo = index.shape[1:3]
        dYt = dY.transpose(0, 2, 3, 1)
        (ph, pw), (sh, sw) = self.pool_size, self.stride
        tiles = (sh, sw) == (ph, pw) and (Ho * ph, Wo * pw) == (H, W)
        # Exact tiling writes every input pixel once; otherwise start from zeros and add.
        dXt = (np.empty if tiles else np.zeros)((N, H, W, C), dtype=dYt.dtype)
        for k, view in enumerate(self._windows(dXt, Ho, Wo)):
            if tiles:
                np.multiply(dYt, index == k, out=view)
            else:
                view += dYt * (index == k)
        return dXt.transpose(0, 3, 1, 2)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(pool_size=list(self.pool_size), stride=list(self.stride))
        return config
