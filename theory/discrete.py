r"""The exact discrete heavy-ball recursion of one mode, and what the SDE misses (beyond seed 003).

:func:`derive` takes the update (seed 003 eq. 2) with the CLT noise model along one eigenvector
q of H (eigenvalue rho, K = rho + lambda, noise variance s = q^T Sigma q):

    v_{k+1} = beta v_k - (rho theta_k - b + xi_k) - lambda theta_k,
    theta_{k+1} = theta_k + lr v_{k+1},

shifts theta = mu + a about the fixed point, reads off ``z_{k+1} = F z_k + G xi_k`` (Jacobians),
and solves the discrete Lyapunov (Stein) equation ``P = F P F^T + G G^T s / S`` as a linear
system in the three entries of P. The stability region comes from the Jury conditions on the
characteristic polynomial of F, the damping regimes from its discriminant, and the comparison
with the SDE from the series of P in lr against :mod:`theory.ou_mode`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import sympy as sp

from . import _symbols as sym
from . import oscillator, ou_mode
from ._claims import Outcome, run_claims, vanishes
from ._matexpr import over_modes, over_pairs

__all__ = [
    "NAME",
    "Derivation",
    "derive",
    "verify",
    "transition",
    "stationary_cov",
    "pair_stationary_cov",
    "speed",
    "frequency",
    "stability_limit",
]

NAME = "exact discrete recursion (Stein, lr expansion)"

K = sp.Symbol("K", positive=True)  # rho + lambda


@dataclass(frozen=True)
class Derivation:
    """Results of :func:`derive` (in K = rho + lambda, lr, momentum, s, batch_size)."""

    F: sp.Matrix
    G: sp.Matrix
    P: sp.Matrix
    stein_system: sp.Matrix
    charpoly: sp.Expr  # in the symbol r
    stable: tuple  # (lower, upper) bounds on lr K from the Jury conditions
    complex_band: tuple  # lr K interval where F has complex eigenvalues
    r: sp.Symbol
    pair_P: sp.Matrix  # cross block P_ij of modes with K_i, K_j and noise covariance s_ij


@cache
def derive() -> Derivation:
    """Derive F, G, P, the stability region and the damping band (see module doc)."""
    eta, beta, lam, S, s = sym.lr, sym.momentum, sym.weight_decay, sym.batch_size, sym.s
    theta, v, xi, b, a = sp.symbols("theta v xi b a", real=True)
    rho = K - lam
    v_next = beta * v - (rho * theta - b + xi) - lam * theta
    theta_next = theta + eta * v_next
    mu = sp.solve(v_next.subs({v: 0, xi: 0}), theta)[0]  # fixed point with v = 0
    shifted = {theta: mu + a}
    z_next = sp.Matrix([theta_next.subs(shifted) - mu, v_next.subs(shifted)]).applyfunc(sp.expand)
    F = z_next.jacobian([a, v])
    G = z_next.jacobian([xi])
    if not vanishes(z_next - F * sp.Matrix([a, v]) - G * xi):
        raise ArithmeticError("the shifted recursion is not linear about the fixed point")
    p11, p12, p22 = sp.symbols("P11 P12 P22")
    P = sp.Matrix([[p11, p12], [p12, p22]])
    res = F * P * F.T + G * G.T * s / S - P
    eqs = [res[0, 0], res[0, 1], res[1, 1]]
    system, _ = sp.linear_eq_to_matrix(eqs, [p11, p12, p22])
    sol = sp.solve(eqs, [p11, p12, p22], dict=True)
    if len(sol) != 1:
        raise ArithmeticError("the Stein equation has no unique solution")
    P = P.subs(sol[0]).applyfunc(sp.factor)
    r = sp.Symbol("r")
    cp = sp.expand(F.charpoly(r).as_expr())
    # Jury conditions for a monic quadratic r^2 + c1 r + c0: |c0| < 1, p(1) > 0, p(-1) > 0
    x = sp.Symbol("x", positive=True)  # x = lr K
    to_x = {K: x / eta}
    p1, pm1 = sp.expand(cp.subs(r, 1).subs(to_x)), sp.expand(cp.subs(r, -1).subs(to_x))
    lower = sp.solve(sp.Eq(p1, 0), x)  # p(1) = x: positive for every x > 0
    upper = sp.solve(sp.Eq(pm1, 0), x)
    if lower or len(upper) != 1:
        raise ArithmeticError("unexpected Jury boundaries")
    disc = sp.discriminant(cp, r).subs(to_x)
    band = sorted(sp.solve(sp.Eq(disc, 0), x), key=lambda e: e.subs(beta, sp.Rational(1, 4)))
    # modes i, j (any Sigma): P_ij = F_i P_ij F_j^T + G G^T s_ij / S
    X = sp.Matrix(2, 2, sp.symbols("X11 X12 X21 X22"))
    Fi, Fj = F.subs(K, K_i), F.subs(K, K_j)
    res = Fi * X * Fj.T + G * G.T * s_ij / S - X
    pair = sp.solve(list(res), list(X), dict=True)
    if len(pair) != 1:
        raise ArithmeticError("the pair Stein equation has no unique solution")
    pair_P = X.subs(pair[0]).applyfunc(sp.factor)
    return Derivation(F, G, P, system, cp, (sp.Integer(0), upper[0]), tuple(band), r, pair_P)


K_i, K_j = sp.symbols("K_i K_j", positive=True)
s_ij = sp.Symbol("s_ij", real=True)


# ----------------------------------------------------------------------------- numeric exports
@cache
def _numeric():
    d = derive()
    k_of = {K: sym.rho + sym.weight_decay}
    args = (sym.rho, sym.s, sym.lr, sym.momentum, sym.weight_decay, sym.batch_size)
    fargs = (sym.rho, sym.lr, sym.momentum, sym.weight_decay)
    return {
        "F": sp.lambdify(fargs, d.F.subs(k_of), "numpy"),
        "G": sp.lambdify(fargs, d.G.subs(k_of), "numpy"),
        "P": sp.lambdify(args, d.P.subs(k_of), "numpy"),
        "pair": sp.lambdify(
            (
                sym.rho,
                sp.Symbol("rho_j"),
                s_ij,
                sym.lr,
                sym.momentum,
                sym.weight_decay,
                sym.batch_size,
            ),
            d.pair_P.subs(
                {K_i: sym.rho + sym.weight_decay, K_j: sp.Symbol("rho_j") + sym.weight_decay}
            ),
            "numpy",
        ),
        "limit": sp.lambdify(
            (sym.rho, sym.momentum, sym.weight_decay), (d.stable[1] / K).subs(k_of), "numpy"
        ),
    }


def _per_mode(name, rho, *rest):
    return over_modes(_numeric()[name], (rho,), rest)


def transition(rho, *, lr, momentum, weight_decay=0.0):
    """Per-mode ``(F, G)``: ``(a, v)_{k+1} = F (a, v)_k + G xi_k``.

    Shapes ``rho.shape + (2, 2)``, ``(2, 1)``.
    """
    return (
        _per_mode("F", rho, lr, momentum, weight_decay),
        _per_mode("G", rho, lr, momentum, weight_decay),
    )


def stationary_cov(rho, sigma2, *, lr, momentum, weight_decay=0.0, batch_size=1):
    """Per-mode exact stationary covariance P of (<theta - mu, q>, <v, q>), closed form."""
    return over_modes(_numeric()["P"], (rho, sigma2), (lr, momentum, weight_decay, batch_size))


def pair_stationary_cov(rho, sigma_modal, *, lr, momentum, weight_decay=0.0, batch_size=1):
    """Cross blocks P_ij (shape (d, d, 2, 2)) of the exact P in the eigenbasis, for any Sigma.

    ``sigma_modal = q^T Sigma q``; assemble with :func:`theory.ou_mode.phase_space_matrix`.
    """
    return over_pairs(
        _numeric()["pair"], rho, sigma_modal, (lr, momentum, weight_decay, batch_size)
    )


def speed(rho, sigma2, *, lr, momentum, weight_decay=0.0, batch_size=1):
    """Exact stationary ``E||theta_{k+1} - theta_k||^2 = lr^2 sum_i P_vv,i``."""
    P = stationary_cov(
        rho, sigma2, lr=lr, momentum=momentum, weight_decay=weight_decay, batch_size=batch_size
    )
    return float(lr**2 * np.sum(P[..., 1, 1]))


def frequency(rho, *, lr, momentum, weight_decay=0.0):
    """Exact rotation of each mode in cycles per step.

    It is ``arg(r) / (2 pi)`` of F's dominant eigenvalue r.

    From the characteristic polynomial ``r^2 - a r + beta``, ``a = 1 + beta - lr K``: complex
    roots (``a^2 < 4 beta``) have ``cos(phi) = a / (2 sqrt(beta))``; real roots have the sign of
    a (their product beta is >= 0), so arg = 0 for a > 0 and pi (period 2) for a < 0.
    """
    x = lr * (np.asarray(rho, dtype=float) + weight_decay)
    a = 1.0 + momentum - x
    out = np.where(a < 0, 0.5, 0.0)
    inside = a * a < 4.0 * momentum
    out[inside] = np.arccos(a[inside] / (2.0 * np.sqrt(momentum))) / (2.0 * np.pi)
    return out


def stability_limit(rho, *, momentum, weight_decay=0.0):
    """Largest stable lr of each mode, ``2 (1 + beta) / (rho + lambda)`` (Jury conditions)."""
    return np.asarray(
        _numeric()["limit"](np.asarray(rho, dtype=float), momentum, weight_decay), dtype=float
    )


# ----------------------------------------------------------------------------- claims
_u = sym.momentum_below_one


def _stein_unique() -> bool:
    d = derive()
    # non-singular strictly inside the stable region: lr K = 2(1+beta) y / (1 + y), y > 0
    y = sp.Symbol("y", positive=True)
    inside = {K: 2 * (1 + sym.momentum) * y / ((1 + y) * sym.lr)}
    det = sp.factor(d.stein_system.det().subs(inside).subs(_u))
    return bool(det.is_nonzero)


def _positive_inside() -> bool:
    d = derive()
    y = sp.Symbol("y", positive=True)
    inside = {K: 2 * (1 + sym.momentum) * y / ((1 + y) * sym.lr)}
    det = sp.factor(d.P[0, 0] * d.P[1, 1] - d.P[0, 1] ** 2)
    return all(sp.factor(e.subs(inside).subs(_u)).is_positive for e in (d.P[0, 0], det))


def _jury() -> bool:
    # 0 < lr K < 2(1 + beta): the stability region, and P blows up at its upper edge
    d = derive()
    edge = {K: d.stable[1] / sym.lr}
    blows = all(sp.simplify(1 / e.subs(edge)) == 0 for e in (d.P[0, 0], d.P[1, 1]))
    return vanishes(d.stable[1] - 2 * (1 + sym.momentum)) and blows


def _sde_limit() -> bool:
    # exact P_tt, P_vv = (SDE B/kappa) * 2(1+beta) / (2(1+beta) - lr K): leading order is the SDE,
    # the first correction is relative + lr K / (2(1+beta)); P_tv = lr P_vv / 2 (SDE: 0)
    d = derive()
    m = ou_mode.derive()
    sde = (m.B / m.kappa).subs(sym.rho, K - sym.weight_decay)
    factor = 2 * (1 + sym.momentum) / (2 * (1 + sym.momentum) - sym.lr * K)
    first = sp.series(d.P[0, 0] / sde[0, 0], sym.lr, 0, 2).removeO()
    return (
        vanishes(d.P[0, 0] - sde[0, 0] * factor)
        and vanishes(d.P[1, 1] - sde[1, 1] * factor)
        and vanishes(first - 1 - sym.lr * K / (2 * (1 + sym.momentum)))
        and vanishes(d.P[0, 1] - sym.lr * d.P[1, 1] / 2)
        and vanishes(sde[0, 1])
    )


def _gd_sanity() -> bool:
    # beta = 0, lambda = 0, s = sigma^2 rho: Var theta = lr sigma^2 / (S (2 - lr rho))
    # (docs/theory.md, sec. 5)
    d = derive()
    sigma2 = sp.Symbol("sigma2", positive=True)
    got = d.P[0, 0].subs({sym.momentum: 0, sym.s: sigma2 * K})
    return vanishes(got - sym.lr * sigma2 / (sym.batch_size * (2 - sym.lr * K)))


def _exact_equipartition() -> bool:
    # K P_tt = m P_vv with the SDE's mass m = lr (1 + beta) / 2: exact for the recursion
    d = derive()
    return vanishes(K * d.P[0, 0] - sym.lr * (1 + sym.momentum) / 2 * d.P[1, 1])


def _damping_band() -> bool:
    # complex eigenvalues iff (1 - sqrt b)^2 < lr K < (1 + sqrt b)^2; the SDE's under-damping
    # threshold lr K = (1 - b)^2 / (2 (1 + b)) is lower by (1 + sqrt b)^2 / (2 (1 + b)) < 1,
    # which -> 1 as b -> 1
    d = derive()
    sb = sp.sqrt(sym.momentum)
    lo, hi = d.complex_band
    osc = oscillator.derive()
    x = sp.Symbol("x", positive=True)
    crit = sp.solve(sp.Eq(osc.gamma**2, osc.omega2.subs(sym.rho, x / sym.lr - sym.weight_decay)), x)
    if len(crit) != 1:
        return False
    ratio = sp.factor(crit[0] / lo)
    below = sp.factor(1 - ratio).subs(sym.momentum, sp.Symbol("w", positive=True) ** 2)
    return (
        vanishes(lo - (1 - sb) ** 2, sp.expand)
        and vanishes(hi - (1 + sb) ** 2, sp.expand)
        and vanishes(ratio - (1 + sb) ** 2 / (2 * (1 + sym.momentum)), sp.expand, sp.simplify)
        and sp.limit(ratio, sym.momentum, 1) == 1
        and bool(sp.factor(below).is_nonnegative)
    )


def _pair_consistent() -> bool:
    d = derive()
    diag = d.pair_P.subs({K_j: K_i}).subs({K_i: K, s_ij: sym.s})
    swapped = d.pair_P.subs({K_i: K_j, K_j: K_i}, simultaneous=True)
    return vanishes(diag - d.P) and vanishes(swapped - d.pair_P.T)


def _roots_sign() -> bool:
    # real roots have the sign of a = 1 + beta - lr K (product beta >= 0, sum a): the
    # frequency is 1/2 cycle per step beyond the band, where a < 0
    d = derive()
    r1, r2 = sp.solve(d.charpoly, d.r)
    a = 1 + sym.momentum - sym.lr * K
    return vanishes(r1 * r2 - sym.momentum) and vanishes(r1 + r2 - a)


def verify() -> list[Outcome]:
    """Run every claim of this derivation."""
    return run_claims(
        NAME,
        [
            (
                "derivation completes (update -> F, G -> Stein -> Jury)",
                lambda: derive() is not None,
            ),
            ("Jury: stable iff 0 < lr K < 2(1+beta); P blows up at the edge", _jury),
            ("Stein system non-singular inside the stable region", _stein_unique),
            ("P positive definite inside the stable region", _positive_inside),
            ("P = SDE x 2(1+b)/(2(1+b) - lr K); P_tv = lr P_vv/2", _sde_limit),
            ("beta = 0: Var theta = lr sigma^2/(S(2 - lr rho))", _gd_sanity),
            ("K P_tt = m P_vv exactly, m = lr(1+beta)/2", _exact_equipartition),
            ("complex band (1-sqrt b)^2 < lr K < (1+sqrt b)^2 vs SDE's", _damping_band),
            ("roots: product beta, sum 1 + beta - lr K (sign of real roots)", _roots_sign),
            ("any Sigma: pair blocks P_ij solve; P_ii = P, P_ji = P_ij^T", _pair_consistent),
        ],
    )
