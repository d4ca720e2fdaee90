"""The stationary drift's slope up to the stability limit (dynlab.energy_band, seed 000).

The negative band next to the stability limit in "step" noise, its absence in "kick" noise, a
Monte Carlo check of one negative secant with the zoo, and dynlab's stationary law against the
closed forms of theory.energy_drift.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynlab import config
from dynlab.energy import LeapfrogQuadratic
from dynlab.energy_band import (
    band_closing_ratio,
    stability_limit,
    stationary_slope,
    stationary_slopes,
)
from dynlab.models import QuadraticProblem
from theory import energy_drift as ted
from theory import leapfrog as tl
from validation.report import Report, exact_gate

UNIT = QuadraticProblem(np.eye(1), noise_cov=np.eye(1))


def _maker(gamma, noise, prob=UNIT, inv_mass=1.0):
    return lambda dt: LeapfrogQuadratic(prob, dt=dt, gamma=gamma, noise=noise, inv_mass=inv_mass)


def _edge_scan(gamma, noise, n=48):
    """Slopes on an even grid from omega dt = 1.5 to 0.999 of the limit (one unit mode)."""
    lim = stability_limit(1.0, gamma)
    xs = np.linspace(1.5, config.STABILITY_EDGE_FRACTION * lim, n)
    return xs, np.array([stationary_slope(_maker(gamma, noise), x, lim) for x in xs]), lim


@settings(max_examples=8, deadline=None)
@given(ratio=st.floats(0.005, 0.1))
def test_step_noise_has_a_negative_slope_below_the_limit(ratio):
    xs, slope, lim = _edge_scan(ratio, "step")
    assert slope.min() < 0.0  # the anti-dissipative band exists
    s = stationary_slopes(UNIT, gamma=ratio, noise="step", n_runup=4, n_dense=24)
    lo, hi = s.band
    assert 1.5 < lo < hi < lim
    # the refined edges are sign changes of the directly computed slope
    f = _maker(ratio, "step")
    d = 1e-3 * (hi - lo)
    assert stationary_slope(f, lo - d, lim) > 0.0 > stationary_slope(f, lo + d, lim)
    if hi < config.STABILITY_EDGE_FRACTION * lim:
        assert stationary_slope(f, hi - d, lim) < 0.0 < stationary_slope(f, hi + d, lim)


@settings(max_examples=8, deadline=None)
@given(ratio=st.floats(0.001, 0.1))
def test_kick_noise_has_no_negative_slope(ratio):
    _, slope, _ = _edge_scan(ratio, "kick")
    assert slope.min() > 0.0
    s = stationary_slopes(UNIT, gamma=ratio, noise="kick", n_runup=6, n_dense=12)
    assert s.band is None and s.min_slope > 0.0


@settings(max_examples=6, deadline=None)
@given(
    k=st.floats(0.1, 10.0),
    m=st.floats(0.1, 10.0),
    s2=st.floats(0.1, 10.0),
    x=st.floats(0.1, 1.9),
    ratio=st.floats(0.01, 1.0),
)
def test_one_mode_slope_depends_only_on_omega_dt_and_gamma_over_omega(k, m, s2, x, ratio):
    w = np.sqrt(k * m)
    lim = stability_limit(1.0, ratio)
    x = min(x, 0.99 * lim)
    prob = QuadraticProblem(np.array([[k]]), noise_cov=np.array([[s2]]))
    a = stationary_slope(_maker(ratio * w, "step", prob, m), x / w, lim / w)
    b = stationary_slope(_maker(ratio, "step"), x, lim)
    # two centred differences of medians integrated to GCHI2_RTOL: rounding ~ 1e-10 / 1e-4,
    # amplified near the limit by the slope's scale (|slope| < 1e3 here)
    assert a == pytest.approx(b, abs=1e-4 * (1 + abs(b)))


@pytest.mark.parametrize("gamma", [1e-3, 0.3, 3.0])
def test_stability_limit_matches_theory_and_the_spectral_radius(gamma):
    w = 1.7
    lim = stability_limit(w, gamma)
    assert lim == pytest.approx(tl.stability_limit(w, gamma), rel=1e-12)
    prob = QuadraticProblem(np.array([[w**2]]), noise_cov=np.eye(1))
    inside = LeapfrogQuadratic(prob, dt=lim * (1 - 1e-6), gamma=gamma).spectral_radius
    outside = LeapfrogQuadratic(prob, dt=lim * (1 + 1e-6), gamma=gamma).spectral_radius
    assert inside < 1.0 < outside


@pytest.mark.montecarlo
def test_monte_carlo_negative_secant_with_the_zoo(tmp_path):
    from validation.energy_stationary import secant_check

    report = Report(tmp_path, "secant")
    out = secant_check(report, n_paths=8000, seed=11)
    # Monte Carlo: sample medians of independent stationary paths; z from their standard errors
    for p in report.predictions:
        assert abs(p.z) < 4.5, p
    assert out["exact"] < 0.0
    assert out["measured"] + 4.5 * out["stderr"] < 0.0  # the zoo sees the negative slope
    assert exact_gate(report, 4.5) == 0


def test_exact_gate_fails_on_a_disagreeing_exact_prediction(tmp_path, capsys):
    report = Report(tmp_path, "gate")
    report.predict("agrees", 1.0, 1.1, 0.1, exact=True)
    report.predict("approximation", 1.0, 3.0, 0.1, exact=False)
    assert exact_gate(report, 4.0) == 0
    report.predict("slope", -5.0, 2.0, 1.0, exact=True)
    assert exact_gate(report, 4.0) == 1
    assert "slope" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# Against the sympy derivations of theory.energy_drift
# ---------------------------------------------------------------------------------------------


@settings(max_examples=10, deadline=None)
@given(
    mode=st.sampled_from(["step", "kick"]),
    k=st.floats(0.2, 5.0),
    m=st.floats(0.2, 5.0),
    s2=st.floats(0.1, 5.0),
    frac=st.floats(0.01, 0.999),
    ratio=st.floats(0.001, 3.0),
)
def test_stationary_law_matches_the_closed_form(mode, k, m, s2, frac, ratio):
    w = np.sqrt(k * m)
    gamma = ratio * w
    dt = frac * stability_limit(w, gamma)
    prob = QuadraticProblem(np.array([[k]]), noise_cov=np.array([[s2]]))
    lf = LeapfrogQuadratic(prob, dt=dt, gamma=gamma, inv_mass=m, noise=mode)
    mean, P = lf.stationary()
    ref = ted.stationary_cov(mode, dt, gamma, k, m, np.sqrt(s2))
    # The Lyapunov solution's condition number is ~ 1 / (1 - spectral radius^2)
    cond = 1.0 / (1.0 - lf.spectral_radius**2)
    np.testing.assert_allclose(P, ref, rtol=0, atol=1e3 * config.EPS * cond * np.abs(ref).max())
    var = lf.delta_h_law(mean, P).var
    ref_var = ted.stationary_var_delta_h(mode, dt, gamma, k, m, np.sqrt(s2))
    assert var == pytest.approx(ref_var, rel=1e4 * config.EPS * cond**2)


@pytest.mark.parametrize("mode", ["step", "kick", "fsal"])
def test_shadow_energy_injection_matches_theory(mode):
    k, m, s2, dt = 1.3, 0.7, 0.5, 0.9
    prob = QuadraticProblem(np.array([[k]]), noise_cov=np.array([[s2]]))
    lf = LeapfrogQuadratic(prob, dt=dt, gamma=0.0, inv_mass=m, noise=mode)
    S = np.diag([k * (1 - dt**2 * k * m / 4), m])  # the shadow form (theory.leapfrog)
    m0, P0 = lf.initial_state(np.zeros(1))

    def shadow(n):
        return 0.5 * np.trace(S @ lf.state_law(n, m0, P0)[1][:2, :2])

    # from the second step on, every step adds the same mean shadow energy (gamma = 0)
    gain = shadow(6) - shadow(5)
    ref = ted.injection(mode, dt, k, m, np.sqrt(s2))
    assert gain == pytest.approx(ref, rel=1e3 * config.EPS)
    assert ref > 0.0


@pytest.mark.parametrize("mode", ["step", "kick"])
def test_small_dt_drift_matches_theory(mode):
    for m, s2, g in [(1.0, 1.0, 1.0), (0.5, 2.0, 0.1)]:
        prob = QuadraticProblem(np.eye(1), noise_cov=s2 * np.eye(1))
        dt = 1e-5
        drift = LeapfrogQuadratic(prob, dt=dt, gamma=g, inv_mass=m, noise=mode).stationary_drift()
        # Relative corrections are O(sqrt(dt)) and O(gamma dt): < 1e-2 here.
        assert drift == pytest.approx(ted.small_h_drift(mode, dt, g, m, np.sqrt(s2)), rel=1e-2)


def test_band_closing_agrees_with_the_closed_form_sd():
    g_median = band_closing_ratio("step", bracket=(0.14, 0.17), n_runup=1, n_dense=24)
    g_sd = ted.rms_band_closing()
    # Two statistics of the same stationary law (median of |Delta H| and its sd, the latter in
    # closed form): their band closings differ only by the change of the law's shape across the
    # band (0.35% at development time); a wrong law or slope would move them apart by more
    # than 1%.
    assert g_median == pytest.approx(g_sd, rel=1e-2)
