r"""Broken conservation laws: how weight decay, momentum and a finite lr move the charges.

The exact discrete law of heavy-ball SGD (:func:`discrete_law`) and the continuous laws of
Kunin et al. 2021, arXiv:2012.04728, "A realistic continuous model for SGD"
(:func:`gradient_flow_law`, :func:`modified_flow_law`, :func:`momentum_flow_law`). The scale
and rescale charges are driven by measured squared norms along the symmetry, which the laws
take as input.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import expm

from .._validate import as_array, as_positive_int, as_scalar
from ..errors import HyperparameterError, ShapeError
from ..hyper import HeavyBall
from .generators import _kind
from .training import _check_hyper

__all__ = ["discrete_law", "gradient_flow_law", "modified_flow_law", "momentum_flow_law"]


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

    Derived from the update of docs/conventions.md and the gradient constraint, which every
    minibatch gradient satisfies, so the law is exact to rounding for SGD given its drive:

    * translation, :math:`x = \langle c,\theta\rangle`, :math:`u = \langle c, v\rangle`:
      :math:`u_{k+1} = \beta u_k - \lambda x_k`, :math:`x_{k+1} = x_k + \eta u_{k+1}`
      (for :math:`\beta = 0`: :math:`x_k = (1-\eta\lambda)^k x_0`; Kunin et al.'s
      :math:`e^{-\lambda t}` decay, independent of the data).
    * scale / rescale, :math:`a = \langle s, \theta^2\rangle`,
      :math:`p = \langle s, \theta v\rangle`, kinetic drive :math:`K_k = \langle s, v_k^2\rangle`:
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

    Examples
    --------
    The translation law without momentum is the geometric decay ``(1 - lr weight_decay)^k``:

    >>> q = discrete_law("translation", 2.0, lr=0.1, n_steps=50, weight_decay=0.2)
    >>> bool(np.allclose(q, 2.0 * (1 - 0.1 * 0.2) ** np.arange(51), rtol=1e-13))
    True
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
    (Kunin et al. 2021, "Modified loss"). Projected on the generator with the gradient and Hessian
    constraints, with :math:`\tilde\lambda = \lambda (1 + \eta\lambda/2)`:

    * translation: :math:`Q(t) = e^{-\tilde\lambda t} Q_0`;
    * scale / rescale: :math:`\dot Q = -2\tilde\lambda Q + \eta\, G(t)`, i.e.
      :math:`Q(t) = e^{-2\tilde\lambda t} Q_0
      + \eta\int_0^t e^{-2\tilde\lambda(t-\tau)} G(\tau)\,d\tau`
      with :math:`G = \langle s, g^2\rangle` (the paper's scale and rescale laws; it prints
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
    r"""Charge under the equation of learning with momentum: a (driven) damped oscillator.

    Kunin et al. 2021, arXiv:2012.04728, "Harmonic oscillation with momentum".

    Heavy-ball SGD with weight decay is modelled (time :math:`t = \eta k`) by
    :math:`\frac{\eta(1+\beta)}2 \ddot\theta + (1-\beta)\dot\theta = -g - \lambda\theta`.
    Projected on the generator, with :math:`\gamma = (1-\beta)/(\eta(1+\beta))`:

    * translation: :math:`\ddot Q + 2\gamma\dot Q + \omega^2 Q = 0`,
      :math:`\omega^2 = 2\lambda/(\eta(1+\beta))` (undriven damped oscillator);
    * scale / rescale: :math:`\ddot Q + 2\gamma \dot Q + 2\omega^2 Q = 2 K(t)`,
      :math:`K = \langle s, \dot\theta^2\rangle` (Kunin et al. 2021, "Harmonic oscillation with
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

    Examples
    --------
    The translation charge against scipy's ODE solver on the equation of learning
    ``m Q'' + (1 - beta) Q' + weight_decay Q = 0``, ``m = lr (1 + beta) / 2``:

    >>> from scipy.integrate import solve_ivp
    >>> lr, beta, wd, t = 0.1, 0.9, 0.5, np.linspace(0.0, 5.0, 11)
    >>> Q = momentum_flow_law("translation", 1.0, t, lr=lr, momentum=beta, weight_decay=wd,
    ...                       dq0=0.3)
    >>> m = lr * (1 + beta) / 2
    >>> sol = solve_ivp(lambda s, y: [y[1], (-(1 - beta) * y[1] - wd * y[0]) / m], (0.0, 5.0),
    ...                 [1.0, 0.3], t_eval=t, rtol=1e-11, atol=1e-12)
    >>> bool(np.allclose(Q, sol.y[0], atol=1e-8))
    True
    """
    kind = _kind(symmetry)
    lr, momentum, wd = _check_hyper(lr, momentum, weight_decay)
    q0 = as_scalar(q0, "q0", error=ShapeError)
    dq0 = as_scalar(dq0, "dq0", error=ShapeError)
    t = _check_grid(t)
    hp = HeavyBall(lr, momentum, wd)
    gamma, omega2 = hp.gamma, hp.c1 * wd
    if kind == "translation":
        if kinetic is not None:
            raise ShapeError("the translation charge is undriven: kinetic must be None")
        K, stiffness, gain = np.zeros(len(t)), omega2, 0.0
    else:
        K, stiffness, gain = as_array(kinetic, "kinetic", shape=(len(t),)), 2.0 * omega2, 2.0
    M = np.array([[0.0, 1.0], [-stiffness, -2.0 * gamma]])
    return _linear_ode(M, np.array([0.0, gain]), np.array([q0, dq0]), t, K)[:, 0]
