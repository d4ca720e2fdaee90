r"""Damped leapfrog on a quadratic: one-step map, shadow Hamiltonian, stability, Delta H (seed 000).

Seed 000 eqs. 2-4 on ``L(theta) = theta^T K theta / 2`` with inverse mass ``M`` (M^{-1} in the
seed) and ``H(theta, p) = p^T M p / 2 + L(theta)``:

    p_half = e^{-gamma h/2} p - (h/2) K theta,  theta' = theta + h M p_half,
    p' = e^{-gamma h/2} p_half - (h/2) K theta'.

:func:`derive` composes the three sub-steps (as block matrices of the matrix symbols K, M, and
for one mode, K = k, M = m scalars, omega^2 = k m), and from the one-step map Phi derives

* the exactly conserved quadratic form at gamma = 0 (solving ``Phi^T S Phi = S``) and the
  modified Hamiltonian whose time-h flow is Phi (``h^{-1} log Phi``), expanded in h;
* the stability region from the Jury conditions on Phi's characteristic polynomial;
* the exact one-step energy change ``Delta H = z^T (Phi^T S Phi - S) z / 2`` and, with gradient
  noise xi_1, xi_2 (variance sigma^2) in the two half-kicks, its noise part: the terms of the
  seed's heuristic eq. 6.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import sympy as sp
from scipy.optimize import brentq

from ._claims import Outcome, run_claims, vanishes
from ._matexpr import evaluate

__all__ = [
    "NAME",
    "Derivation",
    "derive",
    "verify",
    "step_matrix",
    "energy_change",
    "shadow_energy",
    "stability_limit",
]

NAME = "leapfrog on a quadratic (000 eq. 2-4, 6)"

h = sp.Symbol("h", positive=True)  # dt
gamma = sp.Symbol("gamma", nonnegative=True)
k, m = sp.symbols("k m", positive=True)  # curvature and inverse mass of one mode
sigma = sp.Symbol("sigma", positive=True)
theta, p = sp.symbols("theta p", real=True)
xi1, xi2 = sp.symbols("xi1 xi2", real=True)
n = sp.Symbol("n", integer=True, positive=True)
Kmat, Mmat = sp.MatrixSymbol("K", n, n), sp.MatrixSymbol("M", n, n)


@dataclass(frozen=True)
class Derivation:
    """Results of :func:`derive`."""

    Phi: sp.Matrix  # one mode, any gamma
    Phi_blocks: sp.BlockMatrix  # matrix level, any gamma
    shadow: sp.Matrix  # conserved quadratic form of one mode (gamma = 0), normalized -> diag(k, m)
    shadow_blocks: sp.BlockMatrix  # its matrix-level form diag(K - h^2 K M K / 4, M)
    modified_h: sp.Expr  # h^{-1} log Phi as a Hamiltonian, series to O(h^4), gamma = 0
    jury_minus1: sp.Expr  # p(-1) of the characteristic polynomial (stable iff > 0, with p(1) > 0)
    jury_plus1: sp.Expr
    delta_h: sp.Expr  # exact Delta H of one mode, any gamma, no noise
    noise_mean: sp.Expr  # E[Delta H] - Delta H(xi = 0), independent xi_1, xi_2 of variance sigma^2
    noise_linear: tuple  # d Delta H / d xi_1, d xi_2 at xi = 0


def _step(th, pp, hh, g, K=k, M=m, noise=(0, 0)):
    c = sp.exp(-g * hh / 2)
    half = c * pp - hh / 2 * (K * th + noise[0])
    th_new = th + hh * M * half
    return th_new, c * half - hh / 2 * (K * th_new + noise[1])


def _energy(th, pp):
    return k * th**2 / 2 + m * pp**2 / 2


@cache
def derive() -> Derivation:
    """Compose the sub-steps and derive the listed results (see module doc)."""
    new = sp.Matrix(_step(theta, p, h, gamma))
    Phi = new.jacobian([theta, p]).applyfunc(sp.expand)
    if not vanishes(new - Phi * sp.Matrix([theta, p])):
        raise ArithmeticError("the step is not linear in (theta, p)")

    I, Z = sp.Identity(n), sp.ZeroMatrix(n, n)
    c = sp.exp(-gamma * h / 2)
    kick = sp.BlockMatrix([[I, Z], [-h / 2 * Kmat, c * I]])
    drift = sp.BlockMatrix([[I, h * Mmat], [Z, I]])
    Phi_blocks = sp.block_collapse(kick * drift * kick)

    # conserved form at gamma = 0: the null space of S -> Phi^T S Phi - S
    P0 = Phi.subs(gamma, 0)
    a, b, d = sp.symbols("a b d")
    S = sp.Matrix([[a, b], [b, d]])
    res = P0.T * S * P0 - S
    sol = sp.solve([res[0, 0], res[0, 1], res[1, 1]], [a, b, d], dict=True)
    if len(sol) != 1:
        raise ArithmeticError("no unique conserved quadratic form")
    shadow = S.subs(sol[0])
    free = shadow.free_symbols & {a, b, d}
    if len(free) != 1:
        raise ArithmeticError("the conserved form is not unique up to scale")
    (scale,) = free
    shadow = shadow.subs(scale, sp.solve(sp.Eq(sp.limit(shadow[1, 1], h, 0), m), scale)[0])
    shadow = shadow.applyfunc(sp.factor)
    shadow_blocks = sp.BlockMatrix([[Kmat - h**2 / 4 * Kmat * Mmat * Kmat, Z], [Z, Mmat]])

    # modified Hamiltonian: Phi = cos(phi) I + sin(phi) N with N^2 = -I, so log Phi = phi N and
    # the generator's Hamiltonian matrix is -J (phi N / h) with J = [[0, 1], [-1, 0]]
    phi = sp.acos(P0.trace() / 2)
    N = (P0 - sp.cos(phi) * sp.eye(2)) / sp.sin(phi)
    J = sp.Matrix([[0, 1], [-1, 0]])
    gen = (-J * phi * N / h).applyfunc(sp.simplify)
    z = sp.Matrix([theta, p])
    modified_h = sp.expand(sp.series((z.T * gen * z)[0] / 2, h, 0, 5).removeO())

    r = sp.Symbol("r")
    cp = Phi.charpoly(r).as_expr()
    jm1, jp1 = sp.factor(cp.subs(r, -1)), sp.factor(cp.subs(r, 1))

    delta_h = sp.factor(sp.expand(_energy(*new) - _energy(theta, p)))
    noisy = sp.expand(_energy(*_step(theta, p, h, gamma, noise=(xi1, xi2))) - _energy(theta, p))
    poly = sp.Poly(noisy, xi1, xi2)
    even = sum(
        cf * (sigma**2 if i == 2 else 1) * (sigma**2 if j == 2 else 1)
        for (i, j), cf in zip(poly.monoms(), poly.coeffs())
        if i % 2 == 0 and j % 2 == 0
    )
    noise_mean = sp.factor(sp.expand(even - noisy.subs({xi1: 0, xi2: 0})))
    linear = tuple(sp.factor(noisy.diff(x).subs({xi1: 0, xi2: 0})) for x in (xi1, xi2))
    return Derivation(
        Phi, Phi_blocks, shadow, shadow_blocks, modified_h, jm1, jp1, delta_h, noise_mean, linear
    )


# ----------------------------------------------------------------------------- numeric exports
def step_matrix(h_, K, inv_mass, gamma_=0.0) -> np.ndarray:
    """The 2d x 2d one-step map Phi of eqs. 2-4 on ``theta^T K theta / 2`` (state [theta; p])."""
    K = np.atleast_2d(np.asarray(K, dtype=float))
    M = np.atleast_2d(np.asarray(inv_mass, dtype=float))
    if M.shape != K.shape:
        M = np.diag(np.broadcast_to(np.ravel(M), (K.shape[0],)))
    d = derive()
    env = {Kmat: K, Mmat: M}
    scal = {h: h_, gamma: gamma_}
    blocks = d.Phi_blocks.blocks
    rows = [
        np.hstack([evaluate(blocks[i, j], env, scal, K.shape[0]) for j in range(2)])
        for i in range(2)
    ]
    return np.vstack(rows)


def _energy_matrix(K, M):
    d = K.shape[0]
    S = np.zeros((2 * d, 2 * d))
    S[:d, :d], S[d:, d:] = K, M
    return S


def energy_change(theta_, p_, h_, K, inv_mass, gamma_=0.0) -> np.ndarray:
    """Exact one-step ``Delta H = z^T (Phi^T S Phi - S) z / 2``, z = [theta; p] (last axis d)."""
    Phi = step_matrix(h_, K, inv_mass, gamma_)
    d = Phi.shape[0] // 2
    K = np.atleast_2d(np.asarray(K, dtype=float))
    M = np.atleast_2d(np.asarray(inv_mass, dtype=float))
    M = M if M.shape == K.shape else np.diag(np.broadcast_to(np.ravel(M), (d,)))
    S = _energy_matrix(K, M)
    z = np.concatenate([np.asarray(theta_, dtype=float), np.asarray(p_, dtype=float)], axis=-1)
    W = Phi.T @ S @ Phi - S
    return 0.5 * np.einsum("...i,ij,...j->...", z, W, z)


def shadow_energy(theta_, p_, h_, K, inv_mass) -> np.ndarray:
    """The quadratic form conserved exactly by the undamped step.

    ``p^T M p/2 + theta^T (K - h^2 K M K/4) theta/2``.
    """
    K = np.atleast_2d(np.asarray(K, dtype=float))
    d = K.shape[0]
    M = np.atleast_2d(np.asarray(inv_mass, dtype=float))
    M = M if M.shape == K.shape else np.diag(np.broadcast_to(np.ravel(M), (d,)))
    blocks = derive().shadow_blocks.blocks
    top = evaluate(blocks[0, 0], {Kmat: K, Mmat: M}, {h: h_}, d)
    th, pp = np.asarray(theta_, dtype=float), np.asarray(p_, dtype=float)
    return 0.5 * (
        np.einsum("...i,ij,...j->...", th, top, th) + np.einsum("...i,ij,...j->...", pp, M, pp)
    )


def stability_limit(omega, gamma_=0.0) -> float:
    """Largest stable dt for a mode of frequency omega (= sqrt(k m)): the root of Jury's p(-1).

    gamma = 0: ``2 / omega``; gamma > 0: the root of ``p(-1) = 0`` below it, found by brentq
    on the derived expression.
    """
    d = derive()
    f = sp.lambdify((h, gamma, k, m), d.jury_minus1, "numpy")
    top = 2.0 / omega
    if gamma_ == 0.0:
        return top
    return brentq(lambda x: f(x, gamma_, omega**2, 1.0), 1e-12 * top, top)


# ----------------------------------------------------------------------------- claims
def _det() -> bool:
    d = derive()
    return vanishes(d.Phi.det() - sp.exp(-gamma * h), sp.expand, sp.simplify)


def _shadow() -> bool:
    d = derive()
    mode = vanishes(d.shadow - sp.diag(k * (1 - h**2 * k * m / 4), m))
    R = sp.block_collapse(d.Phi_blocks.T * d.shadow_blocks * d.Phi_blocks)
    sym = {sp.Transpose(Kmat): Kmat, sp.Transpose(Mmat): Mmat}  # K, M symmetric
    blocks = (
        sp.expand(
            sp.expand(
                (R.blocks[i, j] - d.shadow_blocks.blocks[i, j]).subs(gamma, 0).doit()
            ).xreplace(sym)
        )
        for i in range(2)
        for j in range(2)
    )
    return mode and all(b == 0 or b == sp.ZeroMatrix(n, n) for b in blocks)


def _modified_hamiltonian() -> bool:
    # BCH for the symmetric splitting e^{hV/2} e^{hT} e^{hV/2}:
    # H~ = H + h^2 ({T,{T,V}}/12 - {V,{V,T}}/24) + O(h^4), {f, g} = f_theta g_p - f_p g_theta
    d = derive()
    T, V = m * p**2 / 2, k * theta**2 / 2

    def pb(f, g):
        return sp.diff(f, theta) * sp.diff(g, p) - sp.diff(f, p) * sp.diff(g, theta)

    bch = T + V + h**2 * (pb(T, pb(T, V)) / 12 - pb(V, pb(V, T)) / 24)
    diff = sp.expand(d.modified_h - bch)
    return all(vanishes(diff.coeff(h, j)) for j in range(4))


def _stability() -> bool:
    # Jury: p(1) > 0 always (= h^2 k m (1 + c)/2); p(-1) > 0 iff h^2 k m < 4 (1 + c^2)/(1 + c),
    # c = e^{-gamma h/2}; gamma = 0 gives h omega < 2, and damping lowers the limit
    d = derive()
    c = sp.exp(-gamma * h / 2)
    x = h**2 * k * m
    plus = vanishes(d.jury_plus1 - x * (1 + c) / 2, sp.expand, sp.simplify)
    minus = vanishes(d.jury_minus1 - (2 * (1 + c**2) - x * (1 + c) / 2), sp.expand, sp.simplify)
    cc = sp.Symbol("cc", positive=True)
    lower = sp.factor(
        4 - 4 * (1 + cc**2) / (1 + cc)
    )  # = 4 cc (1 - cc) / (1 + cc) > 0 for 0 < cc < 1
    undamped = sp.solve(sp.Eq(d.jury_minus1.subs(gamma, 0), 0), h)
    return (
        plus
        and minus
        and vanishes(lower - 4 * cc * (1 - cc) / (1 + cc))
        and undamped == [2 / sp.sqrt(k * m)]
    )


def _delta_h() -> bool:
    # gamma = 0:
    # Delta H = h^3 k^2 m^2 (2p - h k theta)(4 theta + 2 h m p - h^2 k m theta)/32 = O(h^3);
    # gamma > 0: Delta H = -gamma h m p^2 + O(h^2)
    d = derive()
    exact0 = (
        h**3
        * k**2
        * m**2
        * (2 * p - h * k * theta)
        * (4 * theta + 2 * h * m * p - h**2 * k * m * theta)
        / 32
    )
    lead = sp.series(d.delta_h, h, 0, 2).removeO()
    return vanishes(d.delta_h.subs(gamma, 0) - exact0) and vanishes(lead + gamma * h * m * p**2)


def _eq6_terms() -> bool:
    # on the energy shell theta = sqrt(2E/k) cos(phi), p = sqrt(2E/m) sin(phi), phases uniform:
    # dt^3 term  Delta H = (h omega)^3 E sin(2 phi)/4 -> median |Delta H| = (h omega)^3 E/(4 sqrt 2)
    # gamma dt   Delta H = -2 gamma h E sin^2(phi)   -> median |Delta H| = gamma h E
    # noise      E[Delta H] gains m sigma^2 h^2/4 (the sigma^2 dt^2 term), but Delta H has a
    #            zero-mean part -(h m p/2)(xi1 + xi2): O(sigma dt), absent from eq. 6
    d = derive()
    E, phi, x = (
        sp.Symbol("E", positive=True),
        sp.Symbol("phi", real=True),
        sp.Symbol("x", positive=True),
    )
    shell = {theta: sp.sqrt(2 * E / k) * sp.cos(phi), p: sp.sqrt(2 * E / m) * sp.sin(phi)}
    cubic = sp.series(d.delta_h.subs(gamma, 0), h, 0, 4).removeO().subs(shell)
    linear = sp.series(d.delta_h, h, 0, 2).removeO().subs(shell)
    omega = sp.sqrt(k * m)
    ok = vanishes(sp.simplify(cubic - (h * omega) ** 3 * E * sp.sin(2 * phi) / 4))
    ok &= vanishes(sp.simplify(linear + 2 * gamma * h * E * sp.sin(phi) ** 2))
    # medians over a uniform phase: P(|sin 2phi| <= x) = (2/pi) asin x,
    # P(sin^2 phi <= x) = (2/pi) asin sqrt x
    ok &= sp.solve(sp.Eq(2 / sp.pi * sp.asin(x), sp.Rational(1, 2)), x) == [sp.sqrt(2) / 2]
    ok &= sp.solve(sp.Eq(2 / sp.pi * sp.asin(sp.sqrt(x)), sp.Rational(1, 2)), x) == [
        sp.Rational(1, 2)
    ]
    ok &= vanishes(sp.series(d.noise_mean, h, 0, 3).removeO() - m * sigma**2 * h**2 / 4)
    ok &= all(vanishes(sp.series(g, h, 0, 2).removeO() + h * m * p / 2) for g in d.noise_linear)
    return bool(ok)


def _time_symmetry() -> bool:
    # symmetric method: Phi(-h) Phi(h) = I. True at gamma = 0; false for gamma > 0 with the
    # seed's ordering (damp+kick, drift, damp+kick); true for the palindrome
    # damp, kick, drift, kick, damp
    d = derive()
    back = d.Phi.subs(h, -h)
    prod = (back * d.Phi).applyfunc(sp.expand)
    seed_undamped = vanishes((prod - sp.eye(2)).subs(gamma, 0))
    seed_damped = not vanishes(
        (prod - sp.eye(2)).subs(gamma, sp.Rational(1, 3)), sp.expand, sp.simplify
    )

    def palindrome(th, pp, hh):
        c = sp.exp(-gamma * hh / 2)
        pp = c * pp
        pp = pp - hh / 2 * k * th
        th = th + hh * m * pp
        pp = pp - hh / 2 * k * th
        return th, c * pp

    Pp = sp.Matrix(palindrome(theta, p, h)).jacobian([theta, p])
    pal = vanishes(Pp.subs(h, -h) * Pp - sp.eye(2), sp.expand, sp.simplify)
    return seed_undamped and seed_damped and pal


def _reversibility() -> bool:
    # momentum flip R = diag(1, -1): R Phi R Phi = I iff gamma = 0
    d = derive()
    R = sp.diag(1, -1)
    rt = (R * d.Phi * R * d.Phi - sp.eye(2)).applyfunc(sp.expand)
    return vanishes(rt.subs(gamma, 0)) and not vanishes(
        rt.subs(gamma, sp.Rational(1, 3)), sp.expand, sp.simplify
    )


def verify() -> list[Outcome]:
    """Run every claim of this derivation."""
    return run_claims(
        NAME,
        [
            (
                "derivation completes (map, shadow, log, Jury, Delta H)",
                lambda: derive() is not None,
            ),
            ("det Phi = e^{-gamma h}: area-preserving iff gamma = 0", _det),
            ("gamma=0 conserves diag(K - h^2 KMK/4, M), any K, M", _shadow),
            ("log-Phi Hamiltonian = H + h^2 BCH term + O(h^4)", _modified_hamiltonian),
            ("Jury: h^2 w^2 < 4(1+c^2)/(1+c), c = e^{-gh/2}; gamma=0: h w < 2", _stability),
            ("Delta H exact = O(h^3) at gamma=0; -gamma h m p^2 + O(h^2)", _delta_h),
            ("eq. 6 terms: a, c, b from Delta H; plus an O(sigma dt) term", _eq6_terms),
            ("Phi(-h)Phi(h) = I only at gamma=0; palindrome symmetric", _time_symmetry),
            ("momentum-flip round trip exact iff gamma = 0", _reversibility),
        ],
    )
