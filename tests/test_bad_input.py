"""The bad-input catalogue: every public entry point refuses bad arguments with one clear error.

Each case calls a library function (or a validation CLI) with one bad argument and checks the
exception type (``DynlabError`` subclasses; exit status 2 with argparse's one-line message for a
CLI) and that the message names the offending argument. Add a case for every new function.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

from dynlab import config, errors, integrators, minibatch, modes, observables
from dynlab.energy import GeneralizedChi2, LeapfrogQuadratic
from dynlab.hyper import HeavyBall, as_heavy_ball
from dynlab.models import LinearRegressionProblem, QuadraticProblem
from dynlab.ou import OUProcess, SGDPhaseSpace

E = errors
H2 = np.diag([2.0, 1.0])
A2 = [[0.0, -1.0], [2.0, 0.5]]
D2 = [[0.0, 0.0], [0.0, 0.5]]


def _model(**kw):
    args = dict(lr=0.1, momentum=0.9, batch_size=4, noise_cov=0.5 * H2)
    args.update(kw)
    return SGDPhaseSpace(H2, [1.0, 1.0], **args)


def _ou():
    return OUProcess(A2, D2, kappa=2.0)


def _data():
    X = np.random.default_rng(0).standard_normal((6, 2))
    return minibatch.FiniteData(X, X @ [1.0, -1.0])


def _mb():
    """Noisy labels: a non-zero stationary spread, so the displacement is positive."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 2))
    data = minibatch.FiniteData(X, X @ [1.0, -1.0] + rng.standard_normal(6))
    return minibatch.MinibatchSGD(data, HeavyBall(0.1, 0.5, batch_size=2))


def _quad():
    return QuadraticProblem(H2, noise_cov=0.5 * H2)


def _run(**kw):
    args = dict(n_paths=2, n_steps=3, seed=0, lr=0.1, momentum=0.5)
    args.update(kw)
    scheme = args.pop("scheme", "heavy_ball")
    return integrators.run(scheme, _quad(), **{k: v for k, v in args.items() if v is not None})


@dataclass(frozen=True)
class Case:
    id: str
    call: Callable
    error: type[Exception]
    names: str  # the argument the message must name


LIBRARY = [
    # --- dynlab.hyper ---------------------------------------------------------------------
    Case("hyper-lr-zero", lambda: HeavyBall(0.0), E.HyperparameterError, "lr"),
    Case("hyper-lr-nan", lambda: HeavyBall(float("nan")), E.HyperparameterError, "lr"),
    Case("hyper-lr-str", lambda: HeavyBall("0.1"), E.HyperparameterError, "lr"),
    Case("hyper-momentum-one", lambda: HeavyBall(0.1, 1.0), E.HyperparameterError, "momentum"),
    Case("hyper-momentum-neg", lambda: HeavyBall(0.1, -0.1), E.HyperparameterError, "momentum"),
    Case(
        "hyper-wd-neg",
        lambda: HeavyBall(0.1, weight_decay=-1),
        E.HyperparameterError,
        "weight_decay",
    ),
    Case(
        "hyper-batch-zero",
        lambda: HeavyBall(0.1, batch_size=0),
        E.HyperparameterError,
        "batch_size",
    ),
    Case(
        "hyper-batch-float",
        lambda: HeavyBall(0.1, batch_size=2.5),
        E.HyperparameterError,
        "batch_size",
    ),
    Case(
        "hyper-dampening", lambda: HeavyBall(0.1, dampening=1.5), E.HyperparameterError, "dampening"
    ),
    # --- dynlab.ou: SGDPhaseSpace construction -------------------------------------------
    Case(
        "sgd-H-0x0",
        lambda: SGDPhaseSpace(np.zeros((0, 0)), lr=0.1, noise_cov=np.zeros((0, 0))),
        E.ShapeError,
        "H",
    ),
    Case(
        "sgd-H-nonsquare",
        lambda: SGDPhaseSpace(np.ones((2, 3)), lr=0.1, noise_cov=np.eye(2)),
        E.ShapeError,
        "H",
    ),
    Case(
        "sgd-H-1d",
        lambda: SGDPhaseSpace([1.0, 2.0], lr=0.1, noise_cov=np.eye(2)),
        E.ShapeError,
        "H",
    ),
    Case(
        "sgd-H-complex",
        lambda: SGDPhaseSpace(H2 + 1j, lr=0.1, noise_cov=H2),
        E.ArgumentTypeError,
        "H",
    ),
    Case(
        "sgd-H-nan",
        lambda: SGDPhaseSpace([[np.nan, 0], [0, 1]], lr=0.1, noise_cov=H2),
        E.NonFiniteError,
        "H",
    ),
    Case(
        "sgd-H-asym",
        lambda: SGDPhaseSpace([[1, 0.5], [0, 1]], lr=0.1, noise_cov=H2),
        E.NotSymmetricError,
        "H",
    ),
    Case(
        "sgd-H-negative",
        lambda: SGDPhaseSpace(np.diag([1.0, -1.0]), lr=0.1, noise_cov=np.eye(2)),
        E.NotPositiveDefiniteError,
        "H",
    ),
    Case(
        "sgd-H-singular",
        lambda: SGDPhaseSpace(np.diag([1.0, 0.0]), lr=0.1, noise_cov=np.eye(2)),
        E.UnstableDriftError,
        "H + weight_decay I",
    ),
    Case("sgd-b-shape", lambda: SGDPhaseSpace(H2, [1.0], lr=0.1, noise_cov=H2), E.ShapeError, "b"),
    Case(
        "sgd-noise-missing",
        lambda: SGDPhaseSpace(H2, lr=0.1, noise_cov=None),
        E.ShapeError,
        "noise_cov",
    ),
    Case(
        "sgd-noise-shape",
        lambda: SGDPhaseSpace(H2, lr=0.1, noise_cov=np.eye(3)),
        E.ShapeError,
        "noise_cov",
    ),
    Case(
        "sgd-noise-indefinite",
        lambda: SGDPhaseSpace(H2, lr=0.1, noise_cov=np.diag([1.0, -1.0])),
        E.NotPositiveDefiniteError,
        "noise_cov",
    ),
    Case(
        "sgd-lr-unstable",
        lambda: SGDPhaseSpace(H2, lr=1.5, noise_cov=H2),
        E.StabilityRegionError,
        "lr",
    ),
    Case("sgd-lr-missing", lambda: SGDPhaseSpace(H2, noise_cov=H2), E.HyperparameterError, "lr"),
    Case(
        "sgd-hyper-and-lr",
        lambda: SGDPhaseSpace(H2, hyper=HeavyBall(0.1), lr=0.1, noise_cov=H2),
        E.HyperparameterError,
        "hyper",
    ),
    Case(
        "sgd-from-data-batch",
        lambda: SGDPhaseSpace.from_data(np.eye(3), np.ones(3), lr=0.1, batch_size=5),
        E.HyperparameterError,
        "batch_size",
    ),
    Case(
        "sgd-from-data-X",
        lambda: SGDPhaseSpace.from_data(np.ones(3), np.ones(3), lr=0.1),
        E.ShapeError,
        "X",
    ),
    Case(
        "sgd-from-data-Y",
        lambda: SGDPhaseSpace.from_data(np.eye(3), np.ones(4), lr=0.1),
        E.ShapeError,
        "Y",
    ),
    # --- SGDPhaseSpace methods ----------------------------------------------------------
    Case("sgd-speed-exact-str", lambda: _model().speed(exact="no"), E.ArgumentTypeError, "exact"),
    Case("sgd-speed-exact-int", lambda: _model().speed(exact=1), E.ArgumentTypeError, "exact"),
    Case(
        "sgd-stationary-cov-exact",
        lambda: _model().stationary_cov(exact="yes"),
        E.ArgumentTypeError,
        "exact",
    ),
    Case(
        "sgd-equipartition-exact",
        lambda: _model().equipartition(exact=None),
        E.ArgumentTypeError,
        "exact",
    ),
    Case("sgd-displacement-neg", lambda: _model().displacement(steps=-1), E.ShapeError, "steps"),
    Case(
        "sgd-displacement-exact",
        lambda: _model().displacement(steps=3, exact="no"),
        E.ArgumentTypeError,
        "exact",
    ),
    Case(
        "sgd-displacement-nan",
        lambda: _model().displacement(steps=np.nan),
        E.NonFiniteError,
        "steps",
    ),
    Case("sgd-displacement-k", lambda: _model().displacement(k=3), E.ArgumentTypeError, "steps="),
    Case(
        "sgd-displacement-time",
        lambda: _model().displacement(time=0.3),
        E.ArgumentTypeError,
        "steps=",
    ),
    Case(
        "sgd-displacement-missing", lambda: _model().displacement(), E.ArgumentTypeError, "steps="
    ),
    Case(
        "sgd-displacement-twice",
        lambda: _model().displacement(3, steps=3),
        E.ArgumentTypeError,
        "steps",
    ),
    Case("sgd-eq13-frac", lambda: _model().displacement_eq13(steps=2.5), E.ShapeError, "steps"),
    Case("sgd-eq13-k", lambda: _model().displacement_eq13(k=2), E.ArgumentTypeError, "steps="),
    Case("sgd-exponent-zero", lambda: _model().diffusion_exponent(steps=0), E.ShapeError, "steps"),
    Case(
        "sgd-exponent-exact-frac",
        lambda: _model().diffusion_exponent(steps=2.5, exact=True),
        E.ShapeError,
        "steps",
    ),
    Case(
        "sgd-exponent-time",
        lambda: _model().diffusion_exponent(time=1.0),
        E.ArgumentTypeError,
        "steps=",
    ),
    Case(
        "sgd-mean-neg-sde",
        lambda: _model().mean(steps=-50, theta0=np.zeros(2), exact=False),
        E.ShapeError,
        "steps",
    ),
    Case(
        "sgd-mean-neg-exact",
        lambda: _model().mean(steps=-50, theta0=np.zeros(2), exact=True),
        E.ShapeError,
        "steps",
    ),
    Case(
        "sgd-mean-frac-exact",
        lambda: _model().mean(steps=2.5, theta0=np.zeros(2), exact=True),
        E.ShapeError,
        "steps",
    ),
    Case(
        "sgd-mean-theta0",
        lambda: _model().mean(steps=5, theta0=np.zeros(3)),
        E.ShapeError,
        "theta0",
    ),
    Case("sgd-mean-theta0-missing", lambda: _model().mean(steps=5), E.ShapeError, "theta0"),
    Case(
        "sgd-mean-v0",
        lambda: _model().mean(steps=5, theta0=np.zeros(2), v0=np.zeros(3)),
        E.ShapeError,
        "v0",
    ),
    Case(
        "sgd-mean-exact-flag",
        lambda: _model().mean(steps=5, theta0=np.zeros(2), exact="no"),
        E.ArgumentTypeError,
        "exact",
    ),
    Case(
        "sgd-mean-k", lambda: _model().mean(k=5, theta0=np.zeros(2)), E.ArgumentTypeError, "steps="
    ),
    Case(
        "sgd-modified-loss-theta",
        lambda: _model().modified_loss(np.zeros(3), np.zeros(2)),
        E.ShapeError,
        "theta",
    ),
    Case(
        "sgd-modified-loss-v",
        lambda: _model().modified_loss(np.zeros(2), np.zeros(3)),
        E.ShapeError,
        "v",
    ),
    Case(
        "sgd-modified-loss-terms-v",
        lambda: _model().modified_loss_terms(np.zeros(2), np.zeros(5)),
        E.ShapeError,
        "v",
    ),
    Case("sgd-discrete-cov-float", lambda: _model().discrete.cov(steps=2.7), E.ShapeError, "steps"),
    Case("sgd-discrete-cov-neg", lambda: _model().discrete.cov(steps=-1), E.ShapeError, "steps"),
    Case(
        "sgd-discrete-cov-P0",
        lambda: _model().discrete.cov(steps=2, P0=np.eye(3)),
        E.ShapeError,
        "P0",
    ),
    Case(
        "sgd-discrete-cov-time",
        lambda: _model().discrete.cov(time=2.0),
        E.ArgumentTypeError,
        "steps=",
    ),
    Case(
        "sgd-cross-cov-float",
        lambda: _model().discrete.stationary_cross_cov(steps=1.5),
        E.ShapeError,
        "steps",
    ),
    Case(
        "sgd-discrete-mean-z0",
        lambda: _model().discrete.mean(steps=2, z0=np.zeros(3)),
        E.ShapeError,
        "z0",
    ),
    Case(
        "sgd-discrete-mean-k",
        lambda: _model().discrete.mean(k=2, z0=np.zeros(4)),
        E.ArgumentTypeError,
        "steps=",
    ),
    Case(
        "sgd-noise-named-form",
        lambda: SGDPhaseSpace(H2, lr=0.1, noise_cov=("identity", 0.5)),
        E.ShapeError,
        "noise_cov",
    ),
    Case(
        "sgd-noise-named-negative",
        lambda: SGDPhaseSpace(H2, lr=0.1, noise_cov=("hessian", -0.5)),
        E.ShapeError,
        "noise_cov",
    ),
    # --- dynlab.ou: OUProcess --------------------------------------------------------------
    Case("ou-A-0x0", lambda: OUProcess(np.zeros((0, 0)), np.zeros((0, 0))), E.ShapeError, "A"),
    Case("ou-A-nonsquare", lambda: OUProcess(np.ones((2, 3)), D2), E.ShapeError, "A"),
    Case("ou-A-complex", lambda: OUProcess(np.array(A2) + 0j, D2), E.ArgumentTypeError, "A"),
    Case(
        "ou-A-unstable",
        lambda: OUProcess([[-1.0, 0.0], [0.0, 1.0]], np.eye(2)).stationary_cov(),
        E.UnstableDriftError,
        "A",
    ),
    Case("ou-D-shape", lambda: OUProcess(A2, np.eye(3)), E.ShapeError, "D"),
    Case(
        "ou-D-indefinite",
        lambda: OUProcess(A2, np.diag([1.0, -1.0])),
        E.NotPositiveDefiniteError,
        "D",
    ),
    Case("ou-kappa-zero", lambda: OUProcess(A2, D2, kappa=0.0), E.DynlabError, "kappa"),
    Case("ou-mu-shape", lambda: OUProcess(A2, D2, mu=[1.0]), E.ShapeError, "mu"),
    Case("ou-mean-x0", lambda: _ou().mean(time=1.0, x0=np.zeros(3)), E.ShapeError, "x0"),
    Case("ou-mean-x0-missing", lambda: _ou().mean(time=1.0), E.ShapeError, "x0"),
    Case("ou-mean-t-neg", lambda: _ou().mean(time=-1.0, x0=np.zeros(2)), E.DynlabError, "time"),
    Case(
        "ou-mean-steps",
        lambda: _ou().mean(steps=5, x0=np.zeros(2)),
        E.ArgumentTypeError,
        "time=",
    ),
    Case("ou-mean-t-kw", lambda: _ou().mean(t=1.0, x0=np.zeros(2)), E.ArgumentTypeError, "time="),
    Case(
        "ou-mean-time-twice",
        lambda: _ou().mean(1.0, time=1.0, x0=np.zeros(2)),
        E.ArgumentTypeError,
        "time",
    ),
    Case("ou-cov-t-nan", lambda: _ou().cov(time=np.nan), E.DynlabError, "time"),
    Case("ou-cov-missing", lambda: _ou().cov(), E.ArgumentTypeError, "time="),
    Case("ou-cov-steps", lambda: _ou().cov(steps=3), E.ArgumentTypeError, "time="),
    Case("ou-cov-t-kw", lambda: _ou().cov(t=1.0), E.ArgumentTypeError, "time="),
    Case("ou-cov-positional-extra", lambda: _ou().cov(1.0, 2.0), E.ArgumentTypeError, "cov"),
    Case("ou-current-x", lambda: _ou().current(np.zeros(3)), E.ShapeError, "x"),
    Case("ou-potential-x", lambda: _ou().modified_potential(np.zeros(3)), E.ShapeError, "x"),
    Case(
        "ou-sample-x0",
        lambda: _ou().sample(np.zeros(3), time=[1.0], n_paths=4, seed=0),
        E.ShapeError,
        "x0",
    ),
    Case(
        "ou-sample-t",
        lambda: _ou().sample(None, time=[2.0, 1.0], n_paths=4, seed=0),
        E.ShapeError,
        "time",
    ),
    Case(
        "ou-sample-t-kw",
        lambda: _ou().sample(None, t=[1.0], n_paths=4, seed=0),
        E.ArgumentTypeError,
        "time=",
    ),
    Case(
        "ou-sample-steps",
        lambda: _ou().sample(None, steps=[1, 2], n_paths=4, seed=0),
        E.ArgumentTypeError,
        "time=",
    ),
    Case(
        "ou-sample-paths",
        lambda: _ou().sample(None, time=[1.0], n_paths=0, seed=0),
        E.ShapeError,
        "n_paths",
    ),
    Case(
        "ou-sample-paths-missing",
        lambda: _ou().sample(None, time=[1.0], seed=0),
        E.ShapeError,
        "n_paths",
    ),
    Case(
        "ou-sample-paths-float",
        lambda: _ou().sample(None, time=[1.0], n_paths=2.0, seed=0),
        E.ShapeError,
        "n_paths",
    ),
    Case(
        "ou-sample-seed-neg",
        lambda: _ou().sample(None, time=[1.0], n_paths=4, seed=-1),
        E.ArgumentTypeError,
        "seed",
    ),
    Case(
        "ou-sample-seed-str",
        lambda: _ou().sample(None, time=[1.0], n_paths=4, seed="0"),
        E.ArgumentTypeError,
        "seed",
    ),
    Case(
        "ou-sample-seed-float",
        lambda: _ou().sample(None, time=[1.0], n_paths=4, seed=1.5),
        E.ArgumentTypeError,
        "seed",
    ),
    # --- dynlab.modes ----------------------------------------------------------------------
    Case("modes-rates-lr", lambda: modes.sde_rates([1.0], lr=-0.1), E.HyperparameterError, "lr"),
    Case(
        "modes-rates-rho", lambda: modes.sde_rates([1.0 + 1j], lr=0.1), E.ArgumentTypeError, "rho"
    ),
    Case(
        "modes-propagator-t",
        lambda: modes.mode_propagator(np.nan, 1.0, [1.0]),
        E.NonFiniteError,
        "t",
    ),
    Case(
        "modes-relaxation-omega",
        lambda: modes.relaxation(1.0, 1.0, [np.inf]),
        E.NonFiniteError,
        "omega",
    ),
    Case(
        "modes-discrete-relaxation-lr",
        lambda: modes.discrete_relaxation(3, [1.0], lr=0.0),
        E.HyperparameterError,
        "lr",
    ),
    Case(
        "modes-discrete-propagator-mom",
        lambda: modes.discrete_propagator(3, [1.0], lr=0.1, momentum=1.0),
        E.HyperparameterError,
        "momentum",
    ),
    Case(
        "modes-frequencies-exact",
        lambda: modes.mode_frequencies([1.0], lr=0.1, exact="no"),
        E.ArgumentTypeError,
        "exact",
    ),
    Case(
        "modes-variances-sigma2",
        lambda: modes.stationary_mode_variances([1.0, 2.0], [1.0, 2.0, 3.0], lr=0.1),
        E.ShapeError,
        "sigma2",
    ),
    Case(
        "modes-variances-batch",
        lambda: modes.stationary_mode_variances([1.0], [1.0], lr=0.1, batch_size=0),
        E.HyperparameterError,
        "batch_size",
    ),
    Case(
        "modes-oscillator-a0",
        lambda: modes.oscillator_mean(1.0, 1.0, [1.0], np.nan, 0.0),
        E.NonFiniteError,
        "a0",
    ),
    Case(
        "modes-discrete-s-beta", lambda: modes.discrete_s(3, 0.5, np.nan), E.NonFiniteError, "beta"
    ),
    Case(
        "modes-build-q", lambda: modes.Modes.build([1.0, 2.0], np.eye(3), lr=0.1), E.ShapeError, "q"
    ),
    Case(
        "modes-covariances-exact",
        lambda: modes.stationary_mode_covariances([1.0], [1.0], [1.0], lr=0.1, exact=0),
        E.ArgumentTypeError,
        "exact",
    ),
    # --- dynlab.minibatch ------------------------------------------------------------------
    Case("mb-data-X", lambda: minibatch.FiniteData(np.ones(3), np.ones(3)), E.ShapeError, "X"),
    Case("mb-data-y", lambda: minibatch.FiniteData(np.eye(3), np.ones(2)), E.ShapeError, "y"),
    Case(
        "mb-data-wd",
        lambda: minibatch.FiniteData(np.eye(3), np.ones(3), weight_decay=-1.0),
        E.HyperparameterError,
        "weight_decay",
    ),
    Case("mb-sgd-hyper", lambda: minibatch.MinibatchSGD(_data(), 0.1), E.DynlabError, "hyper"),
    Case(
        "mb-sgd-sampling",
        lambda: minibatch.MinibatchSGD(_data(), HeavyBall(0.1), sampling="bogus"),
        E.DynlabError,
        "sampling",
    ),
    Case(
        "mb-factor-batch",
        lambda: minibatch.batch_factor(6, 7, "without_replacement"),
        E.DynlabError,
        "batch_size",
    ),
    Case(
        "mb-factor-N", lambda: minibatch.batch_factor(0, 1, "with_replacement"), E.DynlabError, "N"
    ),
    Case(
        "mb-max-lr-momentum",
        lambda: minibatch.max_stable_lr(_data(), momentum=1.2, batch_size=2),
        E.HyperparameterError,
        "momentum",
    ),
    Case(
        "mb-sharpness-batch",
        lambda: minibatch.noise_sharpness(_data(), batch_size=0),
        E.DynlabError,
        "batch_size",
    ),
    Case(
        "mb-stability-map-batch",
        lambda: minibatch.stability_map(_data(), momentum=0.5, batch_sizes=[0]),
        E.DynlabError,
        "batch_size",
    ),
    Case(
        "mb-crossover-momentum",
        lambda: minibatch.crossover_batch_size(_data(), momentum=-0.5),
        E.HyperparameterError,
        "momentum",
    ),
    Case("mb-reshuffle-hyper", lambda: minibatch.Reshuffle(_data(), "lr"), E.DynlabError, "hyper"),
    Case(
        "mb-fdr-exact",
        lambda: minibatch.reshuffle_fdr_violation(
            _data(), HeavyBall(0.1, batch_size=2), exact="no"
        ),
        E.ArgumentTypeError,
        "exact",
    ),
    Case(
        "mb-data-singular",
        lambda: minibatch.FiniteData(np.ones((4, 2)), np.arange(4.0)),
        E.UnstableDriftError,
        "H + weight_decay I",
    ),
    Case("mb-moments-float", lambda: _mb().moments(steps=2.7), E.ShapeError, "steps"),
    Case("mb-moments-float-whole", lambda: _mb().moments(steps=[1, 2.0]), E.ShapeError, "steps"),
    Case("mb-moments-bool", lambda: _mb().moments(steps=True), E.ShapeError, "steps"),
    Case("mb-moments-neg", lambda: _mb().moments(steps=[3, -1]), E.ShapeError, "steps"),
    Case("mb-moments-2d", lambda: _mb().moments(steps=[[1, 2]]), E.ShapeError, "steps"),
    Case("mb-moments-k", lambda: _mb().moments(k=3), E.ArgumentTypeError, "steps="),
    Case("mb-moments-time", lambda: _mb().moments(time=0.3), E.ArgumentTypeError, "steps="),
    Case("mb-moments-missing", lambda: _mb().moments(), E.ArgumentTypeError, "steps="),
    Case(
        "mb-moments-theta0",
        lambda: _mb().moments(steps=2, theta0=np.zeros(3)),
        E.ShapeError,
        "theta0",
    ),
    Case("mb-displacement-float", lambda: _mb().displacement(steps=2.7), E.ShapeError, "steps"),
    Case("mb-displacement-k", lambda: _mb().displacement(k=3), E.ArgumentTypeError, "steps="),
    Case(
        "mb-displacement-time", lambda: _mb().displacement(time=0.3), E.ArgumentTypeError, "steps="
    ),
    Case(
        "mb-displacement-twice",
        lambda: _mb().displacement(3, steps=3),
        E.ArgumentTypeError,
        "steps",
    ),
    Case("mb-exponent-float", lambda: _mb().diffusion_exponent(steps=2.5), E.ShapeError, "steps"),
    Case("mb-exponent-zero", lambda: _mb().diffusion_exponent(steps=0), E.ShapeError, "steps"),
    Case("mb-exponent-k", lambda: _mb().diffusion_exponent(k=3), E.ArgumentTypeError, "steps="),
    Case(
        "mb-reshuffle-moments-float",
        lambda: minibatch.Reshuffle(_data(), HeavyBall(0.1, batch_size=2)).moments(steps=2.7),
        E.ShapeError,
        "steps",
    ),
    Case(
        "mb-reshuffle-moments-k",
        lambda: minibatch.Reshuffle(_data(), HeavyBall(0.1, batch_size=2)).moments(k=2),
        E.ArgumentTypeError,
        "steps=",
    ),
    # --- dynlab.observables ----------------------------------------------------------------
    Case(
        "obs-ols-shape",
        lambda: observables.ols_loglog([1.0, 2.0, 3.0], [1.0, 2.0]),
        E.ShapeError,
        "y",
    ),
    Case(
        "obs-ols-level",
        lambda: observables.ols_loglog([1, 2, 3], [1, 2, 3], level=1.5),
        E.DynlabError,
        "level",
    ),
    Case(
        "obs-tail",
        lambda: observables.tail_median_abs(np.ones((4, 2)), tail=0.0),
        E.DynlabError,
        "tail",
    ),
    Case(
        "obs-frequencies-dt",
        lambda: observables.dominant_frequencies(np.ones(8), dt=0.0),
        E.DynlabError,
        "dt",
    ),
    Case(
        "obs-frequencies-peaks",
        lambda: observables.dominant_frequencies(np.ones(8), n_peaks=0),
        E.ShapeError,
        "n_peaks",
    ),
    Case(
        "obs-reversibility-steps",
        lambda: observables.reversibility_error(lambda *a: a, np.zeros(2), np.zeros(2), 0),
        E.ShapeError,
        "n_steps",
    ),
    Case(
        "obs-local-exponent",
        lambda: observables.local_exponent([1.0, 2.0], [1.0]),
        E.ShapeError,
        "y",
    ),
    Case(
        "obs-power-law-window",
        lambda: observables.fit_power_law([1, 2, 3, 4], [1, 2, 3, 4], window="bogus"),
        E.DynlabError,
        "window",
    ),
    Case(
        "obs-mean-sem-axis",
        lambda: observables.ensemble_mean_sem(np.ones((3, 2)), axis=1.5),
        E.DynlabError,
        "axis",
    ),
    Case(
        "hyper-as-heavy-ball",
        lambda: as_heavy_ball(HeavyBall(0.1), lr=0.2),
        E.HyperparameterError,
        "hyper",
    ),
    Case("ou-transition-t", lambda: _ou().transition(time=-1.0), E.DynlabError, "time"),
    Case("ou-transition-array", lambda: _ou().transition(time=[1.0, 2.0]), E.ShapeError, "time"),
    Case("ou-transition-steps", lambda: _ou().transition(steps=10), E.ArgumentTypeError, "time="),
    Case("ou-transition-t-kw", lambda: _ou().transition(t=1.0), E.ArgumentTypeError, "time="),
    Case("ou-cross-cov-s", lambda: _ou().cross_cov(time=1.0, time2=np.nan), E.DynlabError, "time2"),
    Case(
        "ou-cross-cov-s-kw", lambda: _ou().cross_cov(time=1.0, s=2.0), E.ArgumentTypeError, "time2="
    ),
    Case("ou-cross-cov-time2-missing", lambda: _ou().cross_cov(time=1.0), E.ShapeError, "time2"),
    Case(
        "ou-cross-cov-steps",
        lambda: _ou().cross_cov(steps=1, time2=2.0),
        E.ArgumentTypeError,
        "time=",
    ),
    Case(
        "ou-stationary-cross-cov-tau",
        lambda: _ou().stationary_cross_cov(time=np.inf),
        E.DynlabError,
        "time",
    ),
    Case(
        "ou-stationary-cross-cov-tau-kw",
        lambda: _ou().stationary_cross_cov(tau=1.0),
        E.ArgumentTypeError,
        "time=",
    ),
    Case(
        "ou-stationary-cross-cov-steps",
        lambda: _ou().stationary_cross_cov(steps=1),
        E.ArgumentTypeError,
        "time=",
    ),
    Case(
        "energy-H-singular",
        lambda: LeapfrogQuadratic(
            QuadraticProblem(np.diag([1.0, 0.0]), noise_cov=np.eye(2)), dt=0.1, gamma=0.1
        ).stationary(),
        E.UnstableDriftError,
        "H + weight_decay I",
    ),
    Case(
        "energy-H-nearly-flat",
        lambda: LeapfrogQuadratic(
            QuadraticProblem(np.diag([1.0, 1e-14]), noise_cov=np.eye(2)), dt=0.1, gamma=0.1
        ).stationary(),
        E.UnstableDriftError,
        "H + weight_decay I",
    ),
    Case("ou-density-x", lambda: _ou().stationary_density(np.zeros(5)), E.ShapeError, "x"),
    # --- dynlab.energy.GeneralizedChi2 ----------------------------------------------------
    Case(
        "gchi2-lam-2d",
        lambda: GeneralizedChi2(np.ones((2, 2)), np.ones(2), 0.0),
        E.ShapeError,
        "lam",
    ),
    Case(
        "gchi2-beta-shape",
        lambda: GeneralizedChi2(np.ones(2), np.ones(3), 0.0),
        E.ShapeError,
        "beta",
    ),
    Case("gchi2-c-nan", lambda: GeneralizedChi2(np.ones(2), np.ones(2), np.nan), E.ShapeError, "c"),
    Case(
        "gchi2-quadratic-cov",
        lambda: GeneralizedChi2.from_quadratic_form(
            np.eye(2), np.zeros(2), 0.0, np.zeros(2), np.eye(3)
        ),
        E.ShapeError,
        "cov",
    ),
    Case(
        "gchi2-sample-seed",
        lambda: GeneralizedChi2(np.ones(2), np.ones(2), 0.0).sample(3, seed=-1),
        E.ArgumentTypeError,
        "seed",
    ),
    # --- dynlab.models and dynlab.integrators.run -----------------------------------------
    Case("quad-H-0x0", lambda: QuadraticProblem(np.zeros((0, 0))), E.ShapeError, "H"),
    Case("linreg-X", lambda: LinearRegressionProblem(np.ones(3), np.ones(3)), E.ShapeError, "X"),
    Case("run-scheme", lambda: _run(scheme="bogus"), E.ShapeError, "scheme"),
    Case("run-paths-zero", lambda: _run(n_paths=0), E.ShapeError, "n_paths"),
    Case("run-steps-float", lambda: _run(n_steps=3.0), E.ShapeError, "n_steps"),
    Case("run-seed-neg", lambda: _run(seed=-1), E.ArgumentTypeError, "seed"),
    Case("run-seed-str", lambda: _run(seed="x"), E.ArgumentTypeError, "seed"),
    Case("run-theta0", lambda: _run(theta0=np.zeros(3)), E.ShapeError, "theta0"),
    Case("run-layout", lambda: _run(layout="grid"), E.ShapeError, "layout"),
    Case("run-unknown-hyper", lambda: _run(beta=0.5), E.HyperparameterError, "beta"),
    Case("run-lr-unstable", lambda: _run(lr=2.0, n_steps=200), E.StabilityRegionError, "lr"),
    Case(
        "run-leapfrog-dt-unstable",
        lambda: _run(scheme="leapfrog", lr=None, momentum=None, dt=3.0, n_steps=200),
        E.StabilityRegionError,
        "dt",
    ),
]


@pytest.mark.parametrize("case", LIBRARY, ids=[c.id for c in LIBRARY])
def test_library_refuses_bad_input(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.DynlabWarning)
        with pytest.raises(case.error) as info:
            case.call()
    assert case.names in str(info.value), str(info.value)


# --- validation CLIs: exit status 2 and argparse's one-line message naming the option ----------
CLI = [
    ("linear_regression", ["--paths", "0"], "--paths"),
    ("linear_regression", ["--steps", "0"], "--steps"),
    ("linear_regression", ["--dim", "0"], "--dim"),
    ("linear_regression", ["--dim", "x"], "--dim"),
    ("linear_regression", ["--batch-size", "0"], "--batch-size"),
    ("linear_regression", ["--n-samples", "0"], "--n-samples"),
    ("linear_regression", ["--lr", "-1"], "--lr"),
    ("linear_regression", ["--lr", "abc"], "--lr"),
    ("linear_regression", ["--momenta", "1.5"], "--momenta"),
    ("linear_regression", ["--lr", "100"], "--lr"),
    ("linear_regression", ["--batch-size", "100000"], "--batch-size"),
    ("linear_regression", ["--seed", "-1"], "--seed"),
    ("linear_regression", ["--data-root", "{missing}"], "--data-root"),
    ("linear_regression", ["--data-root", "{tmp}", "--n-samples", "100"], "--n-samples"),
    ("linear_regression", ["--data-root", "{tmp}", "--column", "12"], "--column"),
    ("linear_regression", ["--out", "{file}/out"], "--out"),
    ("energy_drift", ["--d", "0"], "--d"),
    ("energy_drift", ["--d", "-3"], "--d"),
    ("energy_drift", ["--seed", "-1"], "--seed"),
    ("energy_drift", ["--out", "{file}/out"], "--out"),
    ("symmetry", ["--seed", "-1"], "--seed"),
    ("symmetry", ["--seed", "1.5"], "--seed"),
    ("symmetry", ["--out", "{file}/out"], "--out"),
    ("thermo", ["--seed", "-1"], "--seed"),
    ("thermo", ["--out", "{file}/out"], "--out"),
]


@pytest.mark.parametrize(
    "module, argv, option", CLI, ids=[f"{m}{''.join(a[:1])}-{a[1]}" for m, a, _ in CLI]
)
def test_cli_refuses_bad_option(module, argv, option, tmp_path, capsys):
    import importlib

    (tmp_path / "file").write_text("not a folder")
    paths = dict(missing=tmp_path / "missing", tmp=tmp_path, file=tmp_path / "file")
    argv = [a.format(**paths) for a in argv]
    main = importlib.import_module(f"validation.{module}").main
    with pytest.raises(SystemExit) as info:
        main(["--quick", "--out", str(tmp_path / "run"), *argv])
    assert info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"python -m validation.{module}: error: ")
    assert option in last, last


# --- what is accepted: ill-conditioned but definite, every kind of seed, deprecated forms ----


def test_ill_conditioned_hessian_is_solved_with_a_warning():
    """cond(H) = 1e12 is well posed (smallest eigenvalue >> n eps largest): the model is built,
    with a ConditioningWarning, and its mean is b / rho to the relative accuracy cond * eps."""
    rho = np.array([1.0, 1e-12])
    with pytest.warns(errors.ConditioningWarning, match="condition number 1e\\+12"):
        m = SGDPhaseSpace(np.diag(rho), [1.0, 1.0], lr=0.1, noise_cov=np.eye(2))
    assert np.allclose(m.mu, 1.0 / rho, rtol=1e4 * config.EPS)


def test_singular_hessian_is_refused_relative_to_its_scale():
    """Smallest eigenvalue <= n eps largest: singular, whatever the overall scale."""
    for scale in (1e-20, 1.0, 1e20):
        H = scale * np.diag([1.0, 0.5 * 2 * config.EPS])
        with pytest.raises(errors.UnstableDriftError, match="H \\+ weight_decay I is singular"):
            SGDPhaseSpace(H, lr=0.1 / scale, noise_cov=np.eye(2))


def _diagonal_data(rho, theta):
    """FiniteData with H = diag(rho) exactly (N = d, X = sqrt(N diag(rho))) and y = X theta."""
    X = np.diag(np.sqrt(len(rho) * np.asarray(rho)))
    return minibatch.FiniteData(X, X @ theta)


def test_ill_conditioned_data_hessian_is_solved_with_a_warning():
    """FiniteData: cond(H) = 1e12 is well posed, solved with a ConditioningWarning. H is
    diagonal, so eigh is exact and each component of theta* is a few rounded operations: a
    few eps relative, whatever the condition number (16 eps)."""
    theta = np.array([1.0, -2.0])
    with pytest.warns(errors.ConditioningWarning, match="condition number 1e\\+12"):
        data = _diagonal_data([1.0, 1e-12], theta)
    assert np.allclose(data.theta_star, theta, rtol=16 * config.EPS, atol=0.0)


def test_singular_data_hessian_is_refused_relative_to_its_scale():
    """FiniteData: smallest eigenvalue <= n eps largest is singular, whatever the scale."""
    for scale in (1e-20, 1.0, 1e20):
        with pytest.raises(errors.UnstableDriftError, match="H \\+ weight_decay I is singular"):
            _diagonal_data(scale * np.array([1.0, 0.5 * 2 * config.EPS]), np.ones(2))


@pytest.mark.parametrize("kind", ["int", "generator", "seedsequence"])
def test_every_seed_kind_is_accepted_and_reproducible(kind):
    """Two identical seeds of each kind give identical draws (OU sampling, the zoo, chi-square)."""

    def seed():
        return {
            "int": 7,
            "generator": np.random.default_rng(7),
            "seedsequence": np.random.SeedSequence(7),
        }[kind]

    ou, chi2 = _ou(), GeneralizedChi2(np.ones(2), np.ones(2), 0.0)
    draws = [
        (
            ou.sample(None, time=[0.5], n_paths=3, seed=seed()),
            _run(seed=seed()).theta,
            chi2.sample(3, seed=seed()),
        )
        for _ in range(2)
    ]
    for a, b in zip(*draws):
        assert np.array_equal(a, b)


def test_bare_scalar_noise_cov_is_deprecated_but_means_sigma2_H():
    with pytest.warns(errors.DynlabWarning, match=r"noise_cov=\('hessian', 0.5\)"):
        old = SGDPhaseSpace(H2, lr=0.1, noise_cov=0.5)
    new = SGDPhaseSpace(H2, lr=0.1, noise_cov=("hessian", 0.5))
    assert np.array_equal(old.noise_cov, new.noise_cov)
    assert np.array_equal(new.noise_cov, 0.5 * H2)


def test_positional_step_count_is_deprecated_but_counts_steps():
    m = _model()
    with pytest.warns(errors.DynlabWarning, match="steps="):
        old = m.displacement(5, exact=True)
    assert np.array_equal(old, m.displacement(steps=5, exact=True))


def test_positional_minibatch_step_count_is_deprecated_but_counts_steps():
    sgd = _mb()
    with pytest.warns(errors.DynlabWarning, match="steps="):
        old = sgd.moments([0, 3])
    new = sgd.moments(steps=[0, 3])
    assert all(np.array_equal(a, b) for a, b in zip(old, new))
    with pytest.warns(errors.DynlabWarning, match="steps="):
        old = sgd.diffusion_exponent([1, 4])
    assert np.array_equal(old, sgd.diffusion_exponent(steps=[1, 4]))


def test_positional_sde_time_is_deprecated_but_is_sde_time():
    ou = _ou()
    with pytest.warns(errors.DynlabWarning, match="time="):
        old = ou.cross_cov(0.3, 0.8)
    assert np.array_equal(old, ou.cross_cov(time=0.3, time2=0.8))
    with pytest.warns(errors.DynlabWarning, match="time="):
        old = ou.sample(None, [0.5], 3, seed=7)
    assert np.array_equal(old, ou.sample(None, time=[0.5], n_paths=3, seed=7))


BRIDGE = [
    (["--n-train", "0"], "--n-train"),
    (["--n-test", "-1"], "--n-test"),
    (["--width", "0"], "--width"),
    (["--batch-size", "0"], "--batch-size"),
    (["--top-k", "x"], "--top-k"),
    (["--seed", "-1"], "--seed"),
    (["--data-root", "{missing}"], "--data-root"),
    (["--out", "{file}/out"], "--out"),
]


@pytest.mark.parametrize("argv, option", BRIDGE, ids=[f"{a[0]}-{a[1]}" for a, _ in BRIDGE])
def test_bridge_cli_refuses_bad_option(argv, option, tmp_path, capsys):
    """The ResNet bridge's command line: options and paths checked before any work."""
    pytest.importorskip("torch")
    from validation import resnet_bridge

    (tmp_path / "file").write_text("not a folder")
    paths = dict(missing=tmp_path / "missing", file=tmp_path / "file")
    argv = ["--data-root", str(tmp_path), "--out", str(tmp_path / "run")] + [
        a.format(**paths) for a in argv
    ]
    parser = resnet_bridge.get_args_parser()
    with pytest.raises(SystemExit) as info:
        resnet_bridge.check_paths(parser, parser.parse_args(argv))
    assert info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "error: " in last and option in last, last
