"""Per-mode closed forms against scipy's expm, numpy's eigenvalues, recursions and series."""

from fractions import Fraction

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given
from hypothesis import strategies as st

from dynlab import config, modes
from dynlab.errors import StabilityRegionError

EPS = config.EPS


def mode_matrix(gamma, omega):
    return np.array([[0.0, -1.0], [omega**2, 2.0 * gamma]])


regimes = st.sampled_from(["over", "critical", "under", "strongly_over"])


@st.composite
def oscillators(draw):
    gamma = draw(st.floats(0.05, 20.0))
    regime = draw(regimes)
    if regime == "critical":
        omega = gamma
    elif regime == "over":
        omega = gamma * draw(st.floats(0.5, 0.999999))
    elif regime == "strongly_over":
        omega = gamma * draw(st.floats(1e-6, 0.1))
    else:
        omega = gamma * draw(st.floats(1.000001, 30.0))
    return gamma, omega


@given(oscillators(), st.floats(0.0, 30.0))
def test_propagator_matches_expm(osc, gt):
    gamma, omega = osc
    t = gt / gamma
    ref = scipy.linalg.expm(-mode_matrix(gamma, omega) * t)
    phi = np.array(modes.mode_propagator(t, gamma, omega)).reshape(2, 2)
    # expm's relative accuracy is ~ eps * ||S t|| (scaling and squaring), 100x margin; entries are
    # compared on the scale of each row of the reference (velocities carry omega, positions 1/omega)
    scale = 1e2 * EPS * (1 + np.linalg.norm(mode_matrix(gamma, omega), 1) * t)
    for i in range(2):
        row_scale = (
            np.abs(ref[i]).max() + np.abs(phi[i]).max() + (omega if i else 1.0) * np.exp(-0.0)
        )
        np.testing.assert_allclose(
            phi[i], ref[i], atol=scale * row_scale * max(1.0, omega, 1 / omega)
        )


def test_critical_damping_is_the_textbook_form_and_continuous():
    gamma, a0, b0 = 1.7, 0.8, -0.3
    t = np.linspace(0.0, 10.0, 101)
    a, b = modes.oscillator_mean(t, gamma, gamma, a0, b0)
    # a(t) = e^{-gamma t} (a0 + (gamma a0 + b0) t) at omega = gamma exactly
    np.testing.assert_allclose(
        a, np.exp(-gamma * t) * (a0 + (gamma * a0 + b0) * t), rtol=4 * EPS, atol=4 * EPS
    )
    np.testing.assert_allclose(
        b, np.exp(-gamma * t) * (b0 - (gamma**2 * a0 + gamma * b0) * t), rtol=8 * EPS, atol=8 * EPS
    )
    # from both sides: omega = gamma (1 +- delta) changes a(t) by O(delta) (derivative ~ t^2),
    # no jump
    for delta in (1e-4, 1e-8, 1e-12):
        for side in (-1, 1):
            a_s, b_s = modes.oscillator_mean(t, gamma, gamma * (1 + side * delta), a0, b0)
            bound = (
                10 * delta * gamma**2 * (1 + t**2) * np.exp(-gamma * t) * (1 + gamma * t) + 10 * EPS
            )
            assert np.all(np.abs(a_s - a) <= bound) and np.all(np.abs(b_s - b) <= gamma * bound)


def test_overdamped_branch_never_overflows():
    # gamma t = 1e4: e^{gamma t} overflows, the slow mode e^{-(gamma - alpha) t} is still O(1)
    gamma, omega, t = 10.0, 0.1, 1e3
    a, b = modes.oscillator_mean(t, gamma, omega, 1.0, 0.0)
    slow = omega**2 / (gamma + np.sqrt(gamma**2 - omega**2))
    assert np.isfinite(a) and np.isfinite(b)
    np.testing.assert_allclose(
        a,
        np.exp(-slow * t)
        * (gamma + np.sqrt(gamma**2 - omega**2))
        / (2 * np.sqrt(gamma**2 - omega**2)),
        rtol=1e-13,
    )


@given(oscillators(), st.floats(1e-12, 0.49))
def test_relaxation_series_keeps_digits_at_small_times(osc, x):
    gamma, omega = osc
    t = x / max(gamma, omega)
    # exact rational Taylor sum of 1 - a(t), a'' + 2 gamma a' + omega^2 a = 0, a(0) = 1, a'(0) = 0
    g, w, tt = Fraction(gamma), Fraction(omega), Fraction(t)
    c = [Fraction(1), Fraction(0)]
    for n in range(40):
        c.append((-2 * g * (n + 1) * c[n + 1] - w * w * c[n]) / ((n + 2) * (n + 1)))
    ref = float(-sum(c[n] * tt**n for n in range(2, 42)))
    # series of 30 terms at max(gamma, omega) t < 0.5: truncation << eps; rounding of t, gamma,
    # omega
    np.testing.assert_allclose(modes.relaxation(t, gamma, omega), ref, rtol=50 * EPS)


@given(oscillators(), st.floats(0.5, 40.0))
def test_relaxation_closed_form_matches_expm(osc, x):
    gamma, omega = osc
    t = x / max(gamma, omega)
    ref = 1.0 - scipy.linalg.expm(-mode_matrix(gamma, omega) * t)[0, 0]
    # the reference subtracts from 1: absolute error ~ eps * ||S t||; relative to a value >= ~0.05
    assert abs(modes.relaxation(t, gamma, omega) - ref) <= 1e3 * EPS * (
        1 + np.abs(mode_matrix(gamma, omega)).max() * t
    ) * max(1, 1 / omega)


# ---------------------------------------------------------------------------- discrete recursion


@st.composite
def discrete_modes(draw):
    beta = draw(st.one_of(st.just(0.0), st.floats(0.0, 0.999)))
    e = (
        draw(st.floats(1e-6, 0.999)) * 2 * (1 + beta)
    )  # lr (rho + lambda) inside the stability region
    return 1.0 + beta - e, beta


@given(discrete_modes(), st.integers(0, 200))
def test_discrete_s_matches_recursion(mode, m):
    a, beta = mode
    s = [0.0, 1.0]
    for _ in range(m):
        s.append(a * s[-1] - beta * s[-2])
    # forward recursion and closed form both err by ~ m eps |s|_max
    scale = max(abs(v) for v in s[: m + 1]) * (m + 1)
    assert abs(modes.discrete_s(m, a, beta) - s[m]) <= 50 * EPS * scale + 1e-300


def test_discrete_s_through_the_double_root():
    # a^2 = 4 beta exactly: s_m = m r^{m-1}, r = a / 2; and continuity on both sides
    beta = 0.81
    a = 2 * np.sqrt(beta)
    m = np.arange(0, 60)
    np.testing.assert_allclose(
        modes.discrete_s(m, a, beta), m * (a / 2) ** (m - 1.0), rtol=100 * EPS
    )
    for delta in (1e-6, 1e-10, 1e-14):
        for side in (-1, 1):
            s = modes.discrete_s(m, a * (1 + side * delta), beta)
            np.testing.assert_allclose(
                s, m * (a / 2) ** (m - 1.0), rtol=10 * m.max() ** 2 * max(delta, EPS)
            )


@given(st.floats(1e-6, 2.0), st.floats(0.0, 0.999), st.floats(0.0, 1.0), st.integers(0, 60))
def test_discrete_propagator_matches_matrix_power(rho, beta, wd, m):
    lr = 1.9 * (1 + beta) / (rho + wd) * 0.5
    k = rho + wd
    F = np.array([[1 - lr * k, lr * beta], [-k, beta]])
    ref = np.linalg.matrix_power(F, m)
    got = np.array(
        modes.discrete_propagator(m, rho, lr=lr, momentum=beta, weight_decay=wd)
    ).reshape(2, 2)
    scale = max(1.0, np.abs(F).max()) ** 2 * (m + 1) * max(1.0, np.abs(ref).max())
    np.testing.assert_allclose(got, ref, atol=100 * EPS * scale)


@given(
    st.floats(1e-8, 0.999), st.floats(0.0, 0.999), st.sampled_from([1, 2, 3, 17, 4096, 4097, 10**5])
)
def test_discrete_relaxation_recursion_and_closed_form_agree(e_frac, beta, m):
    rho = e_frac * 2 * (1 + beta) * 0.999
    u = modes.discrete_relaxation(np.array([m]), np.array([rho]), lr=1.0, momentum=beta)[0, 0]
    # independent: 1 - Cov(theta_0, theta_m) / Var(theta) from the AR(2) autocorrelation,
    # r_m = s_m a / (1 + beta) - beta s_{m-1}; u_1 = e / (1 + beta) exactly
    a = 1 + beta - rho
    s = modes.discrete_s(np.array([m, m - 1]), a, beta)
    ref = 1.0 - (a / (1 + beta)) * s[0] + beta * s[1]
    # the closed-form reference cancels against 1: absolute error ~ eps * m
    assert abs(u - ref) <= 100 * EPS * m
    if m == 1:
        assert u == pytest.approx(rho / (1 + beta), rel=4 * EPS)


@given(st.floats(1e-4, 3.0), st.floats(0.0, 0.999), st.floats(0.0, 0.5))
def test_exact_frequencies_are_eigenvalue_angles(rho, beta, wd):
    lr = 0.9 * 2 * (1 + beta) / (rho + wd)
    k = rho + wd
    ev = np.linalg.eigvals(np.array([[1 - lr * k, lr * beta], [-k, beta]]))
    ref = np.max(np.abs(np.angle(ev))) / (2 * np.pi)
    got = modes.mode_frequencies(rho, lr=lr, momentum=beta, weight_decay=wd, exact=True)
    # eigvals of a 2x2 near a double root: angle error ~ sqrt(eps)
    assert abs(got - ref) <= 1e-7


def test_sde_frequency_is_lr_times_damped_omega():
    lr, beta, rho = 0.01, 0.9, np.array([50.0, 1.0, 0.01])
    gamma, omega = modes.sde_rates(rho, lr=lr, momentum=beta)
    f = modes.mode_frequencies(rho, lr=lr, momentum=beta)
    under = omega > gamma
    np.testing.assert_allclose(
        f[under], lr * np.sqrt(omega[under] ** 2 - gamma**2) / (2 * np.pi), rtol=1e-14
    )
    assert np.all(f[~under] == 0.0)


def test_modes_regimes_and_damping_ratio():
    lr, beta = 0.1, 0.9
    rho_c = (1 - beta) ** 2 / (2 * lr * (1 + beta))
    rho = np.array([100 * rho_c, rho_c, 0.01 * rho_c])
    m = modes.Modes.build(rho, np.eye(3), lr=lr, momentum=beta, weight_decay=0.0)
    assert list(m.regime) == ["under", "critical", "over"]
    np.testing.assert_allclose(
        m.zeta, (1 - beta) / np.sqrt(2 * lr * (1 + beta) * rho), rtol=4 * EPS
    )
    assert np.all(m.spectral_radius < 1)


def test_stability_region_is_enforced():
    with pytest.raises(StabilityRegionError, match="2 \\(1 \\+ momentum\\)"):
        modes.discrete_relaxation([1], [10.0], lr=0.5, momentum=0.0)
    with pytest.raises(StabilityRegionError):
        modes.mode_frequencies([1.0], lr=3.9, momentum=0.9, exact=True)
