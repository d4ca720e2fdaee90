"""The runs of the main job and what they measure: per momentum setting, and the sweeps.

For each momentum of the setup (seed 003 Table 2: 0.9 and 0.99), both simulations of
:mod:`.simulate` are run twice: a stationary ensemble (started at the exact stationary law)
for the stationary quantities, the displacement and its exponent, and a transient ensemble
from ``theta0`` for the mean trajectory of eq. 5 (Fig. 2). The sweeps vary lr, batch size and
momentum one at a time around the base setting (Fig. 6). Results are plain dicts of numbers,
curves and :class:`~.estimate.Estimate` objects, consumed by :mod:`.writeup` and :mod:`.figures`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dynlab.hyper import HeavyBall
from dynlab.progress import progress

from .config import BURN_IN_RELAXATIONS
from .estimate import path_average, per_step
from .measure import (
    displacement_estimates,
    exponent_estimate,
    projection_curves,
    stationary_estimates,
)
from .predict import fitted_exponent, mean_projection, phase_space_model, stationary_predictions
from .simulate import KINDS, stationary_run, transient_run

__all__ = ["Sizes", "TRANSIENT_STEPS", "burn_in_steps", "run_setting", "run_sweeps", "sweep_values"]

#: Steps at which the mean trajectory is tabulated (and z-scored).
TRANSIENT_STEPS = (10, 30, 100)


@dataclass(frozen=True)
class Sizes:
    """Ensemble sizes of one run profile."""

    paths: int
    steps: int
    transient_paths: int
    transient_steps: int
    sweep_paths: int
    sweep_steps: int
    sweep_points: int
    burn_in_cap: int
    jackknife_groups: int | None = None
    sweep_fit_steps: int = 60

    @property
    def lags(self) -> tuple:
        """Lags k at which E||Delta_k||^2 is tabulated."""
        return tuple(k for k in (1, 10, 100, 1000, 10000) if k < self.steps) + (self.steps,)

    def fit_lengths(self) -> np.ndarray:
        """Trajectory lengths for the exponent-vs-length plot (seed 003 Fig. 7)."""
        lo = max(12, self.steps // 30)
        return np.unique(np.geomspace(lo, self.steps, 6).round().astype(int))


def burn_in_steps(sgd, cap: int) -> int:
    """``BURN_IN_RELAXATIONS / (1 - spectral radius)`` steps, at most ``cap``."""
    gap = 1.0 - sgd.discrete.spectral_radius
    return int(min(cap, math.ceil(BURN_IN_RELAXATIONS / gap)))


def run_setting(setup, hyper: HeavyBall, sizes: Sizes, seed: int, index: int) -> dict:
    """All runs and predictions for the optimizer ``hyper``."""
    sgd = phase_space_model(setup, hyper)
    low = setup.low_mode
    basis = sgd.q[:, [0, low]]
    mu_proj = sgd.mu @ basis
    loss_mu = float(setup.problem.loss(sgd.mu))
    burn = burn_in_steps(sgd, sizes.burn_in_cap)
    steps = np.arange(1, sizes.steps + 1)
    lengths = sizes.fit_lengths()
    out = {
        "momentum": hyper.momentum,
        "model": sgd,
        "burn_in": burn,
        "predicted": stationary_predictions(sgd, low),
        "steps": steps,
        "displacement_exact": sgd.displacement(steps=steps, exact=True),
        "displacement_sde": sgd.displacement(steps=steps, exact=False),
        "displacement_eq13": sgd.displacement_eq13(steps=steps),
        "lengths": lengths,
        "measured": {},
        "lags": {},
        "displacement": {},
        "exponent_by_length": {},
        "transient": {},
    }
    for curve in ("exact", "sde"):
        D = out[f"displacement_{curve}"]
        out[f"exponent_by_length_{curve}"] = np.array(
            [fitted_exponent(steps[:n], D[:n]) for n in lengths]
        )
    for j, kind in enumerate(KINDS):
        rec = stationary_run(
            setup,
            sgd,
            kind,
            n_paths=sizes.paths,
            n_steps=sizes.steps,
            burn_in=burn,
            basis=basis,
            seed=seed,
            keys=(index, j, 0),
        )
        out["measured"][kind] = stationary_estimates(rec, loss_mu, mu_proj)
        out["lags"][kind] = displacement_estimates(rec, sizes.lags)
        out["displacement"][kind] = per_step(rec.Delta2)
        out["exponent_by_length"][kind] = [
            exponent_estimate(rec, n, sizes.jackknife_groups) for n in lengths
        ]
        if kind == "gaussian":
            out["samples"] = {
                "theta_last": rec.proj_theta[-1] - mu_proj,
                "v_last": rec.proj_v[-1].copy(),
                "theta_path": rec.proj_theta[:, 0] - mu_proj,
                "v_path": rec.proj_v[:, 0].copy(),
            }
        del rec
        trec = transient_run(
            setup,
            sgd,
            kind,
            n_paths=sizes.transient_paths,
            n_steps=sizes.transient_steps,
            basis=basis[:, :1],
            seed=seed,
            keys=(index, j, 1),
        )
        out["transient"][kind] = projection_curves(trec)
    k = np.arange(sizes.transient_steps + 1)
    out["transient_steps"] = k
    out["transient_predicted"] = mean_projection(sgd, k, setup.theta0)
    return out


def sweep_values(setup, points: int) -> dict[str, list]:
    """Hyperparameter values of the sweeps around the base setting (seed 003 Fig. 6 / Table 4)."""
    factors = np.geomspace(0.25, 4.0, points)
    return {
        "lr": [float(setup.lr * f) for f in factors],
        "batch_size": [int(round(setup.batch_size * f)) for f in factors],
        "momentum": [float(m) for m in np.linspace(0.8, 0.99, points)],
    }


def run_sweeps(setup, sizes: Sizes, seed: int) -> dict:
    """Speed and fitted exponent along each sweep: predictions and both simulations.

    The exponent is fitted on the first ``sizes.sweep_fit_steps`` steps (last 2/3 of them),
    before the displacement saturates; the speed is averaged over all ``sizes.sweep_steps``.
    Returns ``{"fit_steps": n, axis: [point, ...], ...}``.
    """
    base = setup.optimizers[0]
    out = {"fit_steps": sizes.sweep_fit_steps}
    fit = np.arange(1, min(sizes.sweep_fit_steps, sizes.sweep_steps) + 1)
    sweeps = sweep_values(setup, sizes.sweep_points)
    bar = progress(total=sum(len(v) for v in sweeps.values()), desc="sweep points", unit="point")
    for a, (axis, values) in enumerate(sweeps.items()):
        points = []
        for i, value in enumerate(values):
            sgd = phase_space_model(setup, base.replace(**{axis: value}))
            point = {
                "value": value,
                "speed_exact": sgd.speed(exact=True),
                "speed_sde": sgd.speed(exact=False),
                "exponent_exact": fitted_exponent(fit, sgd.displacement(steps=fit, exact=True)),
                "exponent_sde": fitted_exponent(fit, sgd.displacement(steps=fit, exact=False)),
                "speed": {},
                "exponent": {},
            }
            burn = burn_in_steps(sgd, sizes.burn_in_cap)
            for j, kind in enumerate(KINDS):
                rec = stationary_run(
                    setup,
                    sgd,
                    kind,
                    n_paths=sizes.sweep_paths,
                    n_steps=sizes.sweep_steps,
                    burn_in=burn,
                    basis=None,
                    seed=seed,
                    keys=(100 + a, i, j),
                )
                point["speed"][kind] = path_average(rec.delta2)
                point["exponent"][kind] = exponent_estimate(rec, fit.size, sizes.jackknife_groups)
            points.append(point)
            bar.update(1)
        out[axis] = points
    bar.close()
    return out
