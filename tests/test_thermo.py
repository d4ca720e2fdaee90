"""Tests of dynlab.thermo (Sadrtdinov et al. 2025, arXiv:2511.07308).

Exact Gibbs law, thermodynamic identities, simulation.
"""

import json

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import quad

from dynlab.config import EPS
from dynlab.errors import HyperparameterError, ShapeError
from dynlab.thermo import (
    STATISTICS,
    ScaleInvariantSGD,
    VonMisesFisherGibbs,
    axial_sphere_entropy,
    simulate,
    sphere_log_area,
)
from dynlab.thermo.ensemble import _thermo_kernel
from dynlab.thermo.gibbs import _log_iv

dims = st.sampled_from([2, 3, 5, 10, 100, 1000])


# ---------------------------------------------------------------------------------------------
# The exact Gibbs (von Mises-Fisher) law
# ---------------------------------------------------------------------------------------------


@given(nu=st.sampled_from([0.0, 0.5, 1.0, 4.5, 49.0, 499.0, 500.0]), logx=st.floats(-6.0, 9.0))
def test_log_bessel_matches_mpmath(nu, logx):
    x = 10.0**logx
    ref = float(mpmath.log(mpmath.besseli(nu, x)))
    # Rounding: log I is computed to a few eps relative to its magnitude (and to 1e-12 absolute
    # by the Hankel / power series branches, whose truncation errors are below that).
    assert abs(_log_iv(nu, x) - ref) <= 64 * EPS * abs(ref) + 1e-12


@pytest.mark.parametrize("d", [2, 3, 10, 100, 1000])
@pytest.mark.parametrize("T_scale", [0.2, 1.0, 5.0])
def test_vmf_moments_and_entropy_match_quadrature_of_the_marginal(d, T_scale):
    g = VonMisesFisherGibbs(d, field=1.3)
    T = 1.3 * T_scale / d
    # d = 2's log(sin phi) endpoint singularities cap QUADPACK's attainable accuracy at ~1e-9.
    kw = dict(
        limit=400,
        epsabs=0.0,
        epsrel=1e-9 if d == 2 else 1e-11,
        points=[np.arccos(g.mean_cosine(T))],
    )

    def integral(f):
        # t = cos(phi) removes the (1 - t^2)^{-1/2} endpoint singularity of d = 2.
        return quad(
            lambda phi: f(np.cos(phi)) * np.exp(g.cosine_logpdf(np.cos(phi), T)) * np.sin(phi),
            0,
            np.pi,
            **kw,
        )[0]

    # The marginal must be normalised, and its moments and entropy, integrated independently,
    # must equal the Bessel closed forms to the quadrature's accuracy.
    assert integral(lambda t: 1.0) == pytest.approx(1.0, rel=1e-9)
    assert integral(lambda t: t) == pytest.approx(g.mean_cosine(T), rel=1e-9, abs=1e-12)
    assert integral(lambda t: t * t) == pytest.approx(g.second_moment(T), rel=1e-9)
    h_t = integral(lambda t: -g.cosine_logpdf(t, T))
    e_log = integral(lambda t: np.log1p(-t * t))
    S_axial = h_t + sphere_log_area(d - 2) + 0.5 * (d - 3) * e_log
    assert S_axial == pytest.approx(g.entropy(T), rel=1e-8, abs=1e-8 * (1 + abs(h_t)))
    # Thermodynamic consistency F = U - T S, and the energy is E[h t].
    assert g.free_energy(T) == pytest.approx(g.energy(T) - T * g.entropy(T), rel=1e-12, abs=1e-12)


def test_vmf_closed_forms_in_two_and_three_dimensions():
    # d = 3: S = log(4 pi sinh(k) / k) - k coth(k) + 1;
    # d = 2: S = log(2 pi I0(k)) - k I1(k) / I0(k).
    for k in [0.1, 1.0, 7.0, 40.0]:
        g3 = VonMisesFisherGibbs(3)
        S3 = np.log(4 * np.pi * np.sinh(k) / k) - k / np.tanh(k) + 1
        assert g3.entropy(1 / k) == pytest.approx(S3, rel=1e-12)
        g2 = VonMisesFisherGibbs(2)
        i0, i1 = float(mpmath.besseli(0, k)), float(mpmath.besseli(1, k))
        assert g2.entropy(1 / k) == pytest.approx(np.log(2 * np.pi * i0) - k * i1 / i0, rel=1e-12)


@given(d=dims, log_kappa=st.floats(-3.0, 8.0))
def test_thermometer_inverts_the_mean_cosine(d, log_kappa):
    g = VonMisesFisherGibbs(d)
    T = 1.0 / np.exp(log_kappa)
    # brentq to 1e-14 in log kappa; the map is smooth and monotone.
    assert g.temperature_from_mean_cosine(g.mean_cosine(T)) == pytest.approx(T, rel=1e-10)


@pytest.mark.parametrize("d", [3, 30, 300])
def test_ideal_gas_forms_are_the_low_temperature_limit(d):
    g = VonMisesFisherGibbs(d)
    N = 0.5 * (d - 1)
    for kappa_over_d, tol in [(1e2, 1e-2), (1e3, 1e-3)]:
        T = 1.0 / (kappa_over_d * d)
        # Leading corrections are O(d / kappa) relative (Laplace expansion on the sphere).
        # (Much larger kappa is not testable: U + h = h (1 - A_d) cancels to eps kappa / (1 - A_d).)
        assert (g.energy(T) + 1) == pytest.approx(g.energy(T, exact=False) + 1, rel=tol)
        assert g.entropy(T) == pytest.approx(g.entropy(T, exact=False), abs=tol * N)


# ---------------------------------------------------------------------------------------------
# Entropy estimator on exact samples
# ---------------------------------------------------------------------------------------------


@pytest.mark.montecarlo
@pytest.mark.parametrize("d", [2, 3, 50])
def test_axial_entropy_estimator_on_uniform_and_vmf_samples(d):
    rng = np.random.default_rng(d)
    n = 20000
    x = rng.standard_normal((n, d))
    t = x[:, 0] / np.linalg.norm(x, axis=1)
    est = axial_sphere_entropy(t, d)
    # Uniform law: S = log|S^{d-1}|. Monte Carlo: the estimator's sd is ~ sd(log f(t)) / sqrt(n)
    # <= 1.5 / sqrt(n) here (~0.011); 4 sd, plus the k-NN bias O(1/n).
    assert est == pytest.approx(sphere_log_area(d - 1), abs=0.05)
    if d == 3:
        # vMF on S^2: t has density ~ exp(-kappa t) on [-1, 1]: exact inverse-CDF samples.
        kappa = 4.0
        u = rng.uniform(size=n)
        t = -np.log(np.exp(kappa) - u * (np.exp(kappa) - np.exp(-kappa))) / kappa
        assert axial_sphere_entropy(t, 3) == pytest.approx(
            VonMisesFisherGibbs(3).entropy(1 / kappa), abs=0.05
        )


# ---------------------------------------------------------------------------------------------
# The process and its thermodynamic variables
# ---------------------------------------------------------------------------------------------


@given(
    d=dims,
    protocol=st.sampled_from(["sphere", "elr", "lr"]),
    lr=st.floats(1e-4, 1e-1),
    sigma2=st.floats(0.1, 10.0),
    x=st.floats(0.1, 10.0),
)
def test_equation_of_state_and_stationarity(d, protocol, lr, sigma2, x):
    if protocol == "sphere":
        p = ScaleInvariantSGD(d, protocol, lr, sigma2, radius=x)
    else:
        p = ScaleInvariantSGD(d, protocol, lr, sigma2, weight_decay=x)
    # pV = NT with N = (d-1)/2 in every protocol (rounding: a few operations, a few eps).
    assert p.pressure * p.volume == pytest.approx(p.n_dof * p.temperature, rel=16 * EPS)
    # T = effective_lr sigma^2 / 2 and, off the sphere, the SDE's radius drift vanishes at r*:
    # -2 lr_k lambda r^2 + lr_k^2 sigma^2 (d-1) / r^2 = 0, lr_k = effective_lr r^2 (elr) or lr (lr).
    assert p.temperature == pytest.approx(0.5 * p.effective_lr * sigma2, rel=16 * EPS)
    if protocol != "sphere":
        lr_k = p.lr * p.r**2 if protocol == "elr" else p.lr
        drift = -2 * lr_k * x * p.r**2 + lr_k**2 * sigma2 * (d - 1) / p.r**2
        assert abs(drift) <= 64 * EPS * 2 * lr_k * x * p.r**2


def test_discrete_radius_and_pressure_tend_to_the_sde_values():
    g = VonMisesFisherGibbs(10)
    gaps = []
    for lr in [1e-2, 1e-3, 1e-4]:
        T = 0.1
        s2 = 2 * T / lr
        for proto in ["elr", "lr"]:
            p = ScaleInvariantSGD(10, proto, lr, s2, weight_decay=0.9)
            gaps.append(p.discrete_radius(g.grad_sq(T)) / p.r - 1)
        p = ScaleInvariantSGD(10, "sphere", lr, s2, radius=1.0)
        gaps.append(p.discrete_pressure(g.grad_sq(T)) / p.pressure - 1)
    gaps = np.array(gaps).reshape(3, 3)
    # First-order corrections: each 10x smaller lr shrinks the gap 10x (to rounding of the ratio).
    np.testing.assert_allclose(gaps[:-1] / gaps[1:], 10.0, rtol=0.02)
    assert np.all(gaps > 0)


def test_process_errors_name_the_problem():
    with pytest.raises(HyperparameterError, match="protocol"):
        ScaleInvariantSGD(3, "fixed", 0.1, 1.0, weight_decay=1.0)
    with pytest.raises(HyperparameterError, match="radius"):
        ScaleInvariantSGD(3, "sphere", 0.1, 1.0)
    with pytest.raises(HyperparameterError, match="weight_decay > 0"):
        ScaleInvariantSGD(3, "elr", 0.1, 1.0)
    with pytest.raises(ShapeError, match="d must be >= 2"):
        ScaleInvariantSGD(1, "lr", 0.1, 1.0, weight_decay=1.0)
    with pytest.raises(ShapeError, match="m must be"):
        VonMisesFisherGibbs(3).temperature_from_mean_cosine(0.2)


# ---------------------------------------------------------------------------------------------
# Simulation
# ---------------------------------------------------------------------------------------------


@pytest.mark.montecarlo
def test_kernel_one_step_law_matches_a_numpy_reference_step():
    # One step of each protocol from a fixed point, by the kernel (many chains) and by an
    # independent numpy transcription of the update; compare the mean cosine after the step
    # and the mean stretch of the next step (z-scores of two independent Monte Carlo means).
    d, n = 6, 40000
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(d)
    w0 *= 1.7 / np.linalg.norm(w0)
    mu = np.zeros(d)
    mu[0] = 1.0
    h, sigma, lr, wd = 1.0, 3.0, 0.02, 0.5
    for code, proto in enumerate(["sphere", "elr", "lr"]):
        lam = 0.0 if proto == "sphere" else wd
        W = np.tile(w0, (n, 1))
        acc = np.zeros((n, len(STATISTICS)))
        _thermo_kernel(code, W, mu, h, sigma, lr, lam, 1.7, 2, 1, 1, 123, acc, np.zeros((n, 1)))
        r = np.linalg.norm(w0)
        xi = rng.standard_normal((n, d))
        wbar = w0 / r
        noise = (sigma / r) * (xi - np.outer(xi @ wbar, wbar))
        grad = (h / r) * (mu - (mu @ wbar) * wbar)
        step = lr * r * r if proto != "lr" else lr
        w1 = w0 - step * (grad + noise + lam * w0)
        if proto == "sphere":
            w1 *= 1.7 / np.linalg.norm(w1, axis=1, keepdims=True)
        t_ref = w1[:, 0] / np.linalg.norm(w1, axis=1)
        t_acc, r_acc = acc[:, STATISTICS.index("t")], acc[:, STATISTICS.index("r")]
        z = (t_acc.mean() - t_ref.mean()) / np.hypot(t_acc.std(), t_ref.std()) * np.sqrt(n)
        assert abs(z) < 4.5
        r_ref = np.linalg.norm(w1, axis=1)
        assert r_acc.mean() == pytest.approx(
            r_ref.mean(), rel=5 * r_ref.std() / r_ref.mean() / np.sqrt(n) + 1e-12
        )


@pytest.mark.montecarlo
def test_sphere_protocol_stays_on_its_sphere_and_reaches_the_gibbs_law():
    d, T, lr = 3, 1.0 / 3.0, 2e-3
    p = ScaleInvariantSGD(d, "sphere", lr, 2 * T / lr, radius=0.7)
    run = simulate(p, n_chains=64, n_steps=6000, burn_in=2000, seed=1)
    r, r_se = run.mean("r")
    assert r == pytest.approx(0.7, rel=1e-12)  # renormalised every step: rounding only
    g = VonMisesFisherGibbs(d)
    t, t_se = run.mean("t")
    # Monte Carlo (64 independent chains), |z| < 4; the O(lr) bias (~2e-3 relative) is < 0.3 sd.
    assert abs(t - g.mean_cosine(T)) < 4 * t_se
    pr, pr_se = run.pressure()
    assert abs(pr - p.discrete_pressure(g.grad_sq(T))) < 4 * pr_se


@pytest.mark.montecarlo
def test_quick_validation_report_numbers(tmp_path):
    from validation.thermo import main

    assert main(["--quick", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "results.json").read_text())
    preds = res["predictions"]
    assert len(preds) >= 50
    for p in preds:
        # Monte Carlo z-scores of 32-chain ensembles (t-distributed, 31 dof): |z| < 4.5 for every
        # row. The SDE rows carry an O(lr) = O(1e-3) relative bias, well below the quick run's
        # standard errors (the full run resolves it: see docs/thermo.md).
        assert abs(p["z"]) < 4.5, p
    eos = [p for p in preds if p["name"].startswith("pV / (N T)")]
    assert len(eos) == 12 and all(abs(p["measured"] - 1) < 0.02 for p in eos)
    assert (tmp_path / "thermo_eos.png").stat().st_size > 1000
    # Every row is gated, and the exit status 0 above means every gate passed.
    assert len(res["gates"]) == len(preds) and all(g["passed"] for g in res["gates"])


@pytest.mark.montecarlo
def test_quick_validation_exits_nonzero_and_names_a_failed_gate(tmp_path, monkeypatch, capsys):
    import validation.thermo as job

    # A gate of a thousandth of a standard error (and no O(lr) allowance) fails every row
    # whose measured value is not equal to its prediction to 1e-3 s.e.
    monkeypatch.setattr(job, "Z_GATE", 1e-3)
    monkeypatch.setattr(job, "SDE_BIAS_LRS", 0.0)
    assert job.main(["--quick", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "GATE FAILED: T from Gibbs law [sphere, d=3]" in err
    gates = json.loads((tmp_path / "results.json").read_text())["gates"]
    assert sum(not g["passed"] for g in gates) >= len(gates) // 2
    assert "**FAILED** T from Gibbs law" in (tmp_path / "report.md").read_text()


@pytest.mark.parametrize("d", [3, 50])
def test_state_functions_are_thermodynamically_consistent(d):
    # F(T, V) = U - T S on the sphere: -dF/dT|_V = S and -dF/dV|_T = p (the pressure of the
    # equation of state), by central differences of the exact state (truncation O(h^2) ~ 1e-8).
    g = VonMisesFisherGibbs(d, field=0.7)

    def state(T, V):
        return ScaleInvariantSGD(d, "sphere", 1e-3, 2 * T / 1e-3, radius=np.sqrt(2 * V)).state(g)

    T, V, h = 0.05, 0.8, 1e-5
    s0 = state(T, V)
    dF_dT = (state(T * (1 + h), V)["F"] - state(T * (1 - h), V)["F"]) / (2 * h * T)
    dF_dV = (state(T, V * (1 + h))["F"] - state(T, V * (1 - h))["F"]) / (2 * h * V)
    assert -dF_dT == pytest.approx(s0["S"], rel=1e-6, abs=1e-6)
    assert -dF_dV == pytest.approx(s0["p"], rel=1e-6)
    assert s0["G"] == pytest.approx(s0["F"] + s0["p"] * s0["V"], rel=1e-14)
    with pytest.raises(ShapeError, match="Gibbs law"):
        ScaleInvariantSGD(d + 1, "sphere", 1e-3, 1.0, radius=1.0).state(g)
