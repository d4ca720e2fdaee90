"""Monte Carlo estimators with honest standard errors, from ensembles of independent paths.

Every estimator reduces each path to one number first (a time average along the path, a value
at one step, a path's contribution to a ratio) and takes its standard error ACROSS paths. The
paths are independent and identically distributed, so ``std(ddof=1) / sqrt(M)`` of the
per-path numbers is a valid standard error whatever the autocorrelation along a path; time
averaging only shrinks the per-path variance. Nonlinear functions of ensemble means (ratios,
fitted exponents) use the delta method or a delete-one-group jackknife over paths.

Each :class:`Estimate` also carries the degrees of freedom of its standard error (``M - 1``
from ``M`` paths, ``G - 1`` from ``G`` jackknife groups) and its effective sample size (the
number of independent per-path or per-group numbers), so that a z-score is gated on Student's t
with the right degrees of freedom (:attr:`validation.report.Prediction.z_gate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "path_average", "ratio_of_averages", "per_step", "jackknife"]


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate, its standard error, the error's degrees of freedom and the
    effective sample size (``inf`` / ``None`` when not known)."""

    value: float
    stderr: float
    dof: float = math.inf
    n_eff: float | None = None

    def gate(self) -> dict:
        """``dof`` and ``n_eff`` as keywords of :meth:`validation.report.Report.predict`."""
        return {"dof": self.dof, "n_eff": self.n_eff}


def _per_path(x) -> np.ndarray:
    """Time average of each path: ``x`` of shape (R, M) (rows = recorded steps) -> (M,)."""
    x = np.asarray(x, dtype=np.float64)
    return x.mean(axis=0) if x.ndim == 2 else x


def _mean_se(per_path: np.ndarray) -> Estimate:
    M = per_path.shape[0]
    if M < 2:
        raise ValueError("a standard error needs at least 2 independent paths")
    return Estimate(float(per_path.mean()), float(per_path.std(ddof=1) / np.sqrt(M)), M - 1, M)


def path_average(x) -> Estimate:
    """Estimate of ``E[x]`` at stationarity from ``x`` of shape (R, M) or (M,).

    Per-path time averages over the R rows, then mean and standard error across the M paths.
    """
    return _mean_se(_per_path(x))


def ratio_of_averages(x, y) -> Estimate:
    r"""Estimate of ``E[x] / E[y]`` with the delta-method standard error over paths.

    With per-path averages ``a_m``, ``b_m`` and ``r = mean(a) / mean(b)``:
    ``se^2 = var(a - r b) / (M mean(b)^2)`` (linearisation of the ratio; its bias is O(1/M),
    far below the standard error for the ensembles used here).
    """
    a, b = _per_path(x), _per_path(y)
    r = a.mean() / b.mean()
    M = a.shape[0]
    se = float(np.std(a - r * b, ddof=1) / (np.sqrt(M) * abs(b.mean())))
    return Estimate(float(r), se, M - 1, M)


def per_step(x) -> tuple[np.ndarray, np.ndarray]:
    """Ensemble mean and its standard error at every recorded step: ``x`` (R, M) -> two (R,)."""
    x = np.asarray(x, dtype=np.float64)
    return x.mean(axis=1), x.std(axis=1, ddof=1) / np.sqrt(x.shape[1])


def jackknife(x, statistic, groups: int | None = None, columns: bool = False) -> Estimate:
    r"""Delete-one-group jackknife of ``statistic(ensemble mean of x)`` over paths.

    ``x`` has shape (R, M); the paths are split into ``groups`` contiguous groups (None: one path
    per group, the delete-one jackknife, whose standard error has about M - 1 degrees of freedom;
    few groups give a t-distributed z with heavy tails); ``statistic`` maps an (R,) mean curve to
    a number (e.g. a fitted exponent); with ``columns=True`` it maps an (R, G) array of such
    curves to their G numbers in one call. Returns the full-ensemble value and
    ``se^2 = (G - 1) / G sum_g (s_(-g) - mean s_(-g))^2``.
    """
    x = np.asarray(x, dtype=np.float64)
    M = x.shape[1]
    G = M if groups is None else min(groups, M)
    if G < 2:
        raise ValueError("the jackknife needs at least 2 paths")
    edges = np.linspace(0, M, G + 1).astype(int)
    sums = np.add.reduceat(x, edges[:-1], axis=1)  # (R, G) sum of each group's paths
    total = sums.sum(axis=1, keepdims=True)
    leave_out_means = (total - sums) / (M - np.diff(edges))
    full = total / M
    if columns:
        leave_out, value = statistic(leave_out_means), statistic(full)[0]
    else:
        leave_out = np.array([statistic(leave_out_means[:, g]) for g in range(G)])
        value = statistic(full[:, 0])
    se = np.sqrt((G - 1) / G * np.sum((leave_out - leave_out.mean()) ** 2))
    return Estimate(float(value), float(se), G - 1, G)
