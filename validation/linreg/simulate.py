"""Ensembles of the real heavy-ball optimizer, run by the integrator zoo (dynlab.integrators).

Two noise models per setting, never mixed:

* ``"gaussian"`` -- :class:`~dynlab.models.QuadraticProblem` with the model's gradient noise
  ``N(0, Sigma_S / S)``, ``Sigma_S = Sigma (N - S) / (N - 1)``: the process of
  ``SGDPhaseSpace(...).discrete`` itself, so the exact predictions are exact for it.
* ``"minibatch"`` -- the :class:`~dynlab.models.LinearRegressionProblem` itself: batches of S
  rows drawn without replacement and reshuffled every epoch. The noise is then multiplicative
  (Sigma depends on theta) and the batches of one epoch are dependent: the predictions are
  approximations whose gap is measured.

Stationary ensembles start at the exact stationary law ``N([mu; 0], P)`` of the recursion
(the minibatch ensembles then burn in, since their own stationary law differs slightly);
transient ensembles start at a fixed ``theta0`` with zero velocity.
"""

from __future__ import annotations

import numpy as np

from dynlab._linalg import psd_factor
from dynlab.integrators import Recording, run
from dynlab.sgd import SGDPhaseSpace

__all__ = ["KINDS", "seed_for", "stationary_draws", "stationary_run", "transient_run"]

#: The two simulations, in report order.
KINDS = ("gaussian", "minibatch")


def seed_for(seed: int, *keys: int) -> np.random.SeedSequence:
    """An independent random stream for the run labelled by integer ``keys``."""
    return np.random.SeedSequence(seed, spawn_key=tuple(int(k) for k in keys))


def stationary_draws(sgd: SGDPhaseSpace, n_paths: int, seed) -> tuple[np.ndarray, np.ndarray]:
    """``n_paths`` independent draws of ``(theta, v)`` from the exact stationary law N([mu; 0], P).

    P is the Stein solution ``sgd.discrete.stationary_cov()``; its Cholesky factor colours the
    normals (an eigenvalue square root when P is singular to rounding).
    """
    P = sgd.discrete.stationary_cov()
    try:
        L = np.linalg.cholesky(P)
    except np.linalg.LinAlgError:
        L = psd_factor(P)
    z = np.random.default_rng(seed).standard_normal((n_paths, P.shape[0])) @ L.T
    d = sgd.d
    return sgd.mu + z[:, :d], z[:, d:]


def _problem(setup, kind: str, batch_size: int):
    if kind == "gaussian":
        return setup.gaussian_problem(batch_size)
    if kind == "minibatch":
        return setup.problem
    raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")


def _heavy_ball(problem, sgd, *, n_paths, n_steps, seed, theta0, v0, record):
    return run(
        "heavy_ball",
        problem,
        n_paths=n_paths,
        n_steps=n_steps,
        record=record,
        seed=seed,
        theta0=theta0,
        v0=v0,
        hyper=sgd.hyper,
    )


def stationary_run(
    setup,
    sgd: SGDPhaseSpace,
    kind: str,
    *,
    n_paths: int,
    n_steps: int,
    burn_in: int,
    basis,
    seed: int,
    keys: tuple,
):
    """A stationary ensemble recorded at every step (loss, ||delta||^2, ||Delta||^2, projections).

    ``Delta2`` in the record is measured from the first recorded state's predecessor: the
    stationary draw (gaussian) or the end of the burn-in (minibatch, ``burn_in`` steps).
    """
    problem = _problem(setup, kind, sgd.batch_size)
    theta0, v0 = stationary_draws(sgd, n_paths, seed_for(seed, *keys, 0))
    if kind == "minibatch" and burn_in > 0:
        warm = _heavy_ball(
            problem,
            sgd,
            n_paths=n_paths,
            n_steps=burn_in,
            seed=seed_for(seed, *keys, 1),
            theta0=theta0,
            v0=v0,
            record=Recording(every=burn_in),
        )
        theta0, v0 = warm.theta, warm.v
    return _heavy_ball(
        problem,
        sgd,
        n_paths=n_paths,
        n_steps=n_steps,
        seed=seed_for(seed, *keys, 2),
        theta0=theta0,
        v0=v0,
        record=Recording(every=1, basis=basis),
    )


def transient_run(
    setup,
    sgd: SGDPhaseSpace,
    kind: str,
    *,
    n_paths: int,
    n_steps: int,
    basis,
    seed: int,
    keys: tuple,
):
    """Ensemble from ``(setup.theta0, v = 0)``, projections recorded each step (eq. 5, Fig. 2)."""
    problem = _problem(setup, kind, sgd.batch_size)
    return _heavy_ball(
        problem,
        sgd,
        n_paths=n_paths,
        n_steps=n_steps,
        seed=seed_for(seed, *keys, 3),
        theta0=setup.theta0,
        v0=np.zeros(setup.d),
        record=Recording(every=1, basis=basis),
    )
