r"""Instantaneous speed and global displacement at stationarity (seed 003 eqs. 12-13, app. G.1-G.2).

Per Hessian eigenmode (the modes are independent when Sigma commutes with H), with the
stationary law of :mod:`theory.ou_mode` and the transition matrix ``exp(-A_i t)`` whose columns
are the oscillator solutions of :mod:`theory.oscillator`, :func:`derive` forms

* the speed ``E||theta_{k+1} - theta_k||^2 = lr^2 E||v||^2 = lr^2 B_vv / kappa`` (app. G.1);
* the stationary cross-covariance ``Cov(x(t + tau), x(t)) = exp(-A_i tau) B / kappa`` and its
  velocity entry ``C_vv(tau)``;
* the displacement in trace form
  ``E (theta(t) - theta(0))^2 = (2 / kappa)(B_tt - (exp(-A_i t) B)_tt)``,

and shows the trace form equals eq. 13's velocity-correlation form ``2 int_0^t (t - tau) C_vv``
(both vanish with their first derivative at t = 0 and have second derivative ``2 C_vv(t)``).
For the exact recursion (:mod:`theory.discrete`) the step-sum form of eq. 13,
``lr^2 [k P_vv + 2 sum_{m=1}^{k-1} (k - m) (F^m P)_vv]``, equals ``2 P_tt - 2 (F^k P)_tt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import mpmath
import numpy as np
import sympy as sp

from . import _symbols as sym
from . import discrete, oscillator, ou_mode
from ._claims import Outcome, run_claims, vanishes
from ._symbols import t

__all__ = [
    "NAME",
    "Derivation",
    "derive",
    "verify",
    "speed",
    "velocity_autocorrelation",
    "displacement",
    "diffusion_exponent",
    "displacement_eq13",
]

NAME = "speed & displacement (003 eq. 12-13, G.1-2)"

kappa = sp.Symbol("kappa", positive=True)
tau = sp.Symbol("tau", nonnegative=True)
_STEPS = 6  # the discrete step-sum identity is checked for k = 1 .. _STEPS


@dataclass(frozen=True)
class Derivation:
    """Results of :func:`derive`; regime-keyed entries are in gamma, alpha, s, kappa, t."""

    speed: sp.Expr  # per mode, in s, lr, momentum, batch_size
    B: dict  # regime -> stationary B written with omega^2 = gamma^2 -+ alpha^2
    C_vv: dict  # regime -> C_vv(t)
    displacement: dict  # regime -> trace form
    step_sum: sp.Expr  # sum_{m=1}^{k-1} (k - m) r^m, r != 1 (sympy summation), in r, k
    exponentials: (
        dict  # regime -> [(weight, rate, power)]: C_vv(tau)/C_vv(0) = sum w tau^p e^{x tau}
    )
    eq13: dict  # regime -> lr^2 [k C(0) + 2 sum_{m<k} (k - m) C(lr m)] in closed form


def _expm(regime: str, at: sp.Expr) -> sp.Matrix:
    o = oscillator.derive()
    a, b = o.a[regime], o.b[regime]
    unit = ({oscillator.a0: 1, oscillator.b0: 0}, {oscillator.a0: 0, oscillator.b0: 1})
    return sp.Matrix([[a.subs(unit[0]), a.subs(unit[1])], [b.subs(unit[0]), b.subs(unit[1])]]).subs(
        t, at
    )


@cache
def derive() -> Derivation:
    """Form speed, C_vv and the trace-form displacement per regime (see module doc)."""
    m = ou_mode.derive()
    o = oscillator.derive()
    speed = sp.factor(sym.lr**2 * m.B[1, 1] / m.kappa)
    # write B with omega^2 = c1 (rho + lambda): rho + lambda = omega^2 / c1
    rho_of_omega2 = sp.solve(sp.Eq(o.omega2, sp.Symbol("w2")), sym.rho)[0]
    B, C, Dis = {}, {}, {}
    for regime in oscillator.REGIMES:
        w2 = oscillator._OMEGA2[regime]
        Br = m.B.subs(sym.rho, rho_of_omega2.subs(sp.Symbol("w2"), w2)).applyfunc(sp.factor)
        E = _expm(regime, t)
        B[regime] = Br
        C[regime] = (E * Br)[1, 1] / kappa
        Dis[regime] = 2 / kappa * (Br[0, 0] - (E * Br)[0, 0])
    # eq. 13 as the paper writes it: the SDE velocity correlation summed over whole steps,
    # lr^2 [k C(0) + 2 sum_{m=1}^{k-1} (k - m) C(lr m)], summed in closed form by sympy
    m_, k_ = sp.symbols("m k", integer=True, positive=True)
    total = sp.summation((k_ - m_) * r_sym**m_, (m_, 1, k_ - 1))
    step_sum = sp.factor(
        total.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[-1][0])
    )
    g, a, I = oscillator.gamma, oscillator.alpha, sp.I
    expos = {  # C_vv(tau) / C_vv(0) = sum_j w_j tau^p_j e^{x_j tau}: checked by a claim
        "over": [((1 - g / a) / 2, -g + a, 0), ((1 + g / a) / 2, -g - a, 0)],
        "under": [((1 + I * g / a) / 2, -g + I * a, 0), ((1 - I * g / a) / 2, -g - I * a, 0)],
        "critical": [(sp.Integer(1), -g, 0), (-g, -g, 1)],
    }
    eq13 = {}
    for regime, terms in expos.items():
        acc = k_
        for w, x, pw in terms:
            # sum (k - m) (lr m)^p r^m = lr^p (r d/dr)^p step_sum at r = e^{x lr},
            # with r^k = e^{x lr k}
            ssum = step_sum
            for _ in range(pw):
                ssum = r_sym * sp.diff(ssum, r_sym)
            acc += (
                2
                * w
                * sym.lr**pw
                * ssum.subs(r_sym**k_, sp.exp(x * sym.lr * k_)).subs(r_sym, sp.exp(x * sym.lr))
            )
        eq13[regime] = sym.lr**2 * C[regime].subs(t, 0) * acc
    return Derivation(speed, B, C, Dis, step_sum, expos, eq13)


r_sym = sp.Symbol("r", positive=True)


# ----------------------------------------------------------------------------- numeric exports
def speed(rho, sigma2, *, lr, momentum, weight_decay=0.0, batch_size=1):
    """SDE stationary speed ``lr^2 tr Var v`` summed over modes (seed 003 eq. 12)."""
    del weight_decay  # Var v = s / kappa does not depend on it (a verified claim)
    f = sp.lambdify((sym.s, sym.lr, sym.momentum, sym.batch_size), derive().speed, "numpy")
    rho, sigma2 = np.broadcast_arrays(np.asarray(rho, dtype=float), np.asarray(sigma2, dtype=float))
    return float(np.sum(f(sigma2, lr, momentum, batch_size)))


@cache
def _numeric(module="numpy"):
    d = derive()
    fns = {}
    for regime in oscillator.REGIMES:
        args = (
            [t, oscillator.gamma]
            + ([] if regime == "critical" else [oscillator.alpha])
            + [sym.s, kappa]
        )
        D = d.displacement[regime]
        fns[regime] = tuple(sp.lambdify(args, e, module) for e in (D, D.diff(t), d.C_vv[regime]))
    return fns


def displacement_eq13(k, rho, sigma2, *, lr, momentum, weight_decay=0.0, batch_size=1, dps=None):
    """Seed 003 eq. 13 as printed, in closed form.

    ``lr^2 sum_l [k C_l(0) + 2 sum_{m<k} (k - m) C_l(lr m)]``.

    ``k`` is one step count; evaluated in mpmath with ``dps`` digits when given (the closed form
    cancels when ``lr |x| k`` is small), else in float64.
    """
    d = derive()
    g, w, _ = oscillator.mode_parameters(rho, lr=lr, momentum=momentum, weight_decay=weight_decay)
    s = np.broadcast_to(np.asarray(sigma2, dtype=float), np.shape(w))
    kap = batch_size * (1.0 - momentum**2)
    k_ = sp.Symbol("k", integer=True, positive=True)
    total = 0.0
    for gi, wi, si in zip(np.ravel(g), np.ravel(w), np.ravel(s)):
        regime = "over" if gi > wi else ("critical" if gi == wi else "under")
        subs = {oscillator.gamma: gi, sym.lr: lr, sym.s: si, kappa: kap, k_: int(k)}
        if regime != "critical":
            subs[oscillator.alpha] = float(np.sqrt(abs(gi * gi - wi * wi)))
        expr = d.eq13[regime]
        if dps is None:
            total += float(sp.re(expr.evalf(subs=subs)))
        else:
            total += sp.re(
                expr.evalf(
                    dps,
                    subs={
                        key: sp.Float(v, dps) if not isinstance(v, int) else v
                        for key, v in subs.items()
                    },
                )
            )
    return total


def _per_mode(which, t, rho, sigma2, lr, momentum, weight_decay, batch_size, dps=None):
    """Sum over modes of the derived regime expression ``which`` at SDE time t.

    ``which``: 0 for D, 1 for D', 2 for C_vv.

    With ``dps`` the expressions are evaluated in mpmath at ``dps`` digits on the float64 mode
    parameters (alpha from ``|gamma^2 - omega^2|`` in mpmath), then rounded once.
    """
    g, w, _ = oscillator.mode_parameters(rho, lr=lr, momentum=momentum, weight_decay=weight_decay)
    t = np.asarray(t, dtype=float)[..., None]
    t, g, w, s = np.broadcast_arrays(t, g, w, np.asarray(sigma2, dtype=float))
    kap = batch_size * (1.0 - momentum**2)
    if dps is not None:
        return _per_mode_mpmath(which, t, g, w, s, kap, dps)
    out = np.zeros(t.shape)
    fns = _numeric()
    for regime, mask in (("over", g > w), ("critical", g == w), ("under", g < w)):
        if not mask.any():
            continue
        f = fns[regime][which]
        if regime == "critical":
            out[mask] = f(t[mask], g[mask], s[mask], kap)
        else:
            al = np.sqrt(np.abs(g[mask] ** 2 - w[mask] ** 2))
            out[mask] = f(t[mask], g[mask], al, s[mask], kap)
    return out.sum(axis=-1)


def _per_mode_mpmath(which, t, g, w, s, kap, dps):
    fns = _numeric("mpmath")
    out = np.zeros(t.shape[:-1])
    with mpmath.workdps(dps):
        for idx in np.ndindex(out.shape):
            total = mpmath.mpf(0)
            for ti, gi, wi, si in zip(t[idx], g[idx], w[idx], s[idx]):
                ti, gi, wi, si = (mpmath.mpf(float(x)) for x in (ti, gi, wi, si))
                x2 = gi * gi - wi * wi
                if x2 == 0:
                    total += fns["critical"][which](ti, gi, si, mpmath.mpf(kap))
                else:
                    regime = "over" if x2 > 0 else "under"
                    al = mpmath.sqrt(abs(x2))
                    total += mpmath.re(fns[regime][which](ti, gi, al, si, mpmath.mpf(kap)))
            out[idx] = float(total)
    return out


def velocity_autocorrelation(t, rho, sigma2, *, lr, momentum, weight_decay=0.0, batch_size=1):
    """SDE stationary ``sum_i C_vv,i(t)`` (t in SDE time), modes ``rho``, variances sigma2."""
    return _per_mode(2, t, rho, sigma2, lr, momentum, weight_decay, batch_size)


def displacement(t, rho, sigma2, *, lr, momentum, weight_decay=0.0, batch_size=1, dps=None):
    """SDE ``E||theta(t) - theta(0)||^2`` from stationarity, trace form, t in SDE time (= lr k).

    Evaluated by the derived closed form of each mode's regime; the over/under-damped forms
    lose digits to cancellation near critical damping (``alpha t -> 0``) and as ``t -> 0``,
    in float64 up to ``eps / (alpha t)^2`` relative. With ``dps`` they are evaluated in mpmath
    at that many digits (enough when ``dps`` exceeds 16 plus the digits cancelled).
    """
    return _per_mode(0, t, rho, sigma2, lr, momentum, weight_decay, batch_size, dps)


def diffusion_exponent(t, rho, sigma2, *, lr, momentum, weight_decay=0.0, batch_size=1, dps=None):
    """``d log D / d log t = t D'(t) / D(t)`` with the derived D and its t-derivative.

    ``dps``: evaluate D and D' in mpmath at that many digits, as in :func:`displacement`.
    """
    args = (rho, sigma2, lr, momentum, weight_decay, batch_size, dps)
    t = np.asarray(t, dtype=float)
    return t * _per_mode(1, t, *args) / _per_mode(0, t, *args)


# ----------------------------------------------------------------------------- claims
def _eq12() -> bool:
    # seed 003 eq. 12: lr^2 sigma^2 tr(H) / (S (1 - beta^2)); per mode s = sigma^2 rho
    sigma2 = sp.Symbol("sigma2", positive=True)
    printed = sym.lr**2 * sigma2 * sym.rho / (sym.batch_size * (1 - sym.momentum**2))
    return vanishes(derive().speed.subs(sym.s, sigma2 * sym.rho) - printed)


def _trace_equals_velocity_form() -> bool:
    d = derive()
    C = sp.Function("C")
    vel = 2 * sp.Integral((t - tau) * C(tau), (tau, 0, t))
    ok = True
    for regime in oscillator.REGIMES:
        Dr = d.displacement[regime]
        # the velocity form's value, slope and curvature, by Leibniz's rule
        v0, v1, v2 = (vel.diff(t, n).doit() for n in (0, 1, 2))
        ok &= vanishes(v0.subs(t, 0).doit()) and vanishes(v1.subs(t, 0).doit())
        ok &= vanishes(v2 - 2 * C(t))
        ok &= vanishes(Dr.subs(t, 0)) and vanishes(Dr.diff(t).subs(t, 0))
        ok &= vanishes((Dr.diff(t, 2) - 2 * d.C_vv[regime]).rewrite(sp.exp), sp.expand, sp.simplify)
    return bool(ok)


def _printed_C() -> bool:
    # appendix G.2: C_l = e^{-g tau}(cosh a tau - (g/a) sinh a tau), e^{-g tau}(1 - g tau),
    # e^{-g tau}(cos a tau - (g/a) sin a tau), normalized by C_vv(0); tau is SDE time lr k
    d = derive()
    g, a = oscillator.gamma, oscillator.alpha
    printed = {
        "over": sp.exp(-g * t) * (sp.cosh(a * t) - g / a * sp.sinh(a * t)),
        "critical": sp.exp(-g * t) * (1 - g * t),
        "under": sp.exp(-g * t) * (sp.cos(a * t) - g / a * sp.sin(a * t)),
    }
    return all(
        vanishes(
            (d.C_vv[r] / d.C_vv[r].subs(t, 0) - printed[r]).rewrite(sp.exp), sp.expand, sp.simplify
        )
        for r in oscillator.REGIMES
    )


def _limits() -> bool:
    # ballistic start: D = t^2 tr Var v + O(t^3) (exponent 2); saturation at 2 Var theta
    d = derive()
    delta = sp.Symbol("delta", positive=True)  # over-damped needs alpha < gamma
    ok = True
    for regime in oscillator.REGIMES:
        Dr, Br = d.displacement[regime], d.B[regime]
        lead = sp.series(Dr, t, 0, 3).removeO()
        ok &= vanishes(lead - t**2 * Br[1, 1] / kappa, sp.expand, sp.simplify)
        far = Dr.subs(oscillator.gamma, oscillator.alpha + delta) if regime == "over" else Dr
        sat = 2 * Br[0, 0] / kappa
        sat = sat.subs(oscillator.gamma, oscillator.alpha + delta) if regime == "over" else sat
        ok &= vanishes(sp.limit(far, t, sp.oo) - sat, sp.expand, sp.simplify)
    return bool(ok)


def _discrete_step_sum() -> bool:
    d = discrete.derive()
    F, P = d.F, d.P
    ok = True
    Fm = [sp.eye(2)]
    for _ in range(_STEPS):
        Fm.append((Fm[-1] * F).applyfunc(sp.expand))
    for k in range(1, _STEPS + 1):
        trace_form = 2 * P[0, 0] - 2 * (Fm[k] * P)[0, 0]
        step_sum = sym.lr**2 * (
            k * P[1, 1] + 2 * sum((k - j) * (Fm[j] * P)[1, 1] for j in range(1, k))
        )
        ok &= vanishes(sp.together(trace_form - step_sum), sp.cancel)
    return bool(ok)


def _exponentials() -> bool:
    d = derive()
    return all(
        vanishes(
            (
                d.C_vv[r] / d.C_vv[r].subs(t, 0)
                - sum(w * t**p * sp.exp(x * t) for w, x, p in d.exponentials[r])
            ).rewrite(sp.exp),
            sp.expand,
            lambda e: sp.simplify(sp.expand_complex(e)),
        )
        for r in oscillator.REGIMES
    )


def _eq13_expansion() -> bool:
    # for one exponential correlation e^{x tau} at fixed t = lr k: the step sum minus the
    # trace form is lr^2 (c(0) - c(t) - t c'(0)) / 6 + O(lr^3) (Euler-Maclaurin's kink term);
    # for C_vv, c'(0) = -2 gamma c(0), so eq. 13 - trace = lr^2 (C(0) (1 + 2 gamma t) - C(t)) / 6
    d = derive()
    x, tt = sp.Symbol("x"), sp.Symbol("T", positive=True)
    k_ = sp.Symbol("k", integer=True, positive=True)
    lr = sym.lr
    step = lr**2 * (k_ + 2 * d.step_sum.subs(r_sym**k_, sp.exp(x * tt)).subs(r_sym, sp.exp(x * lr)))
    step = step.subs(k_, tt / lr)
    trace = 2 * (sp.exp(x * tt) - 1 - x * tt) / x**2  # 2 int_0^T (T - tau) e^{x tau} d tau
    gap = sp.series(step - trace, lr, 0, 3).removeO()
    slope = sp.diff(sp.exp(x * t), t).subs(t, 0)
    first = sp.diff(d.C_vv["over"], t).subs(t, 0) / d.C_vv["over"].subs(t, 0)
    return vanishes(
        gap - lr**2 * (1 - sp.exp(x * tt) - tt * slope) / 6, sp.expand, sp.simplify
    ) and vanishes(first + 2 * oscillator.gamma, sp.expand, sp.simplify)


def verify() -> list[Outcome]:
    """Run every claim of this derivation."""
    return run_claims(
        NAME,
        [
            ("derivation completes (speed, C_vv, trace form x3)", lambda: derive() is not None),
            ("speed lr^2 Var v agrees with eq. 12 as printed", _eq12),
            (
                "trace form = 2 int (t - tau) C_vv (eq. 13 form), 3 regimes",
                _trace_equals_velocity_form,
            ),
            ("C_vv(tau)/C_vv(0) = app. G.2's C_l, tau in SDE time", _printed_C),
            ("D ~ t^2 tr Var v as t -> 0; D -> 2 Var theta as t -> oo", _limits),
            (f"exact recursion: step-sum form = trace form, k <= {_STEPS}", _discrete_step_sum),
            ("C_vv/C_vv(0) = sum of weighted exponentials (3 regimes)", _exponentials),
            ("eq. 13 sum = trace + lr^2 (C(0)(1 + 2 g t) - C(t))/6 + O(lr^3)", _eq13_expansion),
        ],
    )
