"""Reshuffling rows of the main job: exact epochs of a tiny data set against the simulation.

Random reshuffling has exact moments by :class:`dynlab.minibatch.Reshuffle` (a recursion over the
subsets of the data, so only for a few rows): here :data:`N_SAMPLES` rows and :data:`DIM`
features, ``batch_size`` dividing N. The zoo's ``sampling="reshuffle"`` starts a new epoch at
every multiple of ``M = N / S`` steps of a run, so the state after step ``j M`` is an epoch start.
Compared, at stationarity (burn-in and window in whole epochs, :func:`.minibatch._window`):

* at epoch starts: the raw second moment ``E<theta - theta*, q_d>^2`` along the slowest
  eigenvector and the mean ``E<theta - theta*, q_1>`` (not zero under reshuffling);
* averaged over the positions of an epoch: the excess loss ``mean_j E L_lambda - L_lambda(theta*)
  = lhs / 2`` and the speed ``lr^2 mean_j E||v_{j+1}||^2 = 2 lr rhs / (1 + beta)`` of
  :meth:`dynlab.minibatch.Reshuffle.fdr`, and Yaida's full-gradient relation ``lhs - rhs``, which
  reshuffling violates by the predicted amount.

Beside each: the additive idealisation of the same class (per-sample Hessians replaced by H,
epoch-start mean 0).
"""

from __future__ import annotations

import numpy as np

from dynlab.minibatch import MinibatchSGD, Reshuffle
from dynlab.models import synthetic_regression
from dynlab.progress import progress

from .estimate import path_average
from .minibatch import (
    DATA_SEED,
    DECAY,
    NOISE_STD,
    Case,
    _models,
    _relaxation,
    stationary_window,
)

__all__ = ["N_SAMPLES", "DIM", "RESHUFFLE_CASES", "reshuffle_data", "run_reshuffle_cases"]

#: The tiny data set of the exact reshuffling rows (2^N subsets in the exact recursion).
N_SAMPLES, DIM = 8, 2

#: Settings per profile (sampling is always "reshuffle"; batch sizes divide N_SAMPLES).
RESHUFFLE_CASES = {
    "quick": (Case("reshuffle", 0.0, 0.0, 2), Case("reshuffle", 0.9, 1.0, 4)),
    "default": (
        Case("reshuffle", 0.0, 0.0, 2),
        Case("reshuffle", 0.9, 1.0, 4),
        Case("reshuffle", 0.0, 1.0, 1),
        Case("reshuffle", 0.9, 0.0, 2),
        Case("reshuffle", 0.99, 0.0, 4),
    ),
}
#: Observables of the rows, in report order.
KEYS = ("start_slow_second", "start_mean_1", "excess_loss", "speed")


def reshuffle_data():
    """The data set ``(X, y)`` of the exact reshuffling rows (synthetic, fixed seed)."""
    p = synthetic_regression(N_SAMPLES, DIM, decay=DECAY, noise_std=NOISE_STD, seed=DATA_SEED)
    return p.X, p.Y


def _predict(rs: Reshuffle, exact: bool) -> dict:
    """Epoch-start slow second moment and q_1 mean, epoch-averaged excess loss, speed, FDR."""
    data, hp, d = rs.data, rs.hyper, rs.data.d
    q_d, q_1 = data.q[:, -1], data.q[:, 0]
    if exact:
        m, P = rs.exact_epoch_start()
    else:
        m, P = np.zeros(2 * d), rs.additive_epoch_start()
    fdr = rs.fdr(exact=exact)
    return {
        "start_slow_second": float(q_d @ P[:d, :d] @ q_d),
        "start_mean_1": float(q_1 @ m[:d]),
        "excess_loss": 0.5 * fdr.lhs,
        "speed": 2.0 * hp.lr * fdr.rhs / (1.0 + hp.momentum),
        "fdr_diff": fdr.lhs - fdr.rhs,
        "fdr_ratio": fdr.ratio,
    }


def run_reshuffle_case(X, y, case: Case, sizes, seed: int, index: int) -> dict:
    """Simulate one reshuffling case at stationarity and predict it exactly and additively."""
    hp, _, additive, data = _models(X, y, case)
    rs = Reshuffle(data, hp)
    # relaxation of the independent-batch (without replacement) second moment: the same
    # batch marginal, a proxy for the epoch map's rate
    relax = _relaxation(MinibatchSGD(data, hp, "without_replacement"), additive)
    w = stationary_window(X, y, hp, case, data, relax, sizes.paths, sizes.steps, seed, (400, index))
    starts = w["delta"][rs.M - 1 :: rs.M]  # states after steps M, 2M, ...: epoch starts
    measured = {
        "start_slow_second": path_average((starts @ data.q[:, -1]) ** 2),
        "start_mean_1": path_average(starts @ data.q[:, 0]),
        **w["measured"],
    }
    burn, n, fdr = w["burn"], w["n"], w["fdr"]
    return {
        "case": case,
        "hyper": hp,
        "burn_in": burn,
        "steps": n,
        "measured": measured,
        "fdr": fdr,
        "exact": _predict(rs, exact=True),
        "additive": _predict(rs, exact=False),
    }


def run_reshuffle_cases(profile: str, sizes, seed: int) -> list[dict]:
    """Every reshuffling case of a profile."""
    X, y = reshuffle_data()
    cases = RESHUFFLE_CASES[profile]
    return [
        run_reshuffle_case(X, y, c, sizes, seed, i)
        for i, c in enumerate(progress(cases, desc="reshuffle cases", unit="case"))
    ]
