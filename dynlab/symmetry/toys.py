r"""Toy networks with one symmetry each (Kunin et al. 2021, arXiv:2012.04728, section 3).

:class:`SoftmaxRegression` (translation), :class:`BatchNormNet` (scale) and
:class:`TwoLayerNet` (rescale) give minibatch losses, gradients and exact Hessian-vector
products; every minibatch loss has the symmetry, so :func:`constraint_residuals` vanish to
rounding for each minibatch, not only on average.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import config
from .._validate import as_array, as_positive_int, as_rng
from ..errors import ShapeError
from .generators import Symmetry

__all__ = [
    "ToyModel",
    "SoftmaxRegression",
    "BatchNormNet",
    "TwoLayerNet",
    "ConstraintResiduals",
    "constraint_residuals",
]


class ToyModel:
    """A loss on a dataset with flat parameters, minibatch gradients and named symmetries.

    Subclasses implement ``_loss_grad(theta, idx) -> (loss, grad)`` with numpy operations that
    also accept complex ``theta`` (for the complex-step Hessian-vector product).
    """

    n_params: int
    n_samples: int
    symmetries: tuple[Symmetry, ...]

    def _check_theta(self, theta) -> np.ndarray:
        return as_array(theta, "theta", shape=(self.n_params,))

    def _batch(self, batch) -> np.ndarray:
        if batch is None:
            return np.arange(self.n_samples)
        idx = np.asarray(batch)
        if idx.ndim != 1 or idx.size < 1 or not np.issubdtype(idx.dtype, np.integer):
            raise ShapeError(f"batch must be a 1-D array of sample indices; got {idx!r}")
        if idx.min() < 0 or idx.max() >= self.n_samples:
            raise ShapeError(f"batch indices must lie in [0, {self.n_samples})")
        return idx

    def loss(self, theta, batch=None) -> float:
        """Loss on ``batch`` (sample indices; all samples if None)."""
        return float(self._loss_grad(self._check_theta(theta), self._batch(batch))[0])

    def grad(self, theta, batch=None) -> np.ndarray:
        """Gradient of :meth:`loss` with respect to the flat parameters."""
        return self._loss_grad(self._check_theta(theta), self._batch(batch))[1]

    def hvp(self, theta, vec, batch=None) -> np.ndarray:
        """Hessian-vector product ``H vec`` by the complex-step derivative of :meth:`grad`.

        ``H vec = Im grad(theta + i h vec) / h`` with ``h = config.COMPLEX_STEP / ||vec||``:
        exact to rounding (no subtractive cancellation). For ReLU networks it is the Hessian of
        the piece containing ``theta`` (the loss is piecewise smooth).
        """
        theta = self._check_theta(theta)
        vec = as_array(vec, "vec", shape=(self.n_params,))
        norm = np.linalg.norm(vec)
        if norm == 0.0:
            return np.zeros(self.n_params)
        h = config.COMPLEX_STEP / norm
        g = self._loss_grad(theta + 1j * h * vec, self._batch(batch))[1]
        return g.imag / h

    def hessian(self, theta, batch=None) -> np.ndarray:
        """Full Hessian, column by column from :meth:`hvp` (small models only)."""
        eye = np.eye(self.n_params)
        H = np.stack([self.hvp(theta, e, batch) for e in eye], axis=1)
        return 0.5 * (H + H.T)

    def init(self, seed=None, scale: float = 1.0) -> np.ndarray:
        """Random initial parameters ``N(0, scale^2 / fan_in)`` per entry (reproducible)."""
        rng = as_rng(seed)
        return scale * rng.standard_normal(self.n_params) * self._init_std

    def _loss_grad(self, theta, idx):  # pragma: no cover - abstract
        raise NotImplementedError


def _dataset(X, Y, name_y: str):
    X = as_array(X, "X", ndim=2)
    Y = as_array(Y, name_y)
    if Y.shape[0] != X.shape[0]:
        raise ShapeError(
            f"X and {name_y} must have the same number of rows; got {X.shape[0]} and {Y.shape[0]}"
        )
    return X, Y


class SoftmaxRegression(ToyModel):
    r"""Multinomial logistic regression, translation symmetry (Kunin et al. 2021, softmax).

    Logits :math:`z_n = W x_n + b`, loss :math:`\frac1N\sum_n [\log\sum_c e^{z_{nc}} - z_{n y_n}]`.
    Adding :math:`\alpha` to every class's weight on one input feature (a column of W), or to
    every bias, leaves every softmax unchanged: one translation symmetry per column and one for
    the bias. Parameters: ``W`` (C, d) row-major, then ``b`` (C,).
    """

    def __init__(self, X, y, n_classes: int | None = None):
        X = as_array(X, "X", ndim=2)
        y = np.asarray(y)
        if y.shape != (X.shape[0],) or not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
            raise ShapeError("y must hold one non-negative integer class label per row of X")
        C = (
            int(y.max()) + 1
            if n_classes is None
            else as_positive_int(n_classes, "n_classes", ShapeError)
        )
        if y.max() >= C:
            raise ShapeError(f"labels must be < n_classes = {C}")
        self.X, self.y, self.C = X, y.astype(np.int64), C
        self.n_samples, d = X.shape
        self.d = d
        self.n_params = C * d + C
        self._init_std = 1.0 / np.sqrt(d)
        cols = [
            Symmetry.translation(self.n_params, np.arange(C) * d + j, f"column {j}")
            for j in range(d)
        ]
        self.symmetries = tuple(cols) + (
            Symmetry.translation(self.n_params, C * d + np.arange(C), "bias"),
        )

    @classmethod
    def synthetic(
        cls, n_samples: int = 256, d: int = 4, n_classes: int = 3, seed=0
    ) -> "SoftmaxRegression":
        """Gaussian inputs labelled by a random linear teacher with label noise."""
        rng = as_rng(seed)
        X = rng.standard_normal((n_samples, d))
        logits = X @ rng.standard_normal((d, n_classes)) * 2.0 + rng.gumbel(
            size=(n_samples, n_classes)
        )
        return cls(X, np.argmax(logits, axis=1), n_classes)

    def _loss_grad(self, theta, idx):
        C, d = self.C, self.d
        W, b = theta[: C * d].reshape(C, d), theta[C * d :]
        X, y = self.X[idx], self.y[idx]
        n = len(idx)
        Z = X @ W.T + b
        m = Z.real.max(axis=1, keepdims=True)
        E = np.exp(Z - m)
        tot = E.sum(axis=1)
        rows = np.arange(n)
        loss = np.mean(m[:, 0] + np.log(tot) - Z[rows, y])
        P = E / tot[:, None]
        P[rows, y] -= 1.0
        P /= n
        return loss, np.concatenate([(P.T @ X).ravel(), P.sum(axis=0)])


class BatchNormNet(ToyModel):
    r"""A batch-normalised linear layer with a linear read-out: scale symmetry (batchnorm).

    :math:`\hat y_n = \sum_i a_i \,\mathrm{BN}(W x)_{ni} + c`, with BN over the minibatch
    (population variance, no epsilon, so the invariance is exact) and squared loss
    :math:`\frac1{2N}\sum_n (\hat y_n - y_n)^2`. Each row of W is scale invariant.
    Parameters: ``W`` (m, d) row-major, then ``a`` (m,), then ``c``. Minibatches need >= 2 samples.
    """

    def __init__(self, X, y, width: int = 3):
        self.X, self.y = _dataset(X, y, "y")
        if self.y.ndim != 1:
            raise ShapeError(f"y must be 1-D; got shape {self.y.shape}")
        self.m = as_positive_int(width, "width", ShapeError)
        self.n_samples, self.d = self.X.shape
        self.n_params = self.m * self.d + self.m + 1
        self._init_std = 1.0 / np.sqrt(self.d)
        self.symmetries = tuple(
            Symmetry.scale(self.n_params, i * self.d + np.arange(self.d), f"row {i}")
            for i in range(self.m)
        )

    @classmethod
    def synthetic(cls, n_samples: int = 256, d: int = 5, width: int = 3, seed=0) -> "BatchNormNet":
        """Gaussian inputs, a nonlinear teacher with label noise."""
        rng = as_rng(seed)
        X = rng.standard_normal((n_samples, d))
        y = np.tanh(X @ rng.standard_normal(d)) + 0.3 * rng.standard_normal(n_samples)
        return cls(X, y, width)

    def _batch(self, batch) -> np.ndarray:
        idx = super()._batch(batch)
        if idx.size < 2:
            raise ShapeError("BatchNormNet needs minibatches of at least 2 samples")
        return idx

    def _loss_grad(self, theta, idx):
        m, d = self.m, self.d
        W, a, c = theta[: m * d].reshape(m, d), theta[m * d : m * d + m], theta[-1]
        X, y = self.X[idx], self.y[idx]
        n = len(idx)
        Z = X @ W.T
        Zc = Z - Z.mean(axis=0)
        s = np.sqrt((Zc * Zc).mean(axis=0))
        U = Zc / s
        r = U @ a + c - y
        loss = 0.5 * np.mean(r * r)
        dy = r / n
        dU = np.outer(dy, a)
        dZ = (dU - dU.mean(axis=0) - U * (dU * U).mean(axis=0)) / s
        return loss, np.concatenate([(dZ.T @ X).ravel(), U.T @ dy, [dy.sum()]])


class TwoLayerNet(ToyModel):
    r"""Two-layer network :math:`\hat y = A\,\phi(W x)`, rescale symmetry (Kunin et al. 2021, ReLU).

    Squared loss :math:`\frac1{2N}\sum_n \|\hat y_n - y_n\|^2`; ``activation`` is ``"relu"`` or
    ``"linear"``. For each hidden unit j, ``(W_j, A_{:,j}) -> (alpha W_j, A_{:,j} / alpha)``
    leaves the output unchanged. Parameters: ``W`` (m, d) row-major, then ``A`` (k, m) row-major.
    """

    def __init__(self, X, Y, width: int = 4, activation: str = "relu"):
        self.X, Y = _dataset(X, Y, "Y")
        self.Y = Y[:, None] if Y.ndim == 1 else Y
        if self.Y.ndim != 2:
            raise ShapeError(f"Y must be 1-D or 2-D; got shape {Y.shape}")
        if activation not in ("relu", "linear"):
            raise ShapeError(f"activation must be 'relu' or 'linear'; got {activation!r}")
        self.activation = activation
        self.m = as_positive_int(width, "width", ShapeError)
        self.n_samples, self.d = self.X.shape
        self.k = self.Y.shape[1]
        self.n_params = self.m * self.d + self.k * self.m
        self._init_std = 1.0 / np.sqrt(self.d)
        md = self.m * self.d
        self.symmetries = tuple(
            Symmetry.rescale(
                self.n_params,
                j * self.d + np.arange(self.d),
                md + np.arange(self.k) * self.m + j,
                f"unit {j}",
            )
            for j in range(self.m)
        )

    @classmethod
    def synthetic(
        cls,
        n_samples: int = 256,
        d: int = 4,
        width: int = 4,
        k: int = 2,
        activation: str = "relu",
        seed=0,
    ):
        """Gaussian inputs, a random two-layer teacher with label noise."""
        rng = as_rng(seed)
        X = rng.standard_normal((n_samples, d))
        Y = np.maximum(X @ rng.standard_normal((d, 3)), 0.0) @ rng.standard_normal((3, k))
        return cls(X, Y + 0.1 * rng.standard_normal((n_samples, k)), width, activation)

    def _loss_grad(self, theta, idx):
        m, d, k = self.m, self.d, self.k
        W, A = theta[: m * d].reshape(m, d), theta[m * d :].reshape(k, m)
        X, Y = self.X[idx], self.Y[idx]
        n = len(idx)
        Z = X @ W.T
        if self.activation == "relu":
            on = Z.real > 0.0
            Hid = np.where(on, Z, 0.0)
        else:
            on = np.ones(Z.shape, dtype=bool)
            Hid = Z
        R = Hid @ A.T - Y
        loss = 0.5 * np.sum(R * R) / n
        dY = R / n
        dZ = (dY @ A) * on
        return loss, np.concatenate([(dZ.T @ X).ravel(), (dY.T @ Hid).ravel()])


class ConstraintResiduals(NamedTuple):
    """Constraint residuals of every symmetry of a model (a tuple: unpacks in this order).

    Attributes
    ----------
    grad : (n_sym,) ndarray
        ``<g, X_j(theta)>`` per symmetry j.
    hessian : (n_sym, P) ndarray
        ``H X_j + s_j * g`` per symmetry j.
    scale : (n_sym,) ndarray
        ``||H|| ||X_j|| + ||g||`` (H's Frobenius norm), the size rounding is relative to.
    """

    grad: np.ndarray
    hessian: np.ndarray
    scale: np.ndarray


def constraint_residuals(model: ToyModel, theta, batch=None) -> ConstraintResiduals:
    """Gradient and Hessian constraint residuals of every symmetry of ``model`` at ``theta``.

    Returns
    -------
    ConstraintResiduals
        ``(grad, hessian, scale)``: the residuals and the size rounding is relative to.

    Examples
    --------
    Softmax regression is translation invariant on every minibatch: both residuals vanish to
    rounding (a few eps relative to ``scale``):

    >>> model = SoftmaxRegression.synthetic(n_samples=64, d=3, n_classes=3, seed=0)
    >>> res = constraint_residuals(model, model.init(1), batch=np.arange(16))
    >>> eps = np.finfo(float).eps
    >>> bool(np.all(np.abs(res.grad) <= 64 * model.n_params * eps * res.scale))
    True
    >>> bool(np.all(np.abs(res.hessian).max(axis=1) <= 64 * model.n_params * eps * res.scale))
    True
    """
    theta = model._check_theta(theta)
    g = model.grad(theta, batch)
    H = model.hessian(theta, batch)
    syms = model.symmetries
    X = np.stack([sym.generator(theta) for sym in syms])
    grad_res = np.array([sym.gradient_residual(theta, g) for sym in syms])
    hess_res = np.stack([sym.hessian_residual(g, H @ x) for sym, x in zip(syms, X)])
    scale = np.linalg.norm(H) * np.linalg.norm(X, axis=1) + np.linalg.norm(g)
    return ConstraintResiduals(grad_res, hess_res, scale)
