r"""The mean of one mode as a damped oscillator, solved in three regimes (seed 003 eq. 5, app. F.2).

:func:`derive` starts from the mode block of the drift derived in :mod:`theory.ou_mode`,
``(a, b)' = -A_i (a, b)`` with ``a = <E theta - mu, q>``, ``b = <E v, q>``, eliminates b into the
second-order equation ``a'' + 2 gamma a' + omega^2 a = 0`` (reading gamma and omega off its
coefficients), and solves it with ``dsolve`` for ``a(0) = a0``, ``a'(0) = b0`` in each regime:

* over-damped   ``omega^2 = gamma^2 - alpha^2``,
* critical      ``omega = gamma``,
* under-damped  ``omega^2 = gamma^2 + alpha^2``   (alpha > 0 in both non-critical cases),

and ``b = a'``. Time t is SDE time, ``t = lr * k``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import sympy as sp

from . import _symbols as sym
from . import ou_mode
from ._claims import Outcome, run_claims, vanishes
from ._symbols import t

__all__ = [
    "NAME",
    "Derivation",
    "derive",
    "verify",
    "mode_parameters",
    "mean",
    "transition_matrix",
]

NAME = "oscillator mean a(t), b(t) (003 eq. 5, app. F)"

gamma = sp.Symbol("gamma", positive=True)
omega = sp.Symbol("omega", positive=True)
alpha = sp.Symbol("alpha", positive=True)
a0, b0 = sp.symbols("a0 b0", real=True)

REGIMES = ("over", "critical", "under")
_OMEGA2 = {"over": gamma**2 - alpha**2, "critical": gamma**2, "under": gamma**2 + alpha**2}


@dataclass(frozen=True)
class Derivation:
    """Results of :func:`derive`."""

    gamma: sp.Expr  # in lr, momentum
    omega2: sp.Expr  # in rho, lr, momentum, weight_decay
    zeta: sp.Expr  # damping ratio gamma / omega
    ode: sp.Expr  # a'' + 2 gamma a' + omega^2 a (in the symbols gamma, omega)
    a: dict  # regime -> a(t) in gamma, alpha, a0, b0, t
    b: dict  # regime -> b(t) = a'(t)


@cache
def derive() -> Derivation:
    """Reduce the mode block to an oscillator and solve it in each regime (see module doc)."""
    A = ou_mode.derive().A
    f, g = sp.Function("a"), sp.Function("b")
    # (a, b)' = -A (a, b): the first row gives b = a', the second row the oscillator
    rows = -A * sp.Matrix([f(t), g(t)])
    if not vanishes(rows[0] - g(t)):
        raise ArithmeticError("the mode block's first row is not a' = b")
    second = sp.expand(f(t).diff(t, 2) - rows[1].subs(g(t), f(t).diff(t)))
    c_da = second.coeff(f(t).diff(t))
    c_a = second.coeff(f(t))
    gam = sp.factor(c_da / 2)
    om2 = sp.factor(c_a)
    x = sp.Function("x")
    ode = x(t).diff(t, 2) + 2 * gamma * x(t).diff(t) + omega**2 * x(t)
    a_sol, b_sol = {}, {}
    for regime in REGIMES:
        eq = sp.Eq(ode.subs(omega**2, _OMEGA2[regime]), 0)
        sol = sp.dsolve(eq, x(t), ics={x(0): a0, x(t).diff(t).subs(t, 0): b0})
        a_sol[regime] = sol.rhs
        b_sol[regime] = sp.diff(sol.rhs, t)
    return Derivation(gam, om2, sp.sqrt(gam**2 / om2), ode, a_sol, b_sol)


def _trig_form(regime: str, kind: str) -> sp.Expr:
    """e^{-gamma t}[a0 C + (gamma a0 + b0) S] (kind 'a').

    Or e^{-gamma t}[b0 C - (omega^2 a0 + gamma b0) S] (kind 'b').
    """
    if regime == "over":
        C, S = sp.cosh(alpha * t), sp.sinh(alpha * t) / alpha
    elif regime == "under":
        C, S = sp.cos(alpha * t), sp.sin(alpha * t) / alpha
    else:
        C, S = sp.Integer(1), t
    w2 = _OMEGA2[regime]
    if kind == "a":
        return sp.exp(-gamma * t) * (a0 * C + (gamma * a0 + b0) * S)
    return sp.exp(-gamma * t) * (b0 * C - (w2 * a0 + gamma * b0) * S)


def _same(x: sp.Expr, y: sp.Expr) -> bool:
    return vanishes((x - y).rewrite(sp.exp), sp.expand, lambda e: sp.simplify(sp.expand_complex(e)))


# ----------------------------------------------------------------------------- numeric exports
@cache
def _numeric():
    d = derive()
    fns = {}
    for regime in REGIMES:
        args = (t, gamma, a0, b0) if regime == "critical" else (t, gamma, alpha, a0, b0)
        fns[regime] = (
            sp.lambdify(args, _trig_form(regime, "a"), "numpy"),
            sp.lambdify(args, _trig_form(regime, "b"), "numpy"),
        )
    fns["params"] = sp.lambdify(
        (sym.rho, sym.lr, sym.momentum, sym.weight_decay), (d.gamma, sp.sqrt(d.omega2)), "numpy"
    )
    return fns


def mode_parameters(rho, *, lr, momentum, weight_decay=0.0):
    """``(gamma, omega, zeta)`` of each mode from the derived expressions (broadcasts over rho)."""
    g, w = _numeric()["params"](np.asarray(rho, dtype=float), lr, momentum, weight_decay)
    w = np.asarray(w, dtype=float)
    g = np.broadcast_to(np.asarray(g, dtype=float), w.shape)
    return g, w, g / w


def mean(t, gamma, omega, a0, b0):
    """``(a(t), b(t))`` by the derived closed form of the regime that ``(gamma, omega)`` is in.

    The regime is decided exactly (``gamma > omega``, ``==``, ``<``); the over/under forms lose
    accuracy as ``alpha t -> 0`` (cancellation in ``sinh(alpha t)/alpha``), so use them away from
    critical damping. Arguments broadcast; t is SDE time.
    """
    t, g, w, x0, v0 = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (t, gamma, omega, a0, b0))
    )
    a, b = np.empty(t.shape), np.empty(t.shape)
    fns = _numeric()
    for regime, mask in (("over", g > w), ("critical", g == w), ("under", g < w)):
        if not mask.any():
            continue
        fa, fb = fns[regime]
        if regime == "critical":
            args = (t[mask], g[mask], x0[mask], v0[mask])
        else:
            al = np.sqrt(np.abs(g[mask] ** 2 - w[mask] ** 2))
            args = (t[mask], g[mask], al, x0[mask], v0[mask])
        a[mask], b[mask] = fa(*args), fb(*args)
    return a, b


def transition_matrix(t, gamma, omega):
    """``exp(-A_i t)`` of the mode block: its columns are (a, b) for unit initial data."""
    a1, b1 = mean(t, gamma, omega, 1.0, 0.0)
    a2, b2 = mean(t, gamma, omega, 0.0, 1.0)
    return np.stack([np.stack([a1, a2], -1), np.stack([b1, b2], -1)], -2)


# ----------------------------------------------------------------------------- claims
def _printed_gamma_omega() -> bool:
    # appendix F: gamma = (1-beta)/(lr(1+beta)), omega^2 = 2(rho+lambda)/(lr(1+beta)); after
    # eq. 13: zeta = (1-beta)/sqrt(2 lr (1+beta)(rho+lambda))
    d = derive()
    zeta_print = (1 - sym.momentum) / sp.sqrt(
        2 * sym.lr * (1 + sym.momentum) * (sym.rho + sym.weight_decay)
    )
    return (
        vanishes(d.gamma - (1 - sym.momentum) / (sym.lr * (1 + sym.momentum)))
        and vanishes(d.omega2 - 2 * (sym.rho + sym.weight_decay) / (sym.lr * (1 + sym.momentum)))
        and vanishes(d.zeta**2 - zeta_print**2)
    )


def _solves_ode() -> bool:
    d = derive()
    x = sp.Function("x")
    ok = True
    for regime in REGIMES:
        a = d.a[regime]
        res = d.ode.subs(omega**2, _OMEGA2[regime]).subs(x(t), a).doit()
        ok &= vanishes(res, sp.expand, sp.simplify)
        ok &= vanishes(a.subs(t, 0) - a0) and vanishes(d.b[regime].subs(t, 0) - b0)
    return bool(ok)


def _trig_forms() -> bool:
    d = derive()
    return all(
        _same(d.a[r], _trig_form(r, "a")) and _same(d.b[r], _trig_form(r, "b")) for r in REGIMES
    )


def _limits_agree() -> bool:
    d = derive()
    ok = True
    for side in ("over", "under"):
        for sol in (d.a, d.b):
            ok &= vanishes(sp.limit(sol[side], alpha, 0) - sol["critical"], sp.expand, sp.simplify)
    return bool(ok)


def _one_analytic_function() -> bool:
    # under(alpha) = over(i alpha), and sinh(alpha t)/alpha, cosh(alpha t) are even in alpha:
    # the solution is one analytic function of gamma^2 - omega^2 = +-alpha^2
    d = derive()
    al = sp.Symbol("al")
    over_i = d.a["over"].subs(alpha, al).subs(al, sp.I * alpha)
    even = sp.series(sp.sinh(al * t) / al, al, 0, 8).removeO()
    return _same(over_i, d.a["under"]) and vanishes(even - even.subs(al, -al))


def _matrix_exponential() -> bool:
    # exp(-A_i t) from sympy's Matrix.exp equals the columns (a, b) for unit initial data
    d = derive()
    ok = True
    for regime in REGIMES:
        M = sp.Matrix([[0, -1], [_OMEGA2[regime], 2 * gamma]])
        E = (-M * t).exp()
        cols = [
            [d.a[regime].subs({a0: 1, b0: 0}), d.a[regime].subs({a0: 0, b0: 1})],
            [d.b[regime].subs({a0: 1, b0: 0}), d.b[regime].subs({a0: 0, b0: 1})],
        ]
        ok &= all(_same(E[i, j], cols[i][j]) for i in range(2) for j in range(2))
    return bool(ok)


def _printed_critical() -> bool:
    # appendix F, critical case (legible):
    # e^{-S_i t} = e^{-gamma t}[[1 + gamma t, t], [-omega^2 t, 1 - gamma t]]
    d = derive()
    E = sp.exp(-gamma * t) * sp.Matrix([[1 + gamma * t, t], [-(gamma**2) * t, 1 - gamma * t]])
    got = sp.Matrix(
        [
            [d.a["critical"].subs({a0: 1, b0: 0}), d.a["critical"].subs({a0: 0, b0: 1})],
            [d.b["critical"].subs({a0: 1, b0: 0}), d.b["critical"].subs({a0: 0, b0: 1})],
        ]
    )
    return vanishes(got - E)


def verify() -> list[Outcome]:
    """Run every claim of this derivation."""
    return run_claims(
        NAME,
        [
            ("derivation completes (mode block -> ODE -> dsolve x3)", lambda: derive() is not None),
            ("gamma, omega^2, zeta agree with app. F / eq. 13 prints", _printed_gamma_omega),
            ("each regime's a(t) solves the ODE with a(0)=a0, a'(0)=b0", _solves_ode),
            ("a, b = e^{-gt}[a0 C + (g a0 + b0) S], [b0 C - (w^2 a0 + g b0) S]", _trig_forms),
            ("alpha -> 0 limits of over- and under-damped = critical", _limits_agree),
            ("under(alpha) = over(i alpha); C, S even in alpha", _one_analytic_function),
            ("exp(-A_i t) (Matrix.exp) = columns (a, b) of unit data", _matrix_exponential),
            ("critical exp(-S_i t) agrees with app. F as printed", _printed_critical),
        ],
    )
