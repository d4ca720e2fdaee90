r"""Heavy-ball SGD on a quadratic as an Ornstein-Uhlenbeck process (seed 003 eqs. 2-4, app. A).

The derivation (:func:`derive`) starts from the definition of the optimizer and the noise model
and reads the OU drift A, diffusion D and inverse temperature kappa off the result:

1. The update (seed 003 eq. 2) with the CLT noise model (Assumption 1),
   ``v_{k+1} = beta v_k - (H theta_k - b + xi_k) - lambda theta_k``,
   ``theta_{k+1} = theta_k + lr v_{k+1}``, ``xi_k ~ N(0, Sigma / S)``,
   is solved for ``v_k`` and ``v_{k+1}``, leaving a second-order difference equation in theta.
2. ``theta_{k +- 1} = theta(t +- lr)`` is Taylor-expanded about ``t = lr k``; keeping O(lr)
   gives the modified equation ``m theta'' + c theta' = -(H + lambda I) theta + b - xi``, whose
   mass m and friction c are read off.
3. The per-step noise, held for one step of length lr, has the integrated covariance
   ``lr^2 Sigma / S`` of white noise of intensity ``lr Sigma / S``.
4. In first-order form ``z = [theta; v]``, ``v = theta'``, the drift is ``-A (z - z*)`` with A
   minus the Jacobian of the noise-free vector field, and the noise covariance rate equals
   ``2 D / kappa``. Normalizing D by the fluctuation-dissipation form ``D_vv = A_vv Sigma``
   (friction times per-sample noise covariance) fixes kappa.

Everything is done with explicit 2 x 2 symbolic H and Sigma; the block structure found there
(``A = [[0, -I], [c1 (H + lambda I), c2 I]]``) is what :func:`drift_matrix` assembles for any d.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import sympy as sp

from ._claims import Outcome, run_claims, vanishes
from ._symbols import batch_size, lr, momentum, momentum_below_one, t, weight_decay

__all__ = [
    "NAME",
    "Derivation",
    "derive",
    "verify",
    "drift_coefficients",
    "kappa",
    "drift_matrix",
    "diffusion_matrix",
    "stationary_mean",
]

NAME = "SGD -> OU (003 eq. 2-4)"

_D = 2  # dimension of the explicit symbolic derivation


@dataclass(frozen=True)
class Derivation:
    """Results of :func:`derive` (sympy expressions in lr, momentum, weight_decay, batch_size)."""

    mass: sp.Expr  # m in m theta'' + c theta' = -grad
    friction: sp.Expr  # c
    c1: sp.Expr  # A_v,theta = c1 (H + lambda I)
    c2: sp.Expr  # A_vv = c2 I
    kappa: sp.Expr  # inverse temperature
    noise_intensity: sp.Expr  # white-noise intensity of the gradient noise, in units of Sigma / S
    A: sp.Matrix  # 4 x 4 drift for the symbolic 2 x 2 H
    D: sp.Matrix  # 4 x 4 diffusion for the symbolic 2 x 2 Sigma
    z_star: sp.Matrix  # stationary mean [mu; 0]
    H: sp.Matrix
    b: sp.Matrix
    Sigma: sp.Matrix


def _sym_matrix(name: str) -> sp.Matrix:
    e = sp.symbols(f"{name}11 {name}12 {name}22", real=True)
    return sp.Matrix([[e[0], e[1]], [e[1], e[2]]])


@cache
def derive() -> Derivation:
    """Derive A, D, kappa and the stationary mean from the heavy-ball update (see module doc)."""
    H, Sigma = _sym_matrix("h"), _sym_matrix("sigma")
    b = sp.Matrix(sp.symbols(f"b1:{_D + 1}", real=True))
    xi = sp.Matrix(sp.symbols(f"xi1:{_D + 1}", real=True))
    th_prev, th_k, th_next = (
        sp.Matrix(sp.symbols(f"{n}1:{_D + 1}", real=True)) for n in ("p", "c", "n")
    )
    v_k, v_next = (sp.Matrix(sp.symbols(f"{n}1:{_D + 1}")) for n in ("vk", "vn"))

    # 1. the update (eq. 2) with g_B = H theta - b + xi; eliminate the velocities
    update = list(v_next - (momentum * v_k - (H * th_k - b + xi) - weight_decay * th_k))
    position = list(th_next - (th_k + lr * v_next)) + list(th_k - (th_prev + lr * v_k))
    vel = sp.solve(position, list(v_k) + list(v_next), dict=True)
    if len(vel) != 1:
        raise ArithmeticError("the position updates do not determine the velocities uniquely")
    residual = sp.Matrix(update).subs(vel[0])  # = 0: second-order difference equation

    # 2. continuum limit theta_k = theta(t), theta_{k+-1} = theta(t +- lr), kept to O(lr)
    theta = [sp.Function(f"theta{i + 1}") for i in range(_D)]
    taylor = {}
    for i, f in enumerate(theta):
        taylor[th_prev[i]] = sp.series(f(t - lr), lr, 0, 4).removeO().doit()
        taylor[th_next[i]] = sp.series(f(t + lr), lr, 0, 4).removeO().doit()
        taylor[th_k[i]] = f(t)
    vel_s = sp.Matrix(sp.symbols(f"w1:{_D + 1}"))  # theta'
    acc_s = sp.Matrix(sp.symbols(f"a1:{_D + 1}"))  # theta''
    jet = {}
    for i, f in enumerate(theta):
        jet[f(t).diff(t, 3)] = 0  # O(lr^2) after the division by lr below: dropped
        jet[f(t).diff(t, 2)] = acc_s[i]
        jet[f(t).diff(t)] = vel_s[i]
    pos_s = sp.Matrix(sp.symbols(f"x1:{_D + 1}", real=True))
    back = {f(t): pos_s[i] for i, f in enumerate(theta)}
    modified = residual.subs(taylor).applyfunc(lambda e: sp.expand(e).subs(jet).subs(back))
    modified = modified.applyfunc(sp.expand)
    # each row: m a_i + c w_i + ((H + lambda I) x - b + xi)_i ; read m and c off row 0
    mass = sp.factor(modified[0].coeff(acc_s[0]))
    friction = sp.factor(modified[0].coeff(vel_s[0]))

    # 3. white-noise intensity Gamma with Gamma * lr = Cov(lr xi_k) = lr^2 (Sigma / S)
    gam = sp.Symbol("Gamma")
    (noise_intensity,) = sp.solve(sp.Eq(gam * lr, lr**2), gam)  # in units of Sigma / S

    # 4. first-order system z = [x; w]: solve the modified equation for the acceleration
    (acc,) = sp.solve(list(modified), list(acc_s), dict=True)
    z = list(pos_s) + list(vel_s)
    field = sp.Matrix(list(vel_s) + [acc[a] for a in acc_s])  # z' = field(z, xi)
    drift = field.subs(dict.fromkeys(xi, 0))
    A = (-drift.jacobian(z)).applyfunc(sp.factor)
    star = sp.solve(list(drift), z, dict=True)
    if len(star) != 1:
        raise ArithmeticError("the drift has no unique fixed point")
    z_star = sp.Matrix(z).subs(star[0])
    Gz = field.jacobian(list(xi))
    rate = (Gz * (noise_intensity * Sigma / batch_size) * Gz.T).applyfunc(sp.factor)
    A_vv = A[_D:, _D:]
    D = sp.zeros(2 * _D)
    D[_D:, _D:] = A_vv * Sigma
    kap = sp.Symbol("kappa")
    (kappa_expr,) = sp.solve(sp.Eq(2 * D[-1, -1] / kap, rate[-1, -1]), kap)
    kappa_expr = sp.factor(kappa_expr)
    # read the scalar coefficients off the blocks (their structure is a verified claim)
    c1 = sp.factor(A[_D, 1] / H[0, 1])
    c2 = sp.factor(A[_D, _D])
    return Derivation(
        mass=mass,
        friction=friction,
        c1=c1,
        c2=c2,
        kappa=kappa_expr,
        noise_intensity=noise_intensity,
        A=A,
        D=D.applyfunc(sp.factor),
        z_star=z_star,
        H=H,
        b=b,
        Sigma=Sigma,
    )


# ----------------------------------------------------------------------------- numeric exports
@cache
def _numeric():
    d = derive()
    args = (lr, momentum)
    return (
        sp.lambdify(args, d.c1, "numpy"),
        sp.lambdify(args, d.c2, "numpy"),
        sp.lambdify((momentum, batch_size), d.kappa, "numpy"),
    )


def drift_coefficients(*, lr: float, momentum: float) -> tuple[float, float]:
    """``(c1, c2)`` of ``A = [[0, -I], [c1 (H + lambda I), c2 I]]`` (seed 003 eq. 4), as derived."""
    c1, c2, _ = _numeric()
    return float(c1(lr, momentum)), float(c2(lr, momentum))


def kappa(*, momentum: float, batch_size: float) -> float:
    """Inverse temperature kappa of seed 003 eq. 4, as derived."""
    return float(_numeric()[2](momentum, batch_size))


def drift_matrix(H, *, lr: float, momentum: float, weight_decay: float = 0.0) -> np.ndarray:
    """The 2d x 2d OU drift A of seed 003 eq. 4 with the derived coefficients."""
    H = np.asarray(H, dtype=float)
    d = H.shape[0]
    c1, c2 = drift_coefficients(lr=lr, momentum=momentum)
    A = np.zeros((2 * d, 2 * d))
    A[:d, d:] = -np.eye(d)
    A[d:, :d] = c1 * (H + weight_decay * np.eye(d))
    A[d:, d:] = c2 * np.eye(d)
    return A


def diffusion_matrix(Sigma, *, lr: float, momentum: float) -> np.ndarray:
    """The 2d x 2d OU diffusion D of seed 003 eq. 4 (``D_vv = c2 Sigma``), as derived."""
    Sigma = np.asarray(Sigma, dtype=float)
    d = Sigma.shape[0]
    _, c2 = drift_coefficients(lr=lr, momentum=momentum)
    D = np.zeros((2 * d, 2 * d))
    D[d:, d:] = c2 * Sigma
    return D


def stationary_mean(H, b, *, weight_decay: float = 0.0) -> np.ndarray:
    """``[mu; 0]`` with ``(H + lambda I) mu = b``: the fixed point of the derived drift."""
    H = np.asarray(H, dtype=float)
    mu = np.linalg.solve(H + weight_decay * np.eye(H.shape[0]), np.asarray(b, dtype=float))
    return np.concatenate([mu, np.zeros_like(mu)])


# ----------------------------------------------------------------------------- claims
def _euler_quotients() -> bool:
    f = sp.Function("theta")
    fwd = sp.series((f(t + lr) - f(t)) / lr, lr, 0, 2).removeO().doit()
    bwd = sp.series((f(t) - f(t - lr)) / lr, lr, 0, 2).removeO().doit()
    half = lr / 2 * f(t).diff(t, 2)
    return vanishes(fwd - f(t).diff(t) - half) and vanishes(bwd - f(t).diff(t) + half)


def _block_form() -> bool:
    d = derive()
    n, I = _D, sp.eye(_D)
    A, D = d.A, d.D
    return (
        vanishes(A[:n, :n])
        and vanishes(A[:n, n:] + I)
        and vanishes(A[n:, :n] - d.c1 * (d.H + weight_decay * I))
        and vanishes(A[n:, n:] - d.c2 * I)
        and vanishes(D[:n, :])
        and vanishes(D[:, :n])
        and vanishes(D[n:, n:] - d.c2 * d.Sigma)
    )


def _printed_coefficients() -> bool:
    # seed 003 eq. 3 (legible part): v' = -2/(lr (1+beta)) (g + lambda theta + (1 - beta) v)
    d = derive()
    return vanishes(d.c1 - 2 / (lr * (1 + momentum))) and vanishes(
        d.c2 - 2 * (1 - momentum) / (lr * (1 + momentum))
    )


def _kappa_all_entries() -> bool:
    d = derive()
    n = _D
    # the noise covariance rate of the v block, rebuilt from the derived mass and intensity
    rate = d.noise_intensity * d.Sigma / batch_size / d.mass**2
    return vanishes(2 * d.D[n:, n:] / d.kappa - rate) and vanishes(
        d.kappa - batch_size * (1 - momentum**2)
    )


def _ridge_mean() -> bool:
    d = derive()
    mu = d.z_star[:_D, :]
    return vanishes((d.H + weight_decay * sp.eye(_D)) * mu - d.b) and vanishes(d.z_star[_D:, :])


def _slow_rate_through_order_lr() -> bool:
    # one mode with K = rho + lambda > 0 and 0 <= beta < 1
    K = sp.Symbol("K", positive=True)
    d = derive()
    beta = momentum_below_one[momentum]
    r, q = sp.symbols("r q")
    disc = sp.solve(r**2 - (1 + beta - lr * K) * r + beta, r)  # discrete characteristic roots
    slow_disc = [x for x in disc if vanishes(x.subs(lr, 0) - 1)]
    cont = sp.solve(d.mass.subs(momentum, beta) * q**2 + d.friction.subs(momentum, beta) * q + K, q)
    slow_cont = [x for x in cont if sp.limit(x, lr, 0).is_finite]
    if len(slow_disc) != 1 or len(slow_cont) != 1:
        return False
    a = sp.series(sp.log(slow_disc[0]) / lr, lr, 0, 2).removeO()
    b = sp.series(slow_cont[0], lr, 0, 2).removeO()
    euler = -K / d.friction.subs(momentum, beta)  # first-order (m = 0) model: wrong at O(lr)
    return vanishes(a - b) and not vanishes(a - euler)


def _routh_hurwitz() -> bool:
    # one mode block [[0, -1], [c1 K, c2]], K = rho + lambda > 0: its characteristic polynomial
    # p^2 + c2 p + c1 K has positive coefficients (2 x 2 Routh-Hurwitz) when 0 <= beta < 1
    d = derive()
    K, p = sp.Symbol("K", positive=True), sp.Symbol("p")
    block = sp.Matrix([[0, -1], [d.c1 * K, d.c2]])
    coeffs = sp.Poly((-block).charpoly(p).as_expr(), p).all_coeffs()  # eigenvalues of -A
    return all(sp.factor(x.subs(momentum_below_one)).is_positive for x in coeffs)


def verify() -> list[Outcome]:
    """Run every claim of this derivation."""
    return run_claims(
        NAME,
        [
            (
                "derivation completes (update -> modified equation -> OU)",
                lambda: derive() is not None,
            ),
            ("forward/backward quotients have +-(lr/2) theta'' terms (app. A)", _euler_quotients),
            ("A, D have the block form of eq. 4", _block_form),
            (
                "c1 = 2/(lr(1+beta)), c2 = 2(1-beta)/(lr(1+beta)) as eq. 3 prints",
                _printed_coefficients,
            ),
            ("kappa = S(1-beta^2) matches every entry of 2D/kappa", _kappa_all_entries),
            ("stationary mean [mu; 0], (H + lambda I) mu = b", _ridge_mean),
            (
                "slow rate = exact recursion's through O(lr); Euler's is not",
                _slow_rate_through_order_lr,
            ),
            ("A is Routh-Hurwitz stable for rho + lambda > 0, 0 <= beta < 1", _routh_hurwitz),
        ],
    )
