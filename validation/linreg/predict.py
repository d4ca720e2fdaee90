r"""Every predicted number of the main job, from dynlab's two models of heavy-ball SGD.

For each quantity two predictions: the exact discrete recursion (``SGDPhaseSpace.discrete``;
exact for Gaussian gradient noise) and the SDE of seed 003 eq. 4 (``SGDPhaseSpace.ou``; O(lr)
modelling error). Everything is evaluated in the Hessian eigenbasis through dynlab's public
per-mode closed forms, so the CIFAR-10 problem (d = 3073) costs one eigendecomposition.

Signs of the SDE-vs-exact gaps (derived from the per-mode closed forms of
:func:`dynlab.modes.stationary_mode_covariances`, with ``k = rho + lambda``, ``p = 1 + beta``):

* ``Var v_i``: exact ``2 sigma_ii / (S (1 - beta) (2p - lr k_i))`` against the SDE's
  ``sigma_ii / (S p (1 - beta))``: the SDE is low by the factor ``1 - lr k_i / (2p)``. Hence
  the speed ``lr^2 tr Var v`` and the potential energy are low too (equipartition).
* ``Var theta_i``: the same factor ``1 - lr k_i / (2p)``: SDE low.
* ``Cov(theta_i, v_i)``: zero in the SDE, ``k_i Var(theta_i) / p > 0`` in the exact recursion
  (``v_k = (theta_k - theta_{k-1}) / lr`` is a backward difference, correlated with theta_k).
* the isotropy ratio ``Var theta_low / Var theta_1`` and the velocity shape
  ``Var v_low / Var v_1``: the exact value is the SDE's times
  ``(2p - lr k_1) / (2p - lr k_low) < 1``: SDE high.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dynlab import modes
from dynlab._linalg import sym
from dynlab.hyper import HeavyBall
from dynlab.observables import fit_power_law
from dynlab.ou_process import OUProcess
from dynlab.sgd import SGDPhaseSpace

__all__ = [
    "Pair",
    "SDE_SIGN",
    "phase_space_model",
    "stationary_predictions",
    "plane_cov",
    "mode_ou",
    "mean_projection",
    "fitted_exponent",
    "fitted_exponents",
]

#: Sign of (SDE - exact) that the theory fixes (module docstring), per stationary quantity.
SDE_SIGN = {
    "speed": -1,
    "potential": -1,
    "var_theta_1": -1,
    "var_theta_low": -1,
    "var_v_1": -1,
    "var_v_low": -1,
    "cov_theta_v_1": -1,
    "isotropy": +1,
    "velocity_shape": +1,
}


@dataclass(frozen=True)
class Pair:
    """A quantity predicted by the exact recursion and by the SDE."""

    exact: float
    sde: float

    @property
    def gap(self) -> float:
        """Relative SDE-vs-exact gap ``(sde - exact) / |exact|``."""
        return (self.sde - self.exact) / abs(self.exact) if self.exact else float("nan")


def phase_space_model(setup, hyper: HeavyBall) -> SGDPhaseSpace:
    """``SGDPhaseSpace`` of the setup's problem with minibatch noise ``Sigma (N-S)/(N-1) / S``.

    ``hyper`` is the optimizer (one :class:`~dynlab.hyper.HeavyBall` per setting). Raises
    ``StabilityRegionError`` when lr is beyond the stability limit.
    """
    return SGDPhaseSpace(
        setup.problem.H,
        setup.problem.b,
        hyper=hyper,
        noise_cov=setup.noise_cov(hyper.batch_size),
    )


def _sigma(sgd: SGDPhaseSpace, i: int, j: int) -> float:
    return float(sgd.q[:, i] @ sgd.noise_cov @ sgd.q[:, j])


def plane_cov(sgd: SGDPhaseSpace, i: int, j: int, *, exact: bool, plane: str) -> np.ndarray:
    """Stationary 2 x 2 covariance of two coordinates in the Hessian eigenbasis.

    ``plane="theta"``: ``(<theta, q_i>, <theta, q_j>)``; ``"v"``: the velocities;
    ``"phase"``: ``(<theta, q_i>, <v, q_i>)`` (j ignored). From
    :func:`dynlab.modes.stationary_mode_covariances` (exact Stein solution or SDE Lyapunov
    solution / kappa) with ``sigma_ij = q_i^T Sigma q_j``.
    """
    if plane == "phase":
        tt, tv, vt, vv = modes.stationary_mode_covariances(
            sgd.rho[i], sgd.rho[i], _sigma(sgd, i, i), exact=exact, hyper=sgd.hyper
        )
        return np.array([[tt, tv], [vt, vv]], dtype=np.float64)
    idx = 0 if plane == "theta" else 3
    C = np.empty((2, 2))
    for a, ia in enumerate((i, j)):
        for b, ib in enumerate((i, j)):
            blocks = modes.stationary_mode_covariances(
                sgd.rho[ia], sgd.rho[ib], _sigma(sgd, ia, ib), exact=exact, hyper=sgd.hyper
            )
            C[a, b] = blocks[idx]
    return sym(C)


def mode_ou(sgd: SGDPhaseSpace, i: int) -> OUProcess:
    r"""The SDE (seed 003 eq. 4) on the phase-space plane ``(<theta, q_i>, <v, q_i>)`` of mode i.

    In the Hessian eigenbasis the drift A maps mode i to itself, so the plane's coordinates
    ``a = <theta - mu, q_i>``, ``b = <v, q_i>`` obey the damped oscillator of eq. 5,
    ``da = b dt``, ``db = -(omega_i^2 a + 2 gamma b) dt + noise``, with the diffusion entry
    ``2 gamma sigma_ii`` (``c2 Sigma`` of eq. 4 projected). The stationary marginal law and
    probability current of the full process on this plane are exactly those of this 2-D OU
    process, even when Sigma does not commute with H: both depend only on mode i's entries of
    the Lyapunov solution B, and those involve ``sigma_ii`` alone.
    """
    g, w = sgd.modes.gamma, sgd.modes.omega[i]
    A = np.array([[0.0, -1.0], [w * w, 2.0 * g]])
    D = np.array([[0.0, 0.0], [0.0, 2.0 * g * _sigma(sgd, i, i)]])
    return OUProcess(A, D, kappa=sgd.kappa, mu=np.array([float(sgd.mu @ sgd.q[:, i]), 0.0]))


def stationary_predictions(sgd: SGDPhaseSpace, low: int) -> dict[str, Pair]:
    """Exact and SDE predictions of the stationary quantities measured by the job.

    ``speed`` E||theta_{k+1} - theta_k||^2 (eq. 12); ``potential`` E[L(theta)] - L(mu) (seed 003
    app. G.3; equal to the kinetic energy ``lr (1 + beta) / 4 E||v||^2``); ``var_theta_1`` etc.:
    variances of ``<theta, q_i>`` and ``<v, q_i>`` for i = 1 and the low mode, and
    ``cov_theta_v_1``; ``isotropy`` = Var theta_low / Var theta_1 (the modified loss of eq. 10
    predicts about 1, the training loss rho_1 / rho_low) and ``velocity_shape`` =
    Var v_low / Var v_1 (about rho_low / rho_1: the inverse-Hessian shape of Psi_v, eq. 46).
    """
    out = {}
    ex = {e: plane_cov(sgd, 0, 0, exact=e, plane="phase") for e in (True, False)}
    lo = {e: plane_cov(sgd, low, low, exact=e, plane="phase") for e in (True, False)}
    out["speed"] = Pair(sgd.speed(exact=True), sgd.speed(exact=False))
    out["potential"] = Pair(
        sgd.equipartition(exact=True).potential, sgd.equipartition(exact=False).potential
    )
    out["var_theta_1"] = Pair(ex[True][0, 0], ex[False][0, 0])
    out["var_theta_low"] = Pair(lo[True][0, 0], lo[False][0, 0])
    out["var_v_1"] = Pair(ex[True][1, 1], ex[False][1, 1])
    out["var_v_low"] = Pair(lo[True][1, 1], lo[False][1, 1])
    out["cov_theta_v_1"] = Pair(ex[True][0, 1], ex[False][0, 1])
    out["isotropy"] = Pair(lo[True][0, 0] / ex[True][0, 0], lo[False][0, 0] / ex[False][0, 0])
    out["velocity_shape"] = Pair(lo[True][1, 1] / ex[True][1, 1], lo[False][1, 1] / ex[False][1, 1])
    return out


def mean_projection(sgd: SGDPhaseSpace, steps, theta0, i: int = 0) -> dict[str, np.ndarray]:
    """``E<theta_k, q_i>`` and ``E<v_k, q_i>`` from ``(theta0, v = 0)``: exact and SDE (eq. 5)."""
    out = {}
    for name, exact in (("exact", True), ("sde", False)):
        th, v = sgd.mean(steps=np.asarray(steps), theta0=theta0, exact=exact)
        out[f"theta_{name}"] = th @ sgd.q[:, i]
        out[f"v_{name}"] = v @ sgd.q[:, i]
    return out


def fitted_exponent(steps, curve) -> float:
    """Exponent c of ``curve ~ k^c`` fitted on the last 2/3 of ``steps`` (seed 003 app. H.2).

    Applied to a predicted ``E||Delta_k||^2`` it is the predicted value of the exponent the
    simulation's fit returns (the same fit on the same window).
    """
    return float(
        fit_power_law(
            np.asarray(steps, dtype=np.float64), np.asarray(curve), window="last_two_thirds"
        ).c
    )


def fitted_exponents(steps, curves) -> np.ndarray:
    """:func:`fitted_exponent` of every column of ``curves`` (shape ``(len(steps), G)``) at once.

    The window is :func:`~dynlab.observables.fit_power_law`'s (fitted once, on the first column);
    the slopes are numpy's least-squares lines through the log-log points of all columns in one
    ``polyfit`` (equal to the one-by-one fits to rounding). The jackknife of the main job fits
    one curve per path left out: one call here instead of hundreds.
    """
    steps = np.asarray(steps, dtype=np.float64)
    curves = np.asarray(curves, dtype=np.float64)
    first = fit_power_law(steps, curves[:, 0], window="last_two_thirds")
    window = (steps >= first.k_lo) & (steps <= first.k_hi)
    return np.polyfit(np.log10(steps[window]), np.log10(curves[window]), 1)[0]
