r"""Symmetries, their gradient/Hessian constraints and broken conservation laws (seed 001).

A loss f has a symmetry psi if ``f(psi(theta, alpha)) = f(theta)`` for all alpha. :func:`derive`
builds the most general such f as ``f = F(u(theta))`` with F arbitrary and u a complete set of
invariants of the action, differentiating by the chain rule with the values of F's first and
second derivatives kept as free symbols (F_i, F_ij = F_ji):

* translation ``theta -> theta + alpha 1`` on R^3, u = (theta_1 - theta_3, theta_2 - theta_3);
* scale ``theta -> alpha theta`` on R^3, u = (theta_1/theta_3, theta_2/theta_3);
* rescale ``(theta_1, theta_2) -> (alpha theta_1, theta_2/alpha)`` on R^2 x R^2, u = the four
  products theta_1i theta_2j.

Differentiating the invariance at the identity gives ``<g, d_alpha psi> = 0`` and, once more in
theta, ``H d_alpha psi + (d_theta d_alpha psi)^T g = 0``. For the dynamics, the modified flow of
gradient descent with weight decay, ``theta' = -F~(theta)``, is derived by backward error
analysis (matching one GD step to the flow through O(lr^2)) for a generic 2-D vector field, and
projected onto each generator using the constraints; the heavy-ball modified equation is the
one derived in :mod:`theory.sgd_sde`. The exact discrete updates are projected the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import sympy as sp

from . import _symbols as sym
from . import sgd_sde
from ._claims import Outcome, run_claims, vanishes

__all__ = [
    "NAME",
    "Symmetry",
    "Derivation",
    "derive",
    "verify",
    "modified_decay_rate",
    "momentum_flow_coefficients",
    "translation_gd",
    "translation_flow",
    "scale_norm_gd",
    "heavy_ball_scale",
    "translation_heavy_ball",
]

NAME = "neural mechanics (001): symmetry, broken laws"

alpha = sp.Symbol("alpha", positive=True)
t = sym.t
lr, lam = sym.lr, sym.weight_decay


@dataclass(frozen=True)
class Symmetry:
    """One symmetry, with the gradient and Hessian of the general invariant loss."""

    x: sp.Matrix  # coordinates
    u: sp.Matrix  # invariants
    act: sp.Matrix  # psi(x, alpha)
    identity: sp.Expr  # the identity element of the group
    generator: sp.Matrix  # d_alpha psi at the identity
    g: sp.Matrix  # gradient of F(u(x))
    H: sp.Matrix  # Hessian of F(u(x))
    charge: sp.Expr  # the quantity conserved under gradient flow


@dataclass(frozen=True)
class Derivation:
    """Results of :func:`derive`."""

    symmetries: dict  # name -> Symmetry
    modified_flow: sp.Matrix  # F~ for the generic 2-D field (g, H symbols)
    flow_g: sp.Matrix  # the generic field g(theta) used there
    flow_theta: sp.Matrix
    F_tilde: Callable  # (g, H, theta) -> F~ as derived (coefficients read off)
    decay_rate: sp.Expr  # lambda~ = lambda (1 + lr lambda / 2)


def _general_invariant(x: sp.Matrix, u: sp.Matrix, prefix: str):
    """Gradient and Hessian of F(u(x)) with F's derivative values as free symbols."""
    r = len(u)
    Fi = sp.Matrix(sp.symbols(f"{prefix}_1:{r + 1}", real=True))
    Fij = sp.Matrix(
        r, r, lambda i, j: sp.Symbol(f"{prefix}_{min(i, j) + 1}{max(i, j) + 1}", real=True)
    )
    Ju = u.jacobian(x)
    g = Ju.T * Fi
    H = Ju.T * Fij * Ju + sum((Fi[i] * sp.hessian(u[i], x) for i in range(r)), sp.zeros(len(x)))
    return g, H


def _symmetry(x, u, act, identity, prefix, charge) -> Symmetry:
    g, H = _general_invariant(x, u, prefix)
    gen = act.diff(alpha).subs(alpha, identity)
    return Symmetry(x, u, act, identity, gen, g, H, charge)


@cache
def derive() -> Derivation:
    """Build the invariant losses and derive the modified flow (see module doc)."""
    x3 = sp.Matrix(sp.symbols("x1:4", real=True))
    y4 = sp.Matrix(sp.symbols("y1:5", real=True))  # (theta_1; theta_2) in R^2 x R^2
    one = sp.ones(3, 1)
    sy = {
        "translation": _symmetry(
            x3, sp.Matrix([x3[0] - x3[2], x3[1] - x3[2]]), x3 + alpha * one, 0, "T", (x3.T * one)[0]
        ),
        "scale": _symmetry(
            x3, sp.Matrix([x3[0] / x3[2], x3[1] / x3[2]]), alpha * x3, 1, "S", (x3.T * x3)[0]
        ),
        "rescale": _symmetry(
            y4,
            sp.Matrix([y4[0] * y4[2], y4[0] * y4[3], y4[1] * y4[2], y4[1] * y4[3]]),
            sp.Matrix([alpha * y4[0], alpha * y4[1], y4[2] / alpha, y4[3] / alpha]),
            1,
            "R",
            y4[0] ** 2 + y4[1] ** 2 - y4[2] ** 2 - y4[3] ** 2,
        ),
    }

    # backward error analysis of theta_{n+1} = theta_n - lr (g + lambda theta) in 2-D
    th = sp.Matrix(sp.symbols("q1 q2", real=True))
    gfun = sp.Matrix([sp.Function("g1")(*th), sp.Function("g2")(*th)])
    g_lam = gfun + lam * th
    c = sp.Matrix(sp.symbols("c1 c2"))  # unknown O(lr) correction: F~ = g_lam + lr c
    Ft = g_lam + lr * c
    # exact flow theta' = -F~ over time lr: theta - lr F~ + lr^2/2 (J_F~ F~) + O(lr^3)
    flow = th - lr * Ft + lr**2 / 2 * (Ft.jacobian(th) * Ft)
    gd = th - lr * g_lam
    match = (flow - gd).applyfunc(lambda e: sp.expand(e).coeff(lr, 2))
    sol = sp.solve(list(match), list(c), dict=True)
    if len(sol) != 1:
        raise ArithmeticError("no unique O(lr) correction to the flow")
    modified = (g_lam + lr * c.subs(sol[0])).applyfunc(sp.expand)
    # read F~ = a g + b theta + c H g + e H theta off the 2-D result: as a polynomial identity in
    # the values of g, its Jacobian and theta (each replaced by a free symbol)
    Hg = gfun.jacobian(th)
    lin = sp.Matrix(sp.symbols("k0:4"))
    cand = lin[0] * gfun + lin[1] * th + lin[2] * Hg * gfun + lin[3] * Hg * th
    jac = {Hg[i, j]: sp.Symbol(f"J{i}{j}") for i in range(2) for j in range(2)}
    val = {gfun[i]: sp.Symbol(f"G{i}") for i in range(2)}
    free = list(jac.values()) + list(val.values()) + list(th)
    residual = (modified - cand).applyfunc(lambda e: sp.expand(e).subs(jac).subs(val))
    eqs = [cf for e in residual for cf in sp.Poly(e, *free).coeffs()]
    coeffs = sp.solve(eqs, list(lin), dict=True)
    if len(coeffs) != 1 or set(coeffs[0]) != set(lin):
        raise ArithmeticError("F~ is not of the form a g + b theta + c H g + e H theta")
    k0, k1, k2, k3 = (sp.factor(coeffs[0][v]) for v in lin)

    def F_tilde(g, H, theta):
        return k0 * g + k1 * theta + k2 * H * g + k3 * H * theta

    decay = sp.factor(k1)
    return Derivation(sy, modified, gfun, th, F_tilde, decay)


# ----------------------------------------------------------------------------- numeric exports
def modified_decay_rate(*, lr, weight_decay):
    """lambda~ = lambda (1 + lr lambda / 2): the decay rate of the modified flow (derived)."""
    f = sp.lambdify((sym.lr, sym.weight_decay), derive().decay_rate, "numpy")
    return f(lr, weight_decay)


def momentum_flow_coefficients(kind, *, lr, momentum, weight_decay):
    """``(gamma, stiffness, gain)`` of the projected heavy-ball modified equation.

    ``Q'' + 2 gamma Q' + stiffness Q = gain K(t)``: from ``M Q'' + c Q' + lambda Q = 0``
    (translation, gain 0) and ``M Q'' + c Q' + 2 lambda Q = 2 M K`` (scale, rescale, gain 2,
    ``K = |theta_1'|^2 (- |theta_2'|^2)``), with the mass M and friction c of theory.sgd_sde.
    """
    sde = sgd_sde.derive()
    mass, friction = (
        float(e.subs({sym.lr: lr, sym.momentum: momentum})) for e in (sde.mass, sde.friction)
    )
    if kind == "translation":
        return friction / (2 * mass), weight_decay / mass, 0.0
    return friction / (2 * mass), 2 * weight_decay / mass, 2.0


def translation_gd(charge0, k, *, lr, weight_decay):
    """Exact GD: ``<theta_k, 1> = (1 - lr lambda)^k <theta_0, 1>`` (k = step index)."""
    return np.asarray(charge0, dtype=float) * (1.0 - lr * weight_decay) ** np.asarray(
        k, dtype=float
    )


def translation_flow(charge0, t, *, lr, weight_decay):
    """Modified flow: ``<theta(t), 1> = exp(-lambda~ t) <theta(0), 1>`` (t = lr k)."""
    rate = modified_decay_rate(lr=lr, weight_decay=weight_decay)
    return np.asarray(charge0, dtype=float) * np.exp(-rate * np.asarray(t, dtype=float))


def scale_norm_gd(norm0_sq, grad_norm_sq, *, lr, weight_decay):
    """Exact GD on a scale-invariant group.

    ``|theta_{n+1}|^2 = (1 - lr lambda)^2 |theta_n|^2 + lr^2 |g_n|^2``.

    ``grad_norm_sq[n] = |g(theta_n)|^2``; returns ``|theta_n|^2`` for n = 0 .. len(grad_norm_sq).
    The same recursion holds for ``|theta_1|^2 - |theta_2|^2`` under a rescale symmetry with
    ``|g_1|^2 - |g_2|^2`` in place of ``|g|^2``.
    """
    q = (1.0 - lr * weight_decay) ** 2
    out = [float(norm0_sq)]
    for gn in np.asarray(grad_norm_sq, dtype=float):
        out.append(q * out[-1] + lr**2 * gn)
    return np.array(out)


def heavy_ball_scale(norm0_sq, inner0, vel_norm_sq, *, lr, momentum, weight_decay):
    """Exact heavy ball on a scale-invariant group (the update of docs/conventions.md).

    With ``x_n = |theta_n|^2``, ``y_n = <theta_n, v_n>`` and ``vel_norm_sq[n] = |v_{n+1}|^2``:
    ``w = beta y_n - lambda x_n``, ``x_{n+1} = x_n + 2 lr w + lr^2 |v_{n+1}|^2``,
    ``y_{n+1} = w + lr |v_{n+1}|^2``. Returns the arrays (x_n), (y_n), n = 0 .. len(vel_norm_sq).
    """
    xs, ys = [float(norm0_sq)], [float(inner0)]
    for vn in np.asarray(vel_norm_sq, dtype=float):
        w = momentum * ys[-1] - weight_decay * xs[-1]
        xs.append(xs[-1] + 2 * lr * w + lr**2 * vn)
        ys.append(w + lr * vn)
    return np.array(xs), np.array(ys)


def translation_heavy_ball(charge0, velocity_charge0, n_steps, *, lr, momentum, weight_decay):
    """Exact heavy ball on the translation charge.

    ``s = <theta, 1>``, ``r = <v, 1>`` follow ``r' = beta r - lambda s``, ``s' = s + lr r'``.
    """
    s, r = [float(charge0)], float(velocity_charge0)
    for _ in range(int(n_steps)):
        r = momentum * r - weight_decay * s[-1]
        s.append(s[-1] + lr * r)
    return np.array(s)


# ----------------------------------------------------------------------------- claims
def _invariance() -> bool:
    d = derive()
    return all(
        vanishes(
            sy.u.subs(dict(zip(sy.x, sy.act)), simultaneous=True) - sy.u, sp.expand, sp.simplify
        )
        for sy in d.symmetries.values()
    )


def _gradient_constraints() -> bool:
    # translation <g, 1> = 0, scale <g, theta> = 0, rescale <g1, theta1> = <g2, theta2>
    d = derive()
    return all(vanishes((sy.g.T * sy.generator)[0]) for sy in d.symmetries.values())


def _hessian_constraints() -> bool:
    # H d_alpha psi + (d_theta d_alpha psi)^T g = 0: translation H 1 = 0, scale H theta = -g,
    # rescale H [theta1; -theta2] = -[g1; -g2]
    d = derive()
    ok = True
    for name, sy in d.symmetries.items():
        J = sy.generator.jacobian(sy.x)
        ok &= vanishes(sy.H * sy.generator + J.T * sy.g)
    tr, sc, rs = (d.symmetries[k] for k in ("translation", "scale", "rescale"))
    ok &= vanishes(tr.H * sp.ones(3, 1))
    ok &= vanishes(sc.H * sc.x + sc.g)
    flip = sp.diag(1, 1, -1, -1)
    ok &= vanishes(rs.H * flip * rs.x + flip * rs.g)
    return bool(ok)


def _printed_rescale_hessian() -> bool:
    # the slide prints "H(theta1 - theta2) + g1 - g2 = 0"; read with theta1 - theta2 the stacked
    # [theta1; theta2] weighted +1/-1 it is the derived constraint; read literally as the stacked
    # [theta1; theta2] (no sign) it fails
    rs = derive().symmetries["rescale"]
    literal = rs.H * rs.x + sp.Matrix([rs.g[0], rs.g[1], -rs.g[2], -rs.g[3]])
    return not vanishes(literal)


def _gradient_flow_conserves() -> bool:
    # d/dt Q(theta(t)) = <grad Q, -g> = 0 for Q = <theta, 1>, |theta|^2, |theta1|^2 - |theta2|^2
    d = derive()
    return all(
        vanishes((sp.Matrix([sy.charge]).jacobian(sy.x) * sy.g)[0]) for sy in d.symmetries.values()
    )


def _modified_flow() -> bool:
    # F~ = (1 + lr lambda/2) g + lambda (1 + lr lambda/2) theta + lr/2 (H g + lambda H theta),
    # i.e. g_l + (lr/2) H_l g_l with g_l = g + lambda theta, H_l = H + lambda I
    d = derive()
    g, th = d.flow_g, d.flow_theta
    H = g.jacobian(th)
    g_l, H_l = g + lam * th, H + lam * sp.eye(2)
    return vanishes(d.modified_flow - (g_l + lr / 2 * H_l * g_l)) and vanishes(
        d.decay_rate - lam * (1 + lr * lam / 2)
    )


def _printed_modified_flow_wrong() -> bool:
    # the slide prints F~ = (1 + lambda) g + lambda theta + lr/2 (H g + H theta): it differs
    d = derive()
    g, th = d.flow_g, d.flow_theta
    H = g.jacobian(th)
    printed = (1 + lam) * g + lam * th + lr / 2 * (H * g + H * th)
    return not vanishes(d.modified_flow - printed)


def _projected_odes() -> bool:
    # with the constraints: <F~, 1> = lambda~ <theta, 1>;
    # <F~, theta> = lambda~ |theta|^2 - lr/2 |g|^2;
    # <F~, [theta1; -theta2]> = lambda~ (|th1|^2 - |th2|^2) - lr/2 (|g1|^2 - |g2|^2)
    d = derive()
    lt = d.decay_rate
    ok = True
    for name, sy in d.symmetries.items():
        F = d.F_tilde(sy.g, sy.H, sy.x)
        proj = (F.T * sy.generator)[0]
        if name == "translation":
            target = lt * sy.charge
        elif name == "scale":
            target = lt * sy.charge - lr / 2 * (sy.g.T * sy.g)[0]
        else:
            gg = sy.g[0] ** 2 + sy.g[1] ** 2 - sy.g[2] ** 2 - sy.g[3] ** 2
            target = lt * sy.charge - lr / 2 * gg
        ok &= vanishes(proj - target)
    return bool(ok)


def _printed_scale_ode() -> bool:
    # d|theta|^2/dt = -2 <F~, theta> = -2 lambda~ |theta|^2 + lr |g|^2. The slide's
    # "-lambda |theta|^2 + (lr/2)|g|^2" is half of it (and drops lr lambda^2); its integrated
    # form e^{-2 lambda t}|theta0|^2 + lr int e^{-2 lambda (t - tau)} |g|^2 is the derived one
    # with lambda~ -> lambda: that form has X(0) = x0 and, by Leibniz's rule,
    # X' = -2 lambda~ X + lr G.
    d = derive()
    lt = d.decay_rate
    G, x0 = sp.Function("G"), sp.Symbol("x0")
    s = sp.Symbol("s", nonnegative=True)
    # the slide's form, with e^{-2 lambda~ (t - s)} = e^{-2 lambda~ t} e^{2 lambda~ s} taken out
    form = sp.exp(-2 * lt * t) * (x0 + lr * sp.Integral(sp.exp(2 * lt * s) * G(s), (s, 0, t)))
    ode = sp.diff(form, t).doit() - (-2 * lt * form + lr * G(t))
    solves = vanishes(sp.powsimp(sp.expand(ode))) and vanishes(form.subs(t, 0).doit() - x0)
    printed_rhs = -lam * x0 + lr / 2 * G(t)
    derived_rhs = -2 * lt * x0 + lr * G(t)
    return bool(solves) and not vanishes(printed_rhs - derived_rhs)


def _exact_gd_laws() -> bool:
    # exact GD theta' = theta - lr (g + lambda theta): <theta',1> = (1 - lr l)<theta,1>,
    # |theta'|^2 = (1 - lr l)^2 |theta|^2 + lr^2 |g|^2, and the rescale analogue; the modified
    # flow's per-step factor exp(-lambda~ lr) matches (1 - lr lambda) through O(lr^2),
    # gradient flow's not
    d = derive()
    ok = True
    for name, sy in d.symmetries.items():
        new = sy.x - lr * (sy.g + lam * sy.x)
        q_new = sy.charge.subs(dict(zip(sy.x, new)), simultaneous=True)
        if name == "translation":
            target = (1 - lr * lam) * sy.charge
        elif name == "scale":
            target = (1 - lr * lam) ** 2 * sy.charge + lr**2 * (sy.g.T * sy.g)[0]
        else:
            gg = sy.g[0] ** 2 + sy.g[1] ** 2 - sy.g[2] ** 2 - sy.g[3] ** 2
            target = (1 - lr * lam) ** 2 * sy.charge + lr**2 * gg
        ok &= vanishes(q_new - target)
    step = sp.series(sp.exp(-d.decay_rate * lr) - (1 - lr * lam), lr, 0, 3).removeO()
    plain = sp.series(sp.exp(-lam * lr) - (1 - lr * lam), lr, 0, 3).removeO()
    return bool(ok) and vanishes(step) and not vanishes(plain)


def _momentum_odes() -> bool:
    # heavy ball's modified equation m theta'' + c theta' = -(g + lambda theta) (theory.sgd_sde),
    # projected: translation m s'' + c s' + lambda s = 0; scale with x = |theta|^2:
    # m x'' + c x' + 2 lambda x = 2 m |theta'|^2; rescale: same with |th1'|^2 - |th2'|^2
    sde = sgd_sde.derive()
    m, c = sde.mass, sde.friction
    ok = True
    for name, sy in derive().symmetries.items():
        n = len(sy.x)
        path = sp.Matrix([sp.Function(f"p{i}")(t) for i in range(n)])
        on_path = dict(zip(sy.x, path))
        g = sy.g.subs(on_path)
        eom = m * path.diff(t, 2) + c * path.diff(t) + g + lam * path  # = 0 on solutions
        gen = sy.generator.subs(on_path)
        Q = sy.charge.subs(on_path)
        vel = path.diff(t)
        if name == "translation":
            lhs, rhs = m * Q.diff(t, 2) + c * Q.diff(t) + lam * Q, 0
            proj = (eom.T * gen)[0]
        else:
            flip = sp.eye(n) if name == "scale" else sp.diag(1, 1, -1, -1)
            lhs = m * Q.diff(t, 2) + c * Q.diff(t) + 2 * lam * Q
            rhs = 2 * m * (vel.T * flip * vel)[0]
            proj = 2 * (eom.T * gen)[0]
        # lhs - rhs is exactly the projection of the equation of motion (which vanishes)
        ok &= vanishes(lhs - rhs - proj)
    return bool(ok)


def _exact_heavy_ball() -> bool:
    # exact heavy ball on the scale group: with w = beta y - lambda x (y = <theta, v>),
    # x' = x + 2 lr w + lr^2 |v'|^2 and y' = w + lr |v'|^2, using only <g, theta> = 0
    sc = derive().symmetries["scale"]
    th = sc.x
    v = sp.Matrix(sp.symbols("v1:4", real=True))
    beta = sym.momentum
    v_new = beta * v - sc.g - lam * th
    th_new = th + lr * v_new
    x, y = sc.charge, (th.T * v)[0]
    w = beta * y - lam * x
    vv = (v_new.T * v_new)[0]
    return vanishes((th_new.T * th_new)[0] - (x + 2 * lr * w + lr**2 * vv)) and vanishes(
        (th_new.T * v_new)[0] - (w + lr * vv)
    )


def verify() -> list[Outcome]:
    """Run every claim of this derivation."""
    return run_claims(
        NAME,
        [
            (
                "derivation completes (invariant losses, modified flow)",
                lambda: derive() is not None,
            ),
            ("invariants are invariant under each action", _invariance),
            ("gradient constraints <g, d_a psi> = 0 (3 symmetries)", _gradient_constraints),
            ("Hessian: H1=0, H theta=-g, H[t1;-t2]=-[g1;-g2]", _hessian_constraints),
            ("rescale Hessian read literally (no sign flip) fails", _printed_rescale_hessian),
            ("charges conserved under gradient flow", _gradient_flow_conserves),
            ("modified flow F~ = g_l + (lr/2) H_l g_l; lambda~ = l(1+lr l/2)", _modified_flow),
            (
                "slide's F~ = (1+l)g + l theta + lr/2(Hg + H theta) differs",
                _printed_modified_flow_wrong,
            ),
            ("projected ODEs: decay lambda~, drive lr/2 |g|^2 terms", _projected_odes),
            ("d|th|^2/dt = -2 l~|th|^2 + lr|g|^2 (slide: half of it)", _printed_scale_ode),
            ("exact GD laws; modified flow matches them to O(lr^2)", _exact_gd_laws),
            ("momentum: driven damped oscillators (3 symmetries)", _momentum_odes),
            ("exact heavy-ball |theta|^2, <theta, v> recursions", _exact_heavy_ball),
        ],
    )
