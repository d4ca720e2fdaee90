r"""Predictions of SGD observables from Hessian eigenvalues and noise traces, without a full H.

For a network one cannot form ``H`` or ``Sigma``, but one can apply ``H`` to a vector and draw
gradient-noise vectors. Every stationary second moment of heavy-ball SGD on a quadratic is a
trace ``tr(f(H) Sigma)`` with a scalar weight ``f`` of an eigenvalue (Kunin et al. 2021,
arXiv:2107.09133, app. F: the modes decouple when ``Sigma`` and ``H`` commute; the trace form
holds for any ``Sigma`` because only the diagonal ``q_i^T Sigma q_i`` enters a trace of a
function of ``H``):

* speed ``E||theta_{k+1} - theta_k||^2 = lr^2 sum_i Var(v_i) = tr(f_v(H) Sigma)``
  (SDE: ``f_v = lr^2 / kappa``, eq. 12: ``lr^2 tr(Sigma) / (S (1 - beta^2))``);
* displacement ``E||theta_k - theta_0||^2 = sum_i 2 u_k(rho_i) Var(theta_i)
  = tr(f_k(H) Sigma)`` from stationarity.

The weights come from :mod:`dynlab.modes` (one home per formula); this module adds the scalar
forms and the estimator of ``tr(f(H) Sigma)`` by Lanczos (Gauss) quadrature started from noise
vectors (Golub & Meurant 2010, "Matrices, moments and quadrature", ch. 6; Ubaru, Chen & Saad
2017, SIAM J. Matrix Anal. Appl. 38, 1075): ``z^T f(H) z ~= ||z||^2 sum_j tau_j^2 f(t_j)``,
``t_j`` the Ritz values of the Lanczos tridiagonal matrix started from ``z`` and ``tau_j`` the
first components of its eigenvectors. With ``z`` a centred minibatch gradient,
``E[z z^T] = Cov(g_B) = Sigma / S`` (``Sigma`` in dynlab's convention: the per-step covariance
of the sampling the optimizer uses), so ``tr(f(H) Sigma) = S E[z^T f(H) z]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import modes
from .config import LANCZOS_BREAKDOWN_RTOL
from .errors import ShapeError
from .hyper import HeavyBall

__all__ = [
    "speed_from_trace",
    "trace_from_speed",
    "speed_weight",
    "displacement_weight",
    "gauss_rules",
    "apply_rules",
    "lanczos_quadrature",
    "TraceEstimate",
    "noise_trace",
]


def speed_from_trace(hyper: HeavyBall, tr_sigma):
    r"""Stationary speed ``lr^2 tr(Sigma) / (S (1 - beta^2))`` (Kunin et al. 2021, eq. 12).

    Parameters
    ----------
    hyper : HeavyBall
        Fields may be arrays (a sweep): the result broadcasts.
    tr_sigma : float or array_like
        ``tr(Sigma)``; under ``Sigma = sigma^2 H`` (their Assumption 5) this is ``sigma^2 tr H``.

    Examples
    --------
    Against dynlab's full model on a diagonal quadratic (the SDE speed ``lr^2 tr(Sigma) / kappa``):

    >>> from dynlab.sgd import SGDPhaseSpace
    >>> hp = HeavyBall(lr=0.01, momentum=0.9, batch_size=8)
    >>> H, Sigma = np.diag([3.0, 1.0, 0.2]), np.diag([0.5, 0.4, 0.1])
    >>> m = SGDPhaseSpace(H, lr=0.01, momentum=0.9, batch_size=8, noise_cov=Sigma)
    >>> bool(np.isclose(speed_from_trace(hp, np.trace(Sigma)), m.speed(), rtol=1e-12))
    True
    """
    return hyper.lr**2 * np.asarray(tr_sigma, dtype=np.float64) / hyper.kappa


def trace_from_speed(hyper: HeavyBall, speed):
    r"""Invert eq. 12: ``tr(Sigma) = S (1 - beta^2) E||delta||^2 / lr^2`` (a calibration).

    Examples
    --------
    >>> hp = HeavyBall(lr=0.003, momentum=0.8, batch_size=64)
    >>> bool(np.isclose(trace_from_speed(hp, speed_from_trace(hp, 2.5)), 2.5, rtol=1e-14))
    True
    """
    return np.asarray(speed, dtype=np.float64) * hyper.kappa / hyper.lr**2


def _plain(hyper: HeavyBall, where: str) -> dict:
    hyper.require_plain(where).require_scalar(where)
    return dict(lr=hyper.lr, momentum=hyper.momentum, weight_decay=hyper.weight_decay)


def speed_weight(rho, hyper: HeavyBall, *, exact: bool = True) -> np.ndarray:
    r"""``f_v(rho) = lr^2 Var(v)`` per unit noise ``q^T Sigma q``: speed ``= tr(f_v(H) Sigma)``.

    Exact: the discrete Stein solution per mode; SDE: ``lr^2 / kappa`` for every rho
    (:func:`dynlab.modes.stationary_mode_variances`).

    Examples
    --------
    Against dynlab's exact speed for a non-diagonal (but commuting) ``Sigma``:

    >>> from dynlab.sgd import SGDPhaseSpace
    >>> rho, Q = np.array([2.0, 0.5]), np.array([[0.6, -0.8], [0.8, 0.6]])
    >>> H, Sigma = Q @ np.diag(rho) @ Q.T, Q @ np.diag([0.3, 0.1]) @ Q.T
    >>> hp = HeavyBall(lr=0.05, momentum=0.5, batch_size=4)
    >>> m = SGDPhaseSpace(H, lr=0.05, momentum=0.5, batch_size=4, noise_cov=Sigma)
    >>> f = speed_weight(rho, hp)
    >>> bool(np.isclose(np.sum(f * np.diag(Q.T @ Sigma @ Q)), m.speed(exact=True), rtol=1e-12))
    True
    """
    hp = _plain(hyper, "speed_weight")
    rho = np.asarray(rho, dtype=np.float64)
    _, var_v, _ = modes.stationary_mode_variances(
        rho, np.ones_like(rho), batch_size=hyper.batch_size, exact=exact, **hp
    )
    return hyper.lr**2 * np.asarray(var_v)


def displacement_weight(k, rho, hyper: HeavyBall, *, exact: bool = True) -> np.ndarray:
    r"""``f_k(rho) = 2 u_k(rho) Var(theta)`` per unit noise: ``E||Delta_k||^2 = tr(f_k(H) Sigma)``.

    ``Delta_k = theta_k - theta_0`` from stationarity.

    ``u_k`` is the relaxation of a mode after k steps (:func:`dynlab.modes.discrete_relaxation`
    exact, :func:`dynlab.modes.relaxation` at ``t = lr k`` for the SDE) and ``Var(theta)`` its
    stationary variance per unit ``q^T Sigma q``. Shape ``k.shape + rho.shape``.

    Examples
    --------
    Against :meth:`dynlab.sgd.SGDPhaseSpace.displacement`:

    >>> from dynlab.sgd import SGDPhaseSpace
    >>> rho, s = np.array([1.5, 0.3, 0.02]), np.array([0.2, 0.3, 0.05])
    >>> hp = HeavyBall(lr=0.1, momentum=0.9, batch_size=2)
    >>> m = SGDPhaseSpace(np.diag(rho), lr=0.1, momentum=0.9, batch_size=2, noise_cov=np.diag(s))
    >>> k = np.array([1, 10, 1000])
    >>> bool(np.allclose(displacement_weight(k, rho, hp) @ s, m.displacement(steps=k, exact=True)))
    True
    """
    hp = _plain(hyper, "displacement_weight")
    rho = np.asarray(rho, dtype=np.float64)
    k = np.asarray(k)
    var, _, _ = modes.stationary_mode_variances(
        rho, np.ones_like(rho), batch_size=hyper.batch_size, exact=exact, **hp
    )
    if exact:
        u = modes.discrete_relaxation(k, rho, **hp)
    else:
        g = modes.sde_rates(rho, **hp)
        u = modes.relaxation(hyper.lr * k[..., None], g[0], g[1])
    return 2.0 * u * np.asarray(var)


def _lanczos(matvec, z: np.ndarray, n_steps: int):
    """Tridiagonal (alpha, beta) of ``n_steps`` Lanczos steps from ``z`` (full reorthogonalization).

    Stops early at an invariant subspace: a residual norm below ``LANCZOS_BREAKDOWN_RTOL`` times
    the largest |alpha| or beta so far, where the quadrature is already exact.
    """
    n = z.size
    m = min(n_steps, n)
    V = np.zeros((m, n))
    alpha, beta = np.zeros(m), np.zeros(max(m - 1, 0))
    V[0] = z / np.linalg.norm(z)
    for j in range(m):
        w = np.asarray(matvec(V[j]), dtype=np.float64).reshape(-1)
        if w.shape != (n,):
            raise ShapeError(f"matvec must return a vector of length {n}; got shape {w.shape}")
        alpha[j] = V[j] @ w
        w -= V[: j + 1].T @ (V[: j + 1] @ w)
        w -= V[: j + 1].T @ (V[: j + 1] @ w)  # twice is enough (Parlett's rule)
        if j + 1 == m:
            break
        b = np.linalg.norm(w)
        if b <= LANCZOS_BREAKDOWN_RTOL * n * max(
            abs(alpha[: j + 1]).max(), beta[:j].max(initial=0)
        ):
            return alpha[: j + 1], beta[:j]  # invariant subspace: the quadrature is exact
        beta[j] = b
        V[j + 1] = w / b
    return alpha, beta


def gauss_rules(matvec, probes, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Gauss quadrature rules of the spectral measures ``z^T delta(H - x) z``, one per probe.

    ``n_steps`` Lanczos steps from each probe ``z`` give nodes ``t_j`` (Ritz values) and weights
    ``||z||^2 tau_j^2`` with ``sum_j w_j f(t_j) ~= z^T f(H) z`` for any f: the expensive part
    (the matrix-vector products) is done once and any weight applied later
    (:func:`apply_rules`).

    Parameters
    ----------
    matvec : callable
        ``v -> H v`` for a symmetric ``H`` (numpy vectors of length n).
    probes : (m, n) array_like
        Probe vectors, one per row.
    n_steps : int
        Lanczos steps (Gauss nodes) per probe; the rule is exact for polynomials of degree
        ``2 n_steps - 1`` and for every f at ``n_steps >= n``.

    Returns
    -------
    nodes, weights : (m, n_steps) ndarrays
        Rows padded with zero weights where Lanczos found an invariant subspace early.
    """
    Z = np.asarray(probes, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[0] < 1 or Z.shape[1] < 1:
        raise ShapeError(f"probes must be a non-empty (m, n) array; got shape {Z.shape}")
    if not np.all(np.isfinite(Z)):
        raise ShapeError("probes must be finite")
    if isinstance(n_steps, (bool, np.bool_)) or int(n_steps) != n_steps or n_steps < 1:
        raise ShapeError(f"n_steps must be a positive integer; got {n_steps!r}")
    J = min(int(n_steps), Z.shape[1])
    nodes, weights = np.zeros((len(Z), J)), np.zeros((len(Z), J))
    for i, z in enumerate(Z):
        nz2 = float(z @ z)
        if nz2 == 0.0:
            continue
        alpha, beta = _lanczos(matvec, z, J)
        t, vecs = np.linalg.eigh(np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1))
        nodes[i, : t.size], weights[i, : t.size] = t, nz2 * vecs[0] ** 2
    return nodes, weights


def apply_rules(nodes, weights, f) -> np.ndarray:
    """``sum_j w_j f(t_j)`` per rule (:func:`gauss_rules`); ``f`` maps a 1-D array of nodes to
    ``nodes.shape + extra``. Returns ``(m,) + extra``."""
    nodes, weights = np.asarray(nodes, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    fx = np.asarray(f(nodes.reshape(-1)), dtype=np.float64)
    fx = fx.reshape(nodes.shape + fx.shape[1:])
    return np.einsum("mj,mj...->m...", weights, fx)


def lanczos_quadrature(matvec, probes, f, n_steps: int) -> np.ndarray:
    r"""``z^T f(H) z`` for each probe ``z`` by ``n_steps`` of Lanczos (Gauss) quadrature.

    :func:`gauss_rules` then :func:`apply_rules`; ``f`` may return several weights per node
    (``nodes.shape + extra``, e.g. a displacement curve), which share one Lanczos run.

    Examples
    --------
    Against dense numpy (``eigh``) on a random symmetric matrix, and exact at ``n_steps = n``:

    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((30, 30)); H = A @ A.T / 30
    >>> Z = rng.standard_normal((3, 30))
    >>> w, U = np.linalg.eigh(H)
    >>> dense = np.einsum("mi,i,mi->m", Z @ U, np.exp(-w), Z @ U)
    >>> q = lanczos_quadrature(lambda v: H @ v, Z, lambda x: np.exp(-x), n_steps=30)
    >>> bool(np.allclose(q, dense, rtol=1e-10))
    True
    >>> q8 = lanczos_quadrature(lambda v: H @ v, Z, lambda x: np.exp(-x), n_steps=8)
    >>> bool(np.allclose(q8, dense, rtol=1e-6))    # smooth f: fast convergence
    True
    """
    return apply_rules(*gauss_rules(matvec, probes, n_steps), f)


@dataclass(frozen=True)
class TraceEstimate:
    """``tr(f(H) Sigma)`` from noise probes: ``value`` and its standard error ``se``."""

    value: np.ndarray
    se: np.ndarray
    n_probes: int


def noise_trace(nodes, weights, f, *, batch_size: int, n_centred: int) -> TraceEstimate:
    r"""``tr(f(H) Sigma)`` from the Gauss rules of centred minibatch gradients.

    The probes are ``z_b = g_b - mean g`` with the mean over ``n_centred`` independent batches
    (``M``), so ``E[z_b z_b^T] = (M - 1) / M Cov(g_B)``; with ``Sigma = S Cov(g_B)``,
    ``tr(f(H) Sigma) = S M / (M - 1) mean_b z_b^T f(H) z_b``. The standard error is that of the
    mean over probes.

    Examples
    --------
    Gaussian noise with known ``Sigma`` against the dense trace (Monte Carlo, fixed seed):

    >>> rng = np.random.default_rng(1)
    >>> d, M, S = 6, 4000, 4
    >>> H = np.diag(np.linspace(0.1, 2.0, d)); L = rng.standard_normal((d, d)) / 3
    >>> Sigma = L @ L.T
    >>> g = rng.multivariate_normal(np.zeros(d), Sigma / S, size=M)
    >>> rules = gauss_rules(lambda v: H @ v, g - g.mean(0), n_steps=d)
    >>> est = noise_trace(*rules, lambda x: x, batch_size=S, n_centred=M)
    >>> bool(abs(est.value - np.trace(H @ Sigma)) < 4 * est.se)
    True
    """
    nodes = np.asarray(nodes)
    if nodes.ndim != 2 or nodes.shape[0] < 2 or n_centred < 2:
        raise ShapeError(
            f"need >= 2 probes (rules of shape (m, J)) and n_centred >= 2; got {nodes.shape}, "
            f"n_centred={n_centred}"
        )
    M = n_centred
    q = batch_size * M / (M - 1) * apply_rules(nodes, weights, f)
    return TraceEstimate(q.mean(axis=0), q.std(axis=0, ddof=1) / np.sqrt(len(q)), len(q))
