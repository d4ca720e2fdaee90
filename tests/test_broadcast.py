"""Sweeps over hyperparameters: one SGDPhaseSpace with array-valued HeavyBall fields against the
loop of scalar models it replaces (the independent reference: each scalar model does its own
eigendecomposition and its own closed forms).

Tolerance: both sides evaluate the same elementwise closed forms; they differ only in how the d
per-mode terms are summed (numpy's vecdot vs BLAS dot) and in the eigenvectors' rounding, i.e.
by a few d eps relative -- below 1e-13 for the d <= 8 used here. RTOL = 1e-12 is the agreement
the sweep promises."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynlab.errors import HyperparameterError, StabilityRegionError, UnstableDriftError
from dynlab.hyper import HeavyBall
from dynlab.sgd import SGDPhaseSpace
from dynlab.spectrum import Spectrum

RTOL = 1e-12


def _problem(d, seed, general=True):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((3 * d, d))
    H = X.T @ X / (3 * d)
    Y = rng.standard_normal((3 * d, d))
    Sigma = Y.T @ Y / (3 * d) if general else ("hessian", 0.3)
    return H, rng.standard_normal(d), Sigma


def _loop(H, b, Sigma, hp, method, *args, **kwargs):
    """The scalar models, one per optimizer of the sweep, in the sweep's shape."""
    fields = np.broadcast_arrays(hp.lr, hp.momentum, hp.weight_decay, hp.batch_size)
    out = []
    for lr, beta, wd, S in zip(*(np.ravel(f) for f in fields)):
        m = SGDPhaseSpace(
            H, b, lr=float(lr), momentum=float(beta), weight_decay=float(wd),
            batch_size=int(S), noise_cov=Sigma,
        )  # fmt: skip
        result = getattr(m, method)(*args, **kwargs)
        out.append(dataclasses.astuple(result) if dataclasses.is_dataclass(result) else result)
    return np.reshape(np.array(out), hp.shape + np.shape(out[0]))


def _sweep(H, b, Sigma, hp):
    return SGDPhaseSpace(Spectrum(H), b, hyper=hp, noise_cov=Sigma)


SWEEPS = [
    HeavyBall(lr=np.geomspace(0.01, 0.5, 7), momentum=0.9),
    HeavyBall(lr=[[0.05], [0.2]], momentum=[0.0, 0.5, 0.95], batch_size=4),
    HeavyBall(lr=0.1, momentum=0.7, weight_decay=[0.0, 0.1, 1.0], batch_size=[[1], [8]]),
]


@pytest.mark.parametrize("hp", SWEEPS)
@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("general", [False, True])
def test_sweep_equals_loop(hp, exact, general):
    H, b, Sigma = _problem(5, 1, general)
    sweep = _sweep(H, b, Sigma, hp)
    assert sweep.shape == hp.shape
    ref = _loop(H, b, Sigma, hp, "speed", exact=exact)
    np.testing.assert_allclose(sweep.speed(exact=exact), ref, rtol=RTOL)
    for i, var in enumerate(sweep.mode_variances(exact=exact)):
        ref = _loop(H, b, Sigma, hp, "mode_variances", exact=exact)[..., i, :]
        assert var.shape == hp.shape + (5,)
        np.testing.assert_allclose(var, ref, rtol=RTOL, atol=0.0)
    k = np.array([[1, 3, 40], [7, 2, 400]])  # a 2-D array of lags: result hp.shape + k.shape
    got = sweep.displacement(steps=k, exact=exact)
    assert got.shape == hp.shape + k.shape
    np.testing.assert_allclose(
        got, _loop(H, b, Sigma, hp, "displacement", steps=k, exact=exact), rtol=RTOL
    )
    c = sweep.diffusion_exponent(steps=k, exact=exact)
    np.testing.assert_allclose(
        c, _loop(H, b, Sigma, hp, "diffusion_exponent", steps=k, exact=exact), rtol=RTOL
    )
    e, ref = sweep.equipartition(exact=exact), _loop(H, b, Sigma, hp, "equipartition", exact=exact)
    for j, name in enumerate(("mass", "potential", "kinetic")):
        np.testing.assert_allclose(getattr(e, name), ref[..., j], rtol=RTOL)


@settings(max_examples=40, deadline=None)
@given(
    st.floats(0.0, 0.99),
    st.floats(1e-3, 1.0 - 1e-9),
    st.integers(1, 6),
    st.integers(0, 2**31),
)
def test_sweep_to_the_stability_edge(beta, frac, d, seed):
    """Learning rates up to ``frac`` of the stability limit (the edge scanned finely by
    hypothesis), and through critical damping: the sweep still equals the loop."""
    H, b, Sigma = _problem(d, seed)
    top = np.linalg.eigvalsh(H)[-1]
    lrs = 2 * (1 + beta) / top * np.array([frac, frac * 0.5, frac * 1e-3])
    hp = HeavyBall(lr=lrs, momentum=beta, batch_size=3)
    sweep = _sweep(H, b, Sigma, hp)
    for exact in (False, True):
        np.testing.assert_allclose(
            sweep.speed(exact=exact), _loop(H, b, Sigma, hp, "speed", exact=exact), rtol=RTOL
        )
        np.testing.assert_allclose(
            sweep.displacement(steps=[1, 5], exact=exact),
            _loop(H, b, Sigma, hp, "displacement", steps=[1, 5], exact=exact),
            rtol=RTOL,
        )


def test_stability_mask_and_error_name_the_offender():
    H = np.diag([4.0, 1.0])
    lrs = np.array([0.1, 0.5, 0.9, 0.94, 0.96])  # limit 2 (1 + 0.9) / 4 = 0.95
    ok = Spectrum(H).stable(lr=lrs, momentum=0.9)
    np.testing.assert_array_equal(ok, lrs < 0.95)
    with pytest.raises(StabilityRegionError, match="lr = 0.96 "):
        SGDPhaseSpace(H, hyper=HeavyBall(lr=lrs, momentum=0.9), noise_cov=("hessian", 1.0))
    with pytest.raises(UnstableDriftError, match="singular"):
        SGDPhaseSpace(
            np.diag([1.0, 0.0]), hyper=HeavyBall(lr=[0.1, 0.2]), noise_cov=("hessian", 1.0)
        )


def test_sweep_refuses_matrix_valued_methods_by_name():
    sweep = SGDPhaseSpace(
        np.diag([2.0, 1.0]), hyper=HeavyBall(lr=[0.1, 0.2]), noise_cov=("hessian", 0.5)
    )
    for call in (
        lambda: sweep.ou,
        sweep.lyapunov,
        sweep.decompose,
        lambda: sweep.discrete,
        lambda: sweep.modes,
        lambda: sweep.mean(steps=3, theta0=np.zeros(2)),
        lambda: sweep.displacement_eq13(steps=3),
    ):
        with pytest.raises(HyperparameterError, match=r"SGDPhaseSpace\.\w+ takes one optimizer"):
            call()


def test_one_optimizer_results_stay_python_floats():
    m = SGDPhaseSpace(np.diag([2.0, 1.0]), lr=0.1, noise_cov=("hessian", 0.5))
    assert type(m.speed()) is float and type(m.speed(exact=True)) is float
    assert type(m.equipartition().potential) is float
