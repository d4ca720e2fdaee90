"""Minibatch rows of the main job: the exact finite-data moments against the real optimizer.

On a small finite data set (:data:`N_SAMPLES` rows, :data:`DIM` features) heavy-ball SGD with
weight decay is simulated by the integrator zoo with each sampling mode (``run(...,
sampling=...)``), started at ``theta*`` and burnt in, and compared with

* the exact moments of :class:`dynlab.minibatch.MinibatchSGD` (independent batches: drawn
  with or without replacement afresh each step) -- EXACT, gated by |z|;
* the additive-Gaussian model of :class:`dynlab.sgd.SGDPhaseSpace` with the per-sample gradient
  covariance Sigma estimated at ``theta*`` (scaled by the finite-population factor without
  replacement) -- its percentage error is shown beside each row: what the old model misses;
* Yaida's fluctuation-dissipation relation (:func:`dynlab.stationarity.fluctuation_dissipation`,
  ``center = theta*``) with the gradient the optimizer applied (exact at stationarity in every
  mode; under reshuffling over whole epochs) and with the full gradient (exact for independent
  batches; violated under reshuffling, where the batch noise depends on the epoch's past).

Reshuffled runs have no exact moment prediction here: their rows are measured gaps.
Estimates reduce each path to one number and take standard errors across independent paths
(:mod:`.estimate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dynlab.hyper import HeavyBall
from dynlab.integrators import Recording, run
from dynlab.minibatch import FiniteData, MinibatchSGD
from dynlab.models import LinearRegressionProblem, synthetic_regression
from dynlab.ou import SGDPhaseSpace
from dynlab.progress import progress
from dynlab.stationarity import fluctuation_dissipation

from .estimate import Estimate, path_average, per_step
from .simulate import seed_for

__all__ = [
    "Case",
    "MBSizes",
    "CASES",
    "SIZES",
    "TRANSIENT_STEPS",
    "finite_data",
    "stationary_window",
    "run_case",
    "run_cases",
    "batch_sweep",
]

#: The finite data set: rows, features, spectrum decay, label noise and its seed.
N_SAMPLES, DIM, DECAY, NOISE_STD, DATA_SEED = 64, 8, 1.0, 0.5, 13
#: lr = LR_SCALE (1 - beta) / rho_1: the effective step lr / (1 - beta) is the same fraction of
#: the top curvature at every momentum, well inside the mean-square stable region at S = 1.
LR_SCALE = 0.2
#: Relaxation times (1 / (1 - mean-square spectral radius)) of burn-in from theta* and of the
#: measured window (at least the profile's steps).
BURN_RELAXATIONS, MEASURE_RELAXATIONS = 8.0, 30.0
#: Steps at which the transient second moment from theta = 0 is compared.
TRANSIENT_STEPS = (10, 50)


@dataclass(frozen=True)
class Case:
    """One minibatch setting; ``wd_factor`` sets ``weight_decay = wd_factor rho_d``."""

    sampling: str
    momentum: float
    wd_factor: float
    batch_size: int

    @property
    def label(self) -> str:
        return (
            f"{self.sampling}, beta={self.momentum:g}, lambda={self.wd_factor:g} rho_d, "
            f"S={self.batch_size}"
        )


@dataclass(frozen=True)
class MBSizes:
    """Ensemble sizes of the minibatch rows."""

    paths: int
    steps: int
    transient_paths: int
    sweep_paths: int
    sweep_steps: int
    sweep_batch_sizes: tuple


_C = Case
#: Settings per profile: momenta {0, 0.9, 0.99}, weight decay {0, > 0}, batch sizes {1, small,
#: large}, both independent sampling modes, and reshuffling (measured only).
CASES = {
    "quick": (
        _C("with_replacement", 0.0, 0.0, 1),
        _C("without_replacement", 0.9, 1.0, 4),
        _C("with_replacement", 0.99, 1.0, 32),
        _C("reshuffle", 0.9, 0.0, 4),
    ),
    "default": (
        _C("with_replacement", 0.0, 0.0, 1),
        _C("without_replacement", 0.0, 1.0, 32),
        _C("with_replacement", 0.9, 1.0, 4),
        _C("without_replacement", 0.9, 0.0, 4),
        _C("with_replacement", 0.99, 0.0, 32),
        _C("without_replacement", 0.99, 1.0, 1),
        _C("reshuffle", 0.0, 0.0, 32),
        _C("reshuffle", 0.9, 0.0, 4),
    ),
}
SIZES = {
    "quick": MBSizes(
        paths=96,
        steps=600,
        transient_paths=1000,
        sweep_paths=48,
        sweep_steps=400,
        sweep_batch_sizes=(1, 4, 32),
    ),
    "default": MBSizes(
        paths=200,
        steps=1500,
        transient_paths=4000,
        sweep_paths=100,
        sweep_steps=1500,
        sweep_batch_sizes=(1, 2, 4, 8, 16, 32),
    ),
}


def finite_data():
    """The data set ``(X, y)`` of the minibatch rows (synthetic, fixed seed)."""
    p = synthetic_regression(N_SAMPLES, DIM, decay=DECAY, noise_std=NOISE_STD, seed=DATA_SEED)
    return p.X, p.Y


def _models(X, y, case: Case):
    """``(hyper, exact model or None, additive model, FiniteData)`` of one case."""
    rho = np.linalg.eigvalsh(X.T @ X / X.shape[0])
    wd = case.wd_factor * rho[0]
    hp = HeavyBall(
        lr=LR_SCALE * (1.0 - case.momentum) / rho[-1],
        momentum=case.momentum,
        weight_decay=wd,
        batch_size=case.batch_size,
    )
    data = FiniteData(X, y, weight_decay=wd)
    exact = None if case.sampling == "reshuffle" else MinibatchSGD(data, hp, case.sampling)
    additive = SGDPhaseSpace.from_data(
        X,
        y,
        lr=hp.lr,
        momentum=hp.momentum,
        weight_decay=wd,
        batch_size=hp.batch_size,
        replacement=case.sampling == "with_replacement",
    )
    return hp, exact, additive, data


def _predictions(exact, additive, data, steps) -> dict:
    """The observables of both models: slow-mode variance, excess loss, speed, transients."""
    out = {}
    if exact is not None:
        var = exact.mode_variance()
        second = exact.moments(steps=steps)[1] if len(steps) else ()
        out["exact"] = {
            "slow_var": float(var[-1]),
            "excess_loss": exact.excess_loss(),
            "speed": exact.speed(),
            **{
                f"transient_{k}": float(np.trace(second[i, : data.d, : data.d]))
                for i, k in enumerate(steps)
            },
        }
    d, q = data.d, data.q
    P = additive.discrete.stationary_cov()[:d, :d]
    z_star = np.concatenate([data.theta_star, np.zeros(d)])
    transient = {}
    for k in steps:
        m = additive.discrete.mean(steps=k, z0=np.zeros(2 * d)) - z_star
        transient[f"transient_{k}"] = float(
            m[:d] @ m[:d] + np.trace(additive.discrete.cov(steps=k)[:d, :d])
        )
    out["additive"] = {
        "slow_var": float(q[:, -1] @ P @ q[:, -1]),
        "excess_loss": float(0.5 * np.sum(data.H_lambda * P)),
        "speed": additive.speed(exact=True),
        **transient,
    }
    return out


def _heavy_ball(X, y, hp, case, *, n_paths, n_steps, seed, theta0, v0, record):
    return run(
        "heavy_ball",
        LinearRegressionProblem(X, y),
        n_paths=n_paths,
        n_steps=n_steps,
        seed=seed,
        theta0=theta0,
        v0=v0,
        record=record,
        sampling=case.sampling,
        lr=hp.lr,
        momentum=hp.momentum,
        weight_decay=hp.weight_decay,
        batch_size=hp.batch_size,
    )


def _window(X, hp, case, relaxation: float, min_steps: int) -> tuple[int, int]:
    """Burn-in and measured steps, both whole epochs (reshuffling is periodic in the epoch)."""
    epoch = X.shape[0] // case.batch_size
    burn = math.ceil(BURN_RELAXATIONS * relaxation / epoch) * epoch
    steps = max(min_steps, MEASURE_RELAXATIONS * relaxation)
    return burn, math.ceil(steps / epoch) * epoch


def _stationary(X, y, hp, case, data, n_paths, n_steps, burn, seed, keys, record):
    warm = _heavy_ball(
        X,
        y,
        hp,
        case,
        n_paths=n_paths,
        n_steps=burn,
        seed=seed_for(seed, *keys, 0),
        theta0=data.theta_star,
        v0=None,
        record=Recording(every=burn),
    )
    return _heavy_ball(
        X,
        y,
        hp,
        case,
        n_paths=n_paths,
        n_steps=n_steps + 1,
        seed=seed_for(seed, *keys, 1),
        theta0=warm.theta,
        v0=warm.v,
        record=record,
    )


def _relaxation(exact, additive) -> float:
    """Steps per e-fold of the slowest second-moment mode (mean-square radius if exact)."""
    radius = additive.discrete.spectral_radius**2
    if exact is not None:
        radius = max(radius, exact.spectral_radius())
    return 1.0 / (1.0 - radius)


def stationary_window(X, y, hp, case, data, relax, n_paths, min_steps, seed, keys) -> dict:
    """A stationary ensemble with trajectories over whole epochs, and what every case measures.

    Burns in from ``theta*`` for :data:`BURN_RELAXATIONS` relaxation times ``relax``, then
    records ``n`` steps (plus one, for the applied gradient) with :func:`_window`. Returns
    ``rec``, ``delta = theta - theta*`` (rows: steps 1 .. n + 1), ``burn``, ``n``, the
    estimates of the excess loss and the speed over the window, and Yaida's relation with the
    applied gradient ``beta v_k - v_{k+1}`` and with the full gradient, at ``c = theta*``.
    """
    burn, n = _window(X, hp, case, relax, min_steps)
    rec = _stationary(
        X, y, hp, case, data, n_paths, n, burn, seed, keys, Recording(every=1, trajectories=True)
    )
    delta = rec.theta_path - data.theta_star
    window = delta[:-1]
    g = hp.momentum * rec.v_path[:-1] - rec.v_path[1:]  # the applied gradient incl. weight decay
    full = window @ data.H_lambda  # the full gradient; one GEMM serves the loss too
    return {
        "rec": rec,
        "delta": delta,
        "burn": burn,
        "n": n,
        "measured": {
            "excess_loss": path_average(0.5 * np.sum(full * window, axis=-1)),
            "speed": path_average(rec.delta2[1:]),
        },
        "fdr": {
            "minibatch": fluctuation_dissipation(rec.theta_path, g, hp, center=data.theta_star),
            "full": fluctuation_dissipation(rec.theta_path, full, hp, center=data.theta_star),
        },
    }


def run_case(X, y, case: Case, sizes: MBSizes, seed: int, index: int) -> dict:
    """Simulate one case (stationary and transient ensembles) and predict it."""
    hp, exact, additive, data = _models(X, y, case)
    relax = _relaxation(exact, additive)
    w = stationary_window(X, y, hp, case, data, relax, sizes.paths, sizes.steps, seed, (200, index))
    slow = w["delta"][:-1] @ data.q[:, -1]
    measured = {"slow_var": path_average(slow**2), **w["measured"]}
    burn, n, fdr = w["burn"], w["n"], w["fdr"]
    del w
    trec = _heavy_ball(
        X,
        y,
        hp,
        case,
        n_paths=sizes.transient_paths,
        n_steps=max(TRANSIENT_STEPS),
        seed=seed_for(seed, 200, index, 2),
        theta0=None,
        v0=None,
        record=Recording(every=1, trajectories=True),
    )
    for k in TRANSIENT_STEPS:
        d2 = np.sum((trec.theta_path[k - 1] - data.theta_star) ** 2, axis=-1)
        m, se = per_step(d2[None, :])
        measured[f"transient_{k}"] = Estimate(float(m[0]), float(se[0]))
    return {
        "case": case,
        "hyper": hp,
        "burn_in": burn,
        "steps": n,
        "measured": measured,
        "fdr": fdr,
        **_predictions(exact, additive, data, TRANSIENT_STEPS),
    }


def run_cases(profile: str, seed: int) -> list[dict]:
    """Every case of a profile (``"quick"`` or ``"default"``)."""
    X, y = finite_data()
    cases = CASES[profile]
    return [
        run_case(X, y, c, SIZES[profile], seed, i)
        for i, c in enumerate(progress(cases, desc="minibatch cases", unit="case"))
    ]


def batch_sweep(profile: str, seed: int, momentum: float = 0.9) -> dict:
    """Stationary slow-mode variance against the batch size, per sampling mode: simulated,
    exact (independent modes) and additive model. Returns ``{sampling: [point, ...]}``."""
    X, y = finite_data()
    sizes = SIZES[profile]
    out = {}
    modes = ("with_replacement", "without_replacement", "reshuffle")
    bar = progress(
        total=len(modes) * len(sizes.sweep_batch_sizes), desc="batch sweep", unit="point"
    )
    for a, sampling in enumerate(modes):
        points = []
        for i, S in enumerate(sizes.sweep_batch_sizes):
            case = Case(sampling, momentum, 0.0, S)
            hp, exact, additive, data = _models(X, y, case)
            # the additive model's rate (no mean-square spectral radius: one dense eigenproblem
            # per point); with multiplicative noise relaxation is at most ~20% slower here, so
            # the burn-in bias stays below exp(-BURN_RELAXATIONS / 1.2) of the variance
            burn, n = _window(X, hp, case, _relaxation(None, additive), sizes.sweep_steps)
            rec = _stationary(
                X,
                y,
                hp,
                case,
                data,
                sizes.sweep_paths,
                n,
                burn,
                seed,
                (300 + a, i),
                Recording(every=1, basis=data.q[:, -1:]),
            )
            slow = rec.proj_theta[:-1, :, 0] - data.theta_star @ data.q[:, -1]
            pred = _predictions(exact, additive, data, ())
            points.append(
                {
                    "batch_size": S,
                    "measured": path_average(slow**2),
                    "exact": pred["exact"]["slow_var"] if exact is not None else None,
                    "additive": pred["additive"]["slow_var"],
                }
            )
            bar.update(1)
        out[sampling] = points
    bar.close()
    return out
