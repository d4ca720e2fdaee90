r"""Neural mechanics: symmetries of toy networks and their broken conservation laws (seed 001).

A loss with a one-parameter symmetry :math:`f(\psi(\theta, \alpha)) = f(\theta)` constrains its
gradient and Hessian (seed 001, "Symmetry constrain gradient and Hessian geometries"):

.. math:: \langle g, X(\theta)\rangle = 0, \qquad H X(\theta) + J_X(\theta)^\top g = 0,

with :math:`X = \partial_\alpha \psi|_{\alpha=0}` the generator. The three symmetries of seed 001
all have an *affine* generator :math:`X(\theta) = c + s \odot \theta` (:class:`Symmetry`):

============  ======================================  ===========================  =============================
kind          action                                  generator X                  charge Q (Noether)
============  ======================================  ===========================  =============================
translation   theta_A -> theta_A + alpha 1 (softmax)  c = 1_A, s = 0               ``<theta_A, 1>``
scale         theta_A -> alpha theta_A (batchnorm)    c = 0, s = 1_A               ``|theta_A|^2``
rescale       (a theta_1, theta_2 / a) (ReLU)         c = 0, s = 1_{A1} - 1_{A2}   ``|theta_1|^2 - |theta_2|^2``
============  ======================================  ===========================  =============================

Gradient flow conserves Q (seed 001, "Symmetry leads to conservation laws"). Weight decay,
momentum and a finite learning rate break the law in ways that are solved here exactly
(:func:`discrete_law`: heavy-ball SGD step by step, exact to rounding given the measured drive)
and in the continuous models of seed 001 (:func:`gradient_flow_law`, :func:`modified_flow_law`,
:func:`momentum_flow_law`: the driven damped oscillator). The "translation" charge is undriven;
the "scale" and "rescale" charges are driven by the squared gradient (SGD) or kinetic (momentum)
norms along the symmetry, which the laws take as measured input, as in seed 001.

Toy models with each symmetry (:class:`SoftmaxRegression`, :class:`BatchNormNet`,
:class:`TwoLayerNet`) give minibatch gradients and Hessian-vector products, and
:func:`simulate` runs heavy-ball SGD with weight decay on them (THEORY.md convention:
``v_{k+1} = momentum v_k - (g_B(theta_k) + weight_decay theta_k)``,
``theta_{k+1} = theta_k + lr v_{k+1}``). Every minibatch loss has the symmetry, so the
constraints hold for each minibatch gradient, not only on average.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import expm

from . import config
from ._validate import as_array, as_positive_int, as_rng, as_scalar
from .errors import HyperparameterError, ShapeError, StabilityRegionError

__all__ = [
    "Symmetry",
    "ToyModel",
    "SoftmaxRegression",
    "BatchNormNet",
    "TwoLayerNet",
    "Trajectory",
    "simulate",
    "constraint_residuals",
    "discrete_law",
    "gradient_flow_law",
    "modified_flow_law",
    "momentum_flow_law",
]

KINDS = ("translation", "scale", "rescale")


# ----------------------------------------------------------------------------------------------
# Symmetries
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Symmetry:
    r"""A one-parameter symmetry with affine generator :math:`X(\theta) = c + s \odot \theta`.

    Build one with :meth:`translation`, :meth:`scale` or :meth:`rescale`.

    Attributes
    ----------
    kind : {"translation", "scale", "rescale"}
    name : str
        Which parameters it acts on (e.g. ``"row 2"``).
    c, s : (P,) ndarray
        Constant and diagonal-linear parts of the generator.
    """

    kind: str
    name: str
    c: np.ndarray
    s: np.ndarray

    @classmethod
    def translation(cls, n_params: int, idx, name: str = "") -> "Symmetry":
        """``theta_A -> theta_A + alpha 1``: generator ``1_A``, charge ``<theta_A, 1>``."""
        c = np.zeros(n_params)
        c[np.asarray(idx)] = 1.0
        return cls("translation", name, c, np.zeros(n_params))

    @classmethod
    def scale(cls, n_params: int, idx, name: str = "") -> "Symmetry":
        """``theta_A -> alpha theta_A``: generator ``theta_A``, charge ``|theta_A|^2``."""
        s = np.zeros(n_params)
        s[np.asarray(idx)] = 1.0
        return cls("scale", name, np.zeros(n_params), s)

    @classmethod
    def rescale(cls, n_params: int, idx1, idx2, name: str = "") -> "Symmetry":
        """``(theta_1, theta_2) -> (alpha theta_1, theta_2 / alpha)``: charge ``|theta_1|^2 - |theta_2|^2``."""
        s = np.zeros(n_params)
        s[np.asarray(idx1)] = 1.0
        s[np.asarray(idx2)] = -1.0
        return cls("rescale", name, np.zeros(n_params), s)

    @property
    def quadratic(self) -> bool:
        """True for scale and rescale (charge quadratic in theta), False for translation."""
        return self.kind != "translation"

    def generator(self, theta) -> np.ndarray:
        """The vector field ``X(theta) = c + s * theta``; ``theta`` of shape ``(..., P)``."""
        return self.c + self.s * np.asarray(theta)

    def charge(self, theta) -> np.ndarray:
        """The conserved quantity of gradient flow, ``<c, theta> + <s, theta^2>`` (seed 001)."""
        theta = np.asarray(theta)
        return theta @ self.c + (theta * theta) @ self.s

    def drive(self, x) -> np.ndarray:
        """``<s, x^2>``: the squared norm of ``x`` along the symmetry (gradient or velocity).

        For scale ``|x_A|^2``, for rescale ``|x_1|^2 - |x_2|^2``; zero for translation.
        """
        x = np.asarray(x)
        return (x * x) @ self.s

    def momentum(self, theta, v) -> np.ndarray:
        """The charge's velocity: ``<c, v>`` (translation) or ``<s, theta v>`` (scale, rescale)."""
        theta, v = np.asarray(theta), np.asarray(v)
        return v @ self.c + (theta * v) @ self.s

    def gradient_residual(self, theta, grad) -> np.ndarray:
        """``<g, X(theta)>``, zero for a symmetric loss (seed 001, gradient constraint)."""
        return np.sum(np.asarray(grad) * self.generator(theta), axis=-1)

    def hessian_residual(self, grad, hessian_times_generator) -> np.ndarray:
        """``H X(theta) + J_X^T g = H X + s * g``, zero for a symmetric loss (Hessian constraint).

        For scale this is seed 001's ``H theta_A = -g_A``, for rescale
        ``H (theta_1 - theta_2) + g_1 - g_2 = 0``, for translation ``H 1_A = 0``.
        """
        return np.asarray(hessian_times_generator) + self.s * np.asarray(grad)


def _kind(symmetry) -> str:
    kind = symmetry.kind if isinstance(symmetry, Symmetry) else symmetry
    if kind not in KINDS:
        raise ShapeError(f"symmetry must be a Symmetry or one of {KINDS}; got {symmetry!r}")
    return kind


# ----------------------------------------------------------------------------------------------
# Toy models
# ----------------------------------------------------------------------------------------------


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
    r"""Multinomial logistic regression, translation symmetry (seed 001, softmax).

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
    r"""A batch-normalised linear layer with a linear read-out, scale symmetry (seed 001, batchnorm).

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
    r"""Two-layer network :math:`\hat y = A\,\phi(W x)`, rescale symmetry (seed 001, ReLU).

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


def constraint_residuals(
    model: ToyModel, theta, batch=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradient and Hessian constraint residuals of every symmetry of ``model`` at ``theta``.

    Returns
    -------
    grad_res : (n_sym,) ndarray
        ``<g, X_j(theta)>`` per symmetry j.
    hess_res : (n_sym, P) ndarray
        ``H X_j + s_j * g`` per symmetry j.
    scale : (n_sym,) ndarray
        ``||H|| ||X_j|| + ||g||`` (H's Frobenius norm), the size rounding is relative to.
    """
    theta = model._check_theta(theta)
    g = model.grad(theta, batch)
    H = model.hessian(theta, batch)
    syms = model.symmetries
    X = np.stack([sym.generator(theta) for sym in syms])
    grad_res = np.array([sym.gradient_residual(theta, g) for sym in syms])
    hess_res = np.stack([sym.hessian_residual(g, H @ x) for sym, x in zip(syms, X)])
    scale = np.linalg.norm(H) * np.linalg.norm(X, axis=1) + np.linalg.norm(g)
    return grad_res, hess_res, scale


# ----------------------------------------------------------------------------------------------
# Simulation
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trajectory:
    """A heavy-ball SGD run: ``theta`` and ``v`` at steps 0..n, minibatch gradients at 0..n-1.

    ``grad[k]`` is the minibatch gradient (without weight decay) that step k+1 used, taken at
    ``theta[k]``.
    """

    theta: np.ndarray
    v: np.ndarray
    grad: np.ndarray
    lr: float
    momentum: float
    weight_decay: float
    batch_size: int

    @property
    def t(self) -> np.ndarray:
        """SDE time ``t_k = lr * k`` of each recorded step."""
        return self.lr * np.arange(self.theta.shape[0])


def _check_hyper(lr, momentum, weight_decay):
    lr = as_scalar(lr, "lr", low=0.0, low_open=True)
    momentum = as_scalar(momentum, "momentum", low=0.0, high=1.0, high_open=True)
    weight_decay = as_scalar(weight_decay, "weight_decay", low=0.0)
    return lr, momentum, weight_decay


def simulate(
    model: ToyModel,
    theta0,
    *,
    lr: float,
    n_steps: int,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    batch_size: int | None = None,
    v0=None,
    seed=None,
) -> Trajectory:
    """Heavy-ball SGD with weight decay on a toy model (THEORY.md convention, PyTorch semantics).

    ``v_{k+1} = momentum v_k - (g_B(theta_k) + weight_decay theta_k)``,
    ``theta_{k+1} = theta_k + lr v_{k+1}``. Minibatches of ``batch_size`` samples are drawn
    without replacement within each epoch (a fresh permutation per epoch, the remainder
    dropped); ``batch_size=None`` is full-batch gradient descent.
    """
    lr, momentum, weight_decay = _check_hyper(lr, momentum, weight_decay)
    n_steps = as_positive_int(n_steps, "n_steps")
    theta = model._check_theta(theta0).copy()
    v = (
        np.zeros(model.n_params)
        if v0 is None
        else as_array(v0, "v0", shape=(model.n_params,)).copy()
    )
    N = model.n_samples
    S = N if batch_size is None else as_positive_int(batch_size, "batch_size")
    if S > N:
        raise HyperparameterError(f"batch_size = {S} exceeds the {N} samples")
    rng = as_rng(seed)
    per_epoch = N // S
    thetas = np.empty((n_steps + 1, model.n_params))
    vs = np.empty_like(thetas)
    grads = np.empty((n_steps, model.n_params))
    thetas[0], vs[0] = theta, v
    perm = None
    for k in range(n_steps):
        j = k % per_epoch
        if S == N:
            idx = np.arange(N)
        else:
            if j == 0:
                perm = rng.permutation(N)
            idx = perm[j * S : (j + 1) * S]
        with np.errstate(over="ignore", invalid="ignore"):
            g = model._loss_grad(theta, idx)[1]
            v = momentum * v - (g + weight_decay * theta)
            theta = theta + lr * v
        if not np.all(np.isfinite(theta)):
            raise StabilityRegionError(
                f"SGD diverged at step {k + 1} (lr = {lr}, momentum = {momentum}): lower lr"
            )
        grads[k], thetas[k + 1], vs[k + 1] = g, theta, v
    return Trajectory(thetas, vs, grads, lr, momentum, weight_decay, S)


# ----------------------------------------------------------------------------------------------
# Broken conservation laws
# ----------------------------------------------------------------------------------------------


def discrete_law(
    symmetry,
    q0: float,
    *,
    lr: float,
    n_steps: int | None = None,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    p0: float = 0.0,
    kinetic=None,
    grad_sq=None,
) -> np.ndarray:
    r"""Exact charge sequence :math:`Q_0..Q_n` of heavy-ball SGD with weight decay.

    Derived from the update (THEORY.md convention) and the gradient constraint, which every
    minibatch gradient satisfies, so the law is exact to rounding for SGD given its drive:

    * translation, :math:`x = \langle c,\theta\rangle`, :math:`u = \langle c, v\rangle`:
      :math:`u_{k+1} = \beta u_k - \lambda x_k`, :math:`x_{k+1} = x_k + \eta u_{k+1}`
      (for :math:`\beta = 0`: :math:`x_k = (1-\eta\lambda)^k x_0`; seed 001's
      :math:`e^{-\lambda t}` decay, independent of the data).
    * scale / rescale, :math:`a = \langle s, \theta^2\rangle`, :math:`p = \langle s, \theta v\rangle`,
      kinetic drive :math:`K_k = \langle s, v_k^2\rangle`:
      :math:`a_{k+1} = a_k + 2\eta(\beta p_k - \lambda a_k) + \eta^2 K_{k+1}`,
      :math:`p_{k+1} = \beta p_k - \lambda a_k + \eta K_{k+1}`.
      With :math:`\beta = 0` and the gradient drive :math:`G_k = \langle s, g_{B,k}^2\rangle`
      this is :math:`a_{k+1} = (1-\eta\lambda)^2 a_k + \eta^2 G_k`, the discrete form of seed
      001's scale and rescale laws.

    Parameters
    ----------
    symmetry : Symmetry or str
        Its kind selects the law.
    q0 : float
        Initial charge ``symmetry.charge(theta_0)``.
    lr, momentum, weight_decay : float
        Hyperparameters (PyTorch names).
    n_steps : int, optional
        Number of steps; for scale and rescale it is the length of the drive.
    p0 : float
        Initial charge velocity ``symmetry.momentum(theta_0, v_0)`` (0 from rest).
    kinetic : (n,) array_like, optional
        ``symmetry.drive(v[1:])``: the kinetic drive after each step (scale / rescale).
    grad_sq : (n,) array_like, optional
        ``symmetry.drive(grad)``: the minibatch-gradient drive of each step (momentum = 0 only).

    Returns
    -------
    (n + 1,) ndarray
        Predicted charge at steps 0..n.
    """
    kind = _kind(symmetry)
    lr, momentum, weight_decay = _check_hyper(lr, momentum, weight_decay)
    q0 = as_scalar(q0, "q0", error=ShapeError)
    p0 = as_scalar(p0, "p0", error=ShapeError)
    if kind == "translation":
        if kinetic is not None or grad_sq is not None:
            raise ShapeError("the translation charge is undriven: pass n_steps, not a drive")
        if n_steps is None:
            raise ShapeError("n_steps is required for the translation law")
        n = as_positive_int(n_steps, "n_steps")
        x, u = np.empty(n + 1), p0
        x[0] = q0
        for k in range(n):
            u = momentum * u - weight_decay * x[k]
            x[k + 1] = x[k] + lr * u
        return x
    if (kinetic is None) == (grad_sq is None):
        raise ShapeError(f"the {kind} law needs exactly one drive: kinetic or grad_sq")
    if grad_sq is not None:
        if momentum != 0.0:
            raise HyperparameterError("grad_sq drives the law only without momentum; pass kinetic")
        G = as_array(grad_sq, "grad_sq", ndim=1)
        if n_steps is not None and len(G) != n_steps:
            raise ShapeError(f"grad_sq must have n_steps = {n_steps} entries; got {len(G)}")
        a = np.empty(len(G) + 1)
        a[0] = q0
        decay = (1.0 - lr * weight_decay) ** 2
        for k in range(len(G)):
            a[k + 1] = decay * a[k] + lr * lr * G[k]
        return a
    K = as_array(kinetic, "kinetic", ndim=1)
    if n_steps is not None and len(K) != n_steps:
        raise ShapeError(f"kinetic must have n_steps = {n_steps} entries; got {len(K)}")
    a, p = np.empty(len(K) + 1), p0
    a[0] = q0
    for k in range(len(K)):
        force = momentum * p - weight_decay * a[k]
        a[k + 1] = a[k] + 2.0 * lr * force + lr * lr * K[k]
        p = force + lr * K[k]
    return a


def gradient_flow_law(symmetry, q0: float, t, *, weight_decay: float = 0.0) -> np.ndarray:
    r"""Charge under gradient flow with weight decay, :math:`\dot\theta = -g - \lambda\theta`.

    Seed 001 ("Modeling weight decay"): :math:`Q(t) = e^{-\lambda t} Q_0` (translation) and
    :math:`Q(t) = e^{-2\lambda t} Q_0` (scale, rescale); conserved when ``weight_decay = 0``.
    ``t`` is SDE time (``t = lr * k`` for a discrete run).
    """
    kind = _kind(symmetry)
    wd = as_scalar(weight_decay, "weight_decay", low=0.0)
    t = as_array(t, "t")
    rate = wd if kind == "translation" else 2.0 * wd
    return as_scalar(q0, "q0", error=ShapeError) * np.exp(-rate * t)


def _check_grid(t) -> np.ndarray:
    t = as_array(t, "t", ndim=1)
    if t.size < 1 or np.any(np.diff(t) <= 0.0):
        raise ShapeError(
            "t must be a non-empty strictly increasing time grid (t[0] = initial time)"
        )
    return t


def _linear_ode(
    M: np.ndarray, e: np.ndarray, y0: np.ndarray, t: np.ndarray, f: np.ndarray
) -> np.ndarray:
    """Solve ``y' = M y + e f(t)`` on grid ``t`` with f linear between the samples ``f``.

    Exact for piecewise-linear forcing (first-order hold): each interval is one matrix
    exponential of the augmented system ``[y, f, f']``.
    """
    n = M.shape[0]
    aug = np.zeros((n + 2, n + 2))
    aug[:n, :n] = M
    aug[:n, n] = e
    aug[n, n + 1] = 1.0
    ys = np.empty((len(t), n))
    ys[0] = y0
    steps = np.diff(t)
    cache: dict[float, np.ndarray] = {}
    for j, h in enumerate(steps):
        Phi = cache.get(h)
        if Phi is None:
            Phi = cache[h] = expm(aug * h)
        slope = (f[j + 1] - f[j]) / h
        ys[j + 1] = Phi[:n, :n] @ ys[j] + Phi[:n, n] * f[j] + Phi[:n, n + 1] * slope
    return ys


def modified_flow_law(
    symmetry, q0: float, t, *, lr: float, weight_decay: float = 0.0, grad_sq=None
) -> np.ndarray:
    r"""Charge under the modified gradient flow of SGD with weight decay (finite lr, no momentum).

    The modified flow of :math:`\theta_{k+1} = \theta_k - \eta F(\theta_k)`,
    :math:`F = g + \lambda\theta`, is :math:`\dot\theta = -F - \frac\eta2 (H + \lambda I) F`
    (seed 001, "Modified loss"). Projected on the generator with the gradient and Hessian
    constraints, with :math:`\tilde\lambda = \lambda (1 + \eta\lambda/2)`:

    * translation: :math:`Q(t) = e^{-\tilde\lambda t} Q_0`;
    * scale / rescale: :math:`\dot Q = -2\tilde\lambda Q + \eta\, G(t)`, i.e.
      :math:`Q(t) = e^{-2\tilde\lambda t} Q_0 + \eta\int_0^t e^{-2\tilde\lambda(t-\tau)} G(\tau)\,d\tau`
      with :math:`G = \langle s, g^2\rangle` (seed 001's scale and rescale laws; the seed prints
      :math:`\lambda` for :math:`\tilde\lambda`, equal to first order).

    Parameters
    ----------
    t : (n,) array_like
        Increasing SDE-time grid (``t = lr * k``); ``t[0]`` is where ``Q = q0``.
    grad_sq : (n,) array_like, optional
        The drive G sampled on ``t`` (scale, rescale), e.g. ``symmetry.drive(traj.grad)``;
        linearly interpolated between samples.
    """
    kind = _kind(symmetry)
    lr = as_scalar(lr, "lr", low=0.0, low_open=True)
    wd = as_scalar(weight_decay, "weight_decay", low=0.0)
    q0 = as_scalar(q0, "q0", error=ShapeError)
    t = _check_grid(t)
    lam = wd * (1.0 + 0.5 * lr * wd)
    if kind == "translation":
        if grad_sq is not None:
            raise ShapeError("the translation charge is undriven: grad_sq must be None")
        return q0 * np.exp(-lam * (t - t[0]))
    G = as_array(grad_sq, "grad_sq", shape=(len(t),))
    return _linear_ode(np.array([[-2.0 * lam]]), np.array([lr]), np.array([q0]), t, G)[:, 0]


def momentum_flow_law(
    symmetry,
    q0: float,
    t,
    *,
    lr: float,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    dq0: float = 0.0,
    kinetic=None,
) -> np.ndarray:
    r"""Charge under seed 001's equation of learning with momentum: a (driven) damped oscillator.

    Heavy-ball SGD with weight decay is modelled (time :math:`t = \eta k`) by
    :math:`\frac{\eta(1+\beta)}2 \ddot\theta + (1-\beta)\dot\theta = -g - \lambda\theta`.
    Projected on the generator, with :math:`\gamma = (1-\beta)/(\eta(1+\beta))`:

    * translation: :math:`\ddot Q + 2\gamma\dot Q + \omega^2 Q = 0`,
      :math:`\omega^2 = 2\lambda/(\eta(1+\beta))` (undriven damped oscillator);
    * scale / rescale: :math:`\ddot Q + 2\gamma \dot Q + 2\omega^2 Q = 2 K(t)`,
      :math:`K = \langle s, \dot\theta^2\rangle` (seed 001, "Harmonic oscillation with
      momentum": pulled by the regulariser, pushed by the kinetic energy).

    Parameters
    ----------
    q0, dq0 : float
        ``Q(t[0])`` and ``dQ/dt(t[0])``: ``symmetry.momentum(theta0, v0)`` for translation,
        twice that for scale and rescale (``dQ/dt = 2 <s, theta theta'>``, ``theta' ~ v``).
    t : (n,) array_like
        Increasing SDE-time grid.
    kinetic : (n,) array_like, optional
        K sampled on ``t`` (scale, rescale), e.g. ``symmetry.drive(traj.v)``.

    Returns
    -------
    (n,) ndarray
        Q on the grid, exact for K linear between samples.
    """
    kind = _kind(symmetry)
    lr, momentum, wd = _check_hyper(lr, momentum, weight_decay)
    q0 = as_scalar(q0, "q0", error=ShapeError)
    dq0 = as_scalar(dq0, "dq0", error=ShapeError)
    t = _check_grid(t)
    gamma = (1.0 - momentum) / (lr * (1.0 + momentum))
    omega2 = 2.0 * wd / (lr * (1.0 + momentum))
    if kind == "translation":
        if kinetic is not None:
            raise ShapeError("the translation charge is undriven: kinetic must be None")
        K, stiffness, gain = np.zeros(len(t)), omega2, 0.0
    else:
        K, stiffness, gain = as_array(kinetic, "kinetic", shape=(len(t),)), 2.0 * omega2, 2.0
    M = np.array([[0.0, 1.0], [-stiffness, -2.0 * gamma]])
    return _linear_ode(M, np.array([0.0, gain]), np.array([q0, dq0]), t, K)[:, 0]
