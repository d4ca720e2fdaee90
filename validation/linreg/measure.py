"""Measured values of the predicted quantities, from the records of the zoo's ensembles.

Keys match :func:`validation.linreg.predict.stationary_predictions`. Each estimator and its
standard error is documented in :mod:`validation.linreg.estimate` (per-path reductions,
standard errors across independent paths).
"""

from __future__ import annotations

import numpy as np

from .estimate import Estimate, jackknife, path_average, per_step, ratio_of_averages
from .predict import fitted_exponents

__all__ = [
    "stationary_estimates",
    "displacement_estimates",
    "exponent_estimate",
    "projection_curves",
]


def stationary_estimates(rec, loss_at_mu: float, mu_proj) -> dict[str, Estimate]:
    """Stationary quantities from a record projected on ``[q_1, q_low]``.

    ``speed``: per-path time average of ``||theta_k - theta_{k-1}||^2``; ``potential``: of
    ``L(theta_k) - L(mu)``; variances and the covariance: of products of the projections
    ``<theta_k - mu, q_i>``, ``<v_k, q_i>`` (the mean is known: mu and 0); ratios: delta method.
    """
    th = rec.proj_theta - np.asarray(mu_proj)
    v = rec.proj_v
    return {
        "speed": path_average(rec.delta2),
        "potential": path_average(rec.loss - loss_at_mu),
        "var_theta_1": path_average(th[..., 0] ** 2),
        "var_theta_low": path_average(th[..., 1] ** 2),
        "var_v_1": path_average(v[..., 0] ** 2),
        "var_v_low": path_average(v[..., 1] ** 2),
        "cov_theta_v_1": path_average(th[..., 0] * v[..., 0]),
        "isotropy": ratio_of_averages(th[..., 1] ** 2, th[..., 0] ** 2),
        "velocity_shape": ratio_of_averages(v[..., 1] ** 2, v[..., 0] ** 2),
    }


def displacement_estimates(rec, lags) -> dict[int, Estimate]:
    """``E||theta_k - theta_0||^2`` at each lag k: one value per path (row k of ``Delta2``)."""
    row = {int(s): r for r, s in enumerate(rec.steps)}
    return {int(k): path_average(rec.Delta2[row[int(k)]]) for k in lags}


def exponent_estimate(rec, n_rows: int | None = None, groups: int | None = None) -> Estimate:
    """Exponent c of the ensemble-mean ``||Delta_k||^2 ~ k^c`` over the first ``n_rows`` rows.

    Fitted on the last 2/3 of those rows (seed 003 app. H.2); standard error by the
    jackknife over paths (delete-one by default, see :func:`.estimate.jackknife`).
    """
    n = rec.steps.shape[0] if n_rows is None else n_rows
    steps = rec.steps[:n]
    return jackknife(
        rec.Delta2[:n], lambda curves: fitted_exponents(steps, curves), groups, columns=True
    )


def projection_curves(rec, i: int = 0) -> dict[str, np.ndarray]:
    """Ensemble mean and standard error of ``<theta_k, q_i>``, ``<v_k, q_i>`` at every step.

    Also path 0's own values and the number of paths.
    """
    th_mean, th_se = per_step(rec.proj_theta[..., i])
    v_mean, v_se = per_step(rec.proj_v[..., i])
    return {
        "theta_mean": th_mean,
        "theta_se": th_se,
        "v_mean": v_mean,
        "v_se": v_se,
        "theta_path": rec.proj_theta[:, 0, i].copy(),
        "v_path": rec.proj_v[:, 0, i].copy(),
        "paths": rec.proj_theta.shape[1],
    }
