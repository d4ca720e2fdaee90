r"""Exact moments of minibatch SGD on a finite data set, derived by enumerating batches.

Independent of dynlab. A one-dimensional regression on three samples with symbolic inputs
``x_i``, the minimiser ``t = theta*`` and residuals ``e_1, e_2`` (``e_3`` fixed by the normal
equation ``sum_i x_i e_i + N lambda t = 0``, so the data set is general): sample i's gradient
plus weight decay is ``(x_i^2 + lambda) delta + a_i`` with ``a_i = x_i e_i + lambda t``. One
step of heavy ball from a random state ``z = (delta, v)`` independent of the batch is averaged
over every batch (S = 1 and 2 with replacement, S = 2 without) and compared with the closed form

    m' = F m,   P' = F P F^T + c_S G [(m_4 - m_2^2) P_dd + 2 T + Sigma_a] G^T,

``T = N^-1 sum_i x_i^2 a_i m_d``, ``c_S = 1/S`` or ``(N - S) / (S (N - 1))``. Then, in the
moments ``m_2, m_4, Sigma_a`` alone, the stationary second moment (a 3 x 3 linear system), Yaida's
relation on it, the momentum-0 mean-square edge, the finite-population factor for a symbolic
population, and the covariance of two batches of one reshuffled epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from itertools import combinations, permutations, product

import sympy as sp

from . import _symbols as sym
from ._claims import Outcome, run_claims, vanishes

__all__ = ["NAME", "Stationary", "derive", "verify", "stationary", "edge_momentum0"]

NAME = "minibatch moments on finite data (enumerated)"

lr, beta, lam = sym.lr, sym.momentum, sym.weight_decay
m2, m4, sa, c = sp.symbols("m_2 m_4 Sigma_a c_S", positive=True)
p11, p12, p22, mu1, mu2 = sp.symbols("p11 p12 p22 mu_d mu_v", real=True)
P = sp.Matrix([[p11, p12], [p12, p22]])
mu = sp.Matrix([mu1, mu2])


def _data():
    x = sp.symbols("x1:4", positive=True)
    t, e1, e2 = sp.symbols("t e1 e2", real=True)
    e3 = -(x[0] * e1 + x[1] * e2 + 3 * lam * t) / x[2]
    a = [xi * ei + lam * t for xi, ei in zip(x, (e1, e2, e3))]
    return x, a


def _step(h, g):
    """``z' = A z + c`` for batch curvature h (incl. lambda) and batch residual gradient g."""
    A = sp.Matrix([[1 - lr * h, lr * beta], [-h, beta]])
    return A, sp.Matrix([-lr * g, -g])


def _enumerated(batches, x, a):
    """``(E m', E P')`` averaged over the equally likely ``batches``."""
    m_new, P_new = sp.zeros(2, 1), sp.zeros(2, 2)
    for B in batches:
        S = len(B)
        A, cB = _step(sum(x[b] ** 2 for b in B) / S + lam, sum(a[b] for b in B) / S)
        m_new += A * mu + cB
        P_new += A * P * A.T + A * mu * cB.T + cB * mu.T * A.T + cB * cB.T
    n = len(batches)
    return m_new / n, P_new / n


def _closed_form(x, a, cS):
    N = len(x)
    M2 = sum(xi**2 for xi in x) / N
    M4 = sum(xi**4 for xi in x) / N
    Sa = sum(ai**2 for ai in a) / N
    T = sum(xi**2 * ai for xi, ai in zip(x, a)) / N * mu1
    F, _ = _step(M2 + lam, 0)
    G = sp.Matrix([-lr, -1])
    noise = cS * ((M4 - M2**2) * p11 + 2 * T + Sa)
    return F * mu, F * P * F.T + G * noise * G.T


@dataclass(frozen=True)
class Stationary:
    """Stationary raw second moment of the d = 1 recursion in (m_2, m_4, Sigma_a, c_S)."""

    P: sp.Matrix  # [[E delta^2, E delta v], [E delta v, E v^2]]


@cache
def derive() -> Stationary:
    """Solve ``P = F P F^T + c G [(m_4 - m_2^2) P_dd + Sigma_a] G^T`` (mean 0) for P."""
    k = m2 + lam
    F, _ = _step(k, 0)
    G = sp.Matrix([-lr, -1])
    R = F * P * F.T + G * (c * ((m4 - m2**2) * p11 + sa)) * G.T - P
    sol = sp.solve([R[0, 0], R[0, 1], R[1, 1]], [p11, p12, p22], dict=True)[0]
    return Stationary(P.subs(sol).applyfunc(sp.factor))


def stationary():
    """numpy function ``(m2, m4, Sigma_a, c_S, lr, momentum, weight_decay) -> (2, 2) P``."""
    return sp.lambdify((m2, m4, sa, c, lr, beta, lam), derive().P, "numpy")


def edge_momentum0() -> sp.Expr:
    """Momentum 0: the largest mean-square stable lr, ``2 k / (k^2 + c_S (m_4 - m_2^2))``."""
    k = m2 + lam
    return 2 * k / (k**2 + c * (m4 - m2**2))


# ---------------------------------------------------------------------------------- claims
def _recursion(batches, cS) -> bool:
    x, a = _data()
    got_m, got_P = _enumerated(batches, x, a)
    ref_m, ref_P = _closed_form(x, a, cS)
    return vanishes(got_m - ref_m, sp.cancel) and vanishes(got_P - ref_P, sp.cancel)


def _with_replacement_1() -> bool:
    return _recursion([(i,) for i in range(3)], 1)


def _with_replacement_2() -> bool:
    return _recursion(list(product(range(3), repeat=2)), sp.Rational(1, 2))


def _without_replacement_2() -> bool:
    return _recursion(list(combinations(range(3), 2)), sp.Rational(3 - 2, 2 * (3 - 1)))


def _finite_population() -> bool:
    """Mean of (batch mean)^2 over all S-subsets of a zero-sum population, N = 5."""
    N = 5
    u = list(sp.symbols("u1:5", real=True))
    u.append(-sum(u))
    ok = True
    for S in range(1, N + 1):
        avg = sum((sum(u[b] for b in B) / S) ** 2 for B in combinations(range(N), S))
        avg /= sp.binomial(N, S)
        factor = sp.Rational(N - S, S * (N - 1))
        ok &= vanishes(avg - factor * sum(ui**2 for ui in u) / N)
    return bool(ok)


def _reshuffle_covariance() -> bool:
    """Two different batches of one permutation: Cov = -Sigma_a / (N - 1), N = 6, S = 1, 2, 3."""
    N = 6
    u = list(sp.symbols("u1:6", real=True))
    u.append(-sum(u))
    Sa = sum(ui**2 for ui in u) / N
    ok = True
    perms = list(permutations(range(N)))
    for S in (1, 2, 3):
        tot = sum(sum(u[b] for b in p[:S]) * sum(u[b] for b in p[S : 2 * S]) for p in perms)
        ok &= vanishes(tot / (len(perms) * S * S) + Sa / (N - 1))
    return bool(ok)


def _stationary_solves() -> bool:
    k = m2 + lam
    F, _ = _step(k, 0)
    G = sp.Matrix([-lr, -1])
    Ps = derive().P
    R = F * Ps * F.T + G * (c * ((m4 - m2**2) * Ps[0, 0] + sa)) * G.T - Ps
    return vanishes(R, sp.cancel)


def _fdr() -> bool:
    """Yaida: E[delta (k delta)] = (1 + beta) / (2 lr) E (lr v)^2 on the stationary moments."""
    Ps = derive().P
    return vanishes((m2 + lam) * Ps[0, 0] - (1 + beta) * lr / 2 * Ps[1, 1], sp.cancel)


def _edge() -> bool:
    """Momentum 0: E delta^2 diverges exactly at the edge (denominator's root)."""
    Ps = derive().P.subs(beta, 0)
    den = sp.denom(sp.cancel(Ps[0, 0]))
    return vanishes(den.subs(lr, edge_momentum0()), sp.cancel)


def _additive_limit() -> bool:
    """m_4 = m_2^2 (per-sample Hessians equal H): the Stein solution of dynlab.sgd's model,
    ``Var delta = lr c Sigma_a / ((1 - beta) k (2 - lr k / (1 + beta)))``."""
    k = m2 + lam
    ref = lr * c * sa / ((1 - beta) * k * (2 - lr * k / (1 + beta)))
    return vanishes(derive().P[0, 0].subs(m4, m2**2) - ref, sp.cancel)


def verify() -> list[Outcome]:
    """Run every claim of this derivation."""
    return run_claims(
        NAME,
        [
            ("one step, S = 1 with replacement: enumeration = closed form", _with_replacement_1),
            ("one step, S = 2 with replacement: enumeration = closed form", _with_replacement_2),
            (
                "one step, S = 2 of 3 without replacement: c_S = (N-S)/(S(N-1))",
                _without_replacement_2,
            ),
            ("finite-population factor (N-S)/(S(N-1)), N = 5, every S", _finite_population),
            (
                "reshuffling: Cov(xi_j, xi_l) = -Sigma_a/(N-1), N = 6, S = 1,2,3",
                _reshuffle_covariance,
            ),
            ("stationary P solves the d = 1 moment map", _stationary_solves),
            ("Yaida's FDR holds on the stationary moments", _fdr),
            ("momentum 0: edge lr = 2k/(k^2 + c_S(m_4 - m_2^2))", _edge),
            ("m_4 = m_2^2: the additive (Stein) solution", _additive_limit),
        ],
    )
